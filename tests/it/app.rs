//! Publishing the web app: `medplum-init app` and the last stage of `deploy`, against the
//! emulator (S3, CloudFront) and a loopback npm registry served by the test.
//!
//! The real `@medplum/app` is not on the package registry these machines reach, so the test
//! builds the package itself, with the published package's layout (kept in step with Medplum's:
//! `package/package.json`, `package/dist/index.html`, `package/dist/assets/*.js|css|map` with the
//! placeholders in the JavaScript, `package/dist/img/`, `package/dist/robots.txt`), and serves
//! it as npm does: `/@medplum/app/<version>` (and `latest`) metadata with `dist.tarball` and
//! `dist.integrity`, then the tarball.
//!
//! The stacks are small templates with the CDK's logical IDs of the app bucket and distribution
//! (`FrontEndAppBucket…`, `FrontEndAppDistribution…`), the way the publish finds them in
//! Medplum's stacks; the full stacks are deployed in deploy_e2e.rs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

use crate::harness::{Moto, cmd, rt, text};

const BUCKET: &str = "app.staging.example.com";
const STACK: &str = "MedplumStagingStack";

/// A package version the stub registry serves.
pub struct Version {
    version: String,
    tgz: Vec<u8>,
    /// Served as `dist.integrity` instead of the tarball's own.
    integrity: Option<String>,
}

/// A loopback npm registry: metadata and tarballs, nothing else; stopped on drop.
pub struct Registry {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    port: u16,
}

impl Registry {
    pub fn start(versions: Vec<Version>, latest: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, halt, base, latest) = (
            requests.clone(),
            stop.clone(),
            url.clone(),
            latest.to_string(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head; GETs have no body.
                let mut h = String::new();
                while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let (status, body) = answer(&versions, &latest, &base, &path);
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        Self {
            url,
            requests,
            stop,
            port,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(versions: &[Version], latest: &str, base: &str, path: &str) -> (&'static str, Vec<u8>) {
    let Some(rest) = path.strip_prefix("/@medplum/app/") else {
        return ("404 Not Found", b"{}".to_vec());
    };
    if let Some(file) = rest.strip_prefix("-/") {
        return versions
            .iter()
            .find(|v| file == format!("app-{}.tgz", v.version))
            .map_or(("404 Not Found", Vec::new()), |v| ("200 OK", v.tgz.clone()));
    }
    let wanted = if rest == "latest" { latest } else { rest };
    match versions.iter().find(|v| v.version == wanted) {
        Some(v) => {
            let meta = json!({
                "name": "@medplum/app",
                "version": v.version,
                "dist": {
                    "tarball": format!("{base}/@medplum/app/-/app-{}.tgz", v.version),
                    "integrity": v.integrity.clone().unwrap_or_else(|| integrity(&v.tgz)),
                    "shasum": "not-checked",
                }
            });
            ("200 OK", meta.to_string().into_bytes())
        }
        None => ("404 Not Found", b"{\"error\":\"not found\"}".to_vec()),
    }
}

fn integrity(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
    )
}

/// The package's files, for `version`: its asset names carry the version as their "hash".
fn app_files(version: &str) -> Vec<(String, Vec<u8>)> {
    let js = format!(
        "const config={{baseUrl:\"__MEDPLUM_BASE_URL__\",clientId:\"__MEDPLUM_CLIENT_ID__\",googleClientId:\"__GOOGLE_CLIENT_ID__\",recaptchaSiteKey:\"__RECAPTCHA_SITE_KEY__\",registerEnabled:\"__MEDPLUM_REGISTER_ENABLED__\"}};console.log(\"{version}\");"
    );
    let h = version.replace('.', "");
    vec![
        (
            "package/package.json".into(),
            format!("{{\"name\":\"@medplum/app\",\"version\":\"{version}\"}}").into_bytes(),
        ),
        (
            "package/dist/index.html".into(),
            format!("<!doctype html><script type=\"module\" src=\"/assets/index-{h}.js\"></script><link rel=\"stylesheet\" href=\"/assets/index-{h}.css\">").into_bytes(),
        ),
        (format!("package/dist/assets/index-{h}.js"), js.into_bytes()),
        (
            format!("package/dist/assets/index-{h}.js.map"),
            b"{\"version\":3,\"mappings\":\"\"}".to_vec(),
        ),
        (
            format!("package/dist/assets/index-{h}.css"),
            b"body{margin:0}".to_vec(),
        ),
        (
            "package/dist/img/medplum-logo.svg".into(),
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ),
        ("package/dist/robots.txt".into(), b"User-agent: *\nDisallow: /\n".to_vec()),
    ]
}

/// A tar.gz of `files`, then `extra` raw entries.
fn tgz(files: &[(String, Vec<u8>)], extra: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, body.as_slice()).unwrap();
    }
    extra(&mut b);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// The package file of `version`, as `npm pack` makes it (for other modules' tests).
pub fn package_tgz(version: &str) -> Vec<u8> {
    tgz(&app_files(version), |_| {})
}

pub fn version(v: &str) -> Version {
    Version {
        version: v.into(),
        tgz: tgz(&app_files(v), |_| {}),
        integrity: None,
    }
}

/// The reference config with the app's values and a server image whose tag is a version.
pub fn write_config(dir: &Path) {
    let mut c: Value = serde_json::from_str(include_str!(
        "../fixtures/reference/medplum.staging.config.json"
    ))
    .unwrap();
    c["region"] = json!("us-east-1");
    c["serverImage"] = json!("medplum/medplum-server:5.0.10");
    c["clientId"] = json!("client-123");
    c["googleClientId"] = json!("google-456.apps.googleusercontent.com");
    c["recaptchaSiteKey"] = json!("recaptcha-789");
    c["registerEnabled"] = json!(true);
    std::fs::write(
        dir.join("medplum.staging.config.json"),
        serde_json::to_string_pretty(&c).unwrap(),
    )
    .unwrap();
    let t = dir.join("templates");
    std::fs::create_dir_all(&t).unwrap();
    let template = json!({"Resources": {
        "FrontEndAppBucket1B8E3F1A": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": BUCKET}
        },
        "FrontEndAppDistribution2C4A9D0E": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": {
                "Enabled": true,
                "DefaultRootObject": "index.html",
                "Origins": [{"Id": "app", "DomainName": format!("{BUCKET}.s3.amazonaws.com"), "S3OriginConfig": {}}],
                "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "redirect-to-https"}
            }}
        }
    }});
    std::fs::write(
        t.join(format!("{STACK}.template.json")),
        template.to_string(),
    )
    .unwrap();
}

/// The binary with `args` and `--dir`, the web app's registry the stub (never skipped).
fn run(
    moto: &Moto,
    dir: &Path,
    registry: Option<&Registry>,
    args: &[&str],
) -> (i32, String, String) {
    let mut c = cmd(dir);
    c.envs(moto.env()).env_remove("MEDPLUM_INIT_SKIP_APP");
    c.args(args)
        .args(["--dir", dir.to_str().unwrap(), "--output", "plain"]);
    if let Some(r) = registry {
        c.args(["--npm-registry", &r.url]);
    }
    let out: Output = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `run`, which must succeed: its stdout and stderr.
fn ok(moto: &Moto, dir: &Path, registry: Option<&Registry>, args: &[&str]) -> (String, String) {
    let (code, out, err) = run(moto, dir, registry, args);
    assert_eq!(code, 0, "{args:?}:\n{out}\n{err}");
    (out, err)
}

/// The stacks deployed without the app (as a deploy with `--skip-app` leaves them).
fn deployed() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    ok(
        &moto,
        dir.path(),
        None,
        &["deploy", "--yes", "--skip-app", "--templates", "templates"],
    );
    (moto, dir)
}

fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let conf = rt().block_on(moto.sdk("us-east-1"));
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

fn keys(moto: &Moto) -> Vec<String> {
    let c = s3(moto);
    rt().block_on(async {
        let out = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    })
}

/// `(content type, cache control, body)` of an object.
fn object(moto: &Moto, key: &str) -> (String, String, String) {
    let c = s3(moto);
    rt().block_on(async {
        let o = c.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        let ct = o.content_type().unwrap_or_default().to_string();
        let cc = o.cache_control().unwrap_or_default().to_string();
        let body = o.body.collect().await.unwrap().into_bytes();
        (ct, cc, String::from_utf8_lossy(&body).into_owned())
    })
}

fn puts(moto: &Moto) -> Vec<(u64, String)> {
    moto.delivery("PutObject")
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn site_keys(v: &str) -> Vec<String> {
    let h = v.replace('.', "");
    let mut k = vec![
        format!("assets/index-{h}.css"),
        format!("assets/index-{h}.js"),
        format!("assets/index-{h}.js.map"),
        "img/medplum-logo.svg".to_string(),
        "index.html".to_string(),
        "robots.txt".to_string(),
    ];
    k.sort();
    k
}

#[test]
fn a_deploy_ends_with_the_app_published_and_a_second_run_uploads_nothing() {
    let registry = Registry::start(vec![version("5.0.10"), version("5.1.0")], "5.1.0");
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let (out, err) = ok(
        &moto,
        dir.path(),
        Some(&registry),
        &["deploy", "--yes", "--templates", "templates"],
    );
    // The server image's tag chose the version, not the registry's latest.
    assert!(
        registry
            .requests()
            .contains(&"/@medplum/app/5.0.10".to_string()),
        "{:?}",
        registry.requests()
    );
    assert!(
        out.contains("app  https://app.staging.example.com/ (@medplum/app 5.0.10)"),
        "{out}"
    );
    assert!(!out.contains("npx") && !out.contains("update-app"), "{out}");
    // The last stage in the deploy's own log: a line per step, the download a line per tenth.
    for line in [
        "Publishing the web app: @medplum/app 5.0.10 from http://127.0.0.1:",
        "  100%  ",
        "  5.0.10 to s3://app.staging.example.com/: 6 to upload, 0 unchanged, 0 to remove",
        "  uploaded 6/6 index.html",
        "✓ web app published",
    ] {
        assert!(err.contains(line), "{line:?} in\n{err}");
    }

    assert_eq!(keys(&moto), site_keys("5.0.10"));
    let (ct, cc, js) = object(&moto, "assets/index-5010.js");
    assert_eq!(ct, "text/javascript; charset=utf-8");
    assert_eq!(cc, "public, max-age=31536000");
    assert!(!js.contains("__"), "every placeholder replaced: {js}");
    for v in [
        "baseUrl:\"https://api.staging.example.com/\"",
        "clientId:\"client-123\"",
        "googleClientId:\"google-456.apps.googleusercontent.com\"",
        "recaptchaSiteKey:\"recaptcha-789\"",
        "registerEnabled:\"true\"",
    ] {
        assert!(js.contains(v), "{v} in {js}");
    }
    let (ct, cc, _) = object(&moto, "index.html");
    assert_eq!(ct, "text/html; charset=utf-8");
    assert_eq!(cc, "no-cache, no-store, must-revalidate");
    assert_eq!(
        object(&moto, "assets/index-5010.css").0,
        "text/css; charset=utf-8"
    );
    assert_eq!(
        object(&moto, "assets/index-5010.js.map").0,
        "application/json"
    );
    assert_eq!(object(&moto, "img/medplum-logo.svg").0, "image/svg+xml");
    assert_eq!(object(&moto, "robots.txt").0, "text/plain; charset=utf-8");

    // index.html after every asset: a visitor never gets an index naming a missing asset.
    let put = puts(&moto);
    assert_eq!(put.len(), 6, "{put:?}");
    assert_eq!(put.last().unwrap().1, "index.html", "{put:?}");
    let inv = moto.delivery("CreateInvalidation");
    assert_eq!(inv.len(), 1, "{inv:?}");
    assert!(inv[0]["seq"].as_u64() > put.last().map(|p| p.0));
    let paths: Vec<&str> = inv[0]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        paths.contains(&"/index.html") && paths.contains(&"/"),
        "{paths:?}"
    );

    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["extra"]["app"]["version"], "5.0.10", "{state}");
    assert_eq!(state["extra"]["app"]["bucket"], BUCKET);

    // Again: the same content is in the bucket, so nothing is uploaded or invalidated.
    let (out, _) = ok(&moto, dir.path(), Some(&registry), &["app"]);
    assert!(
        out.contains(
            "@medplum/app 5.0.10 serves at https://app.staging.example.com/ (already published)"
        ),
        "{out}"
    );
    assert_eq!(puts(&moto).len(), 6);
    assert_eq!(moto.delivery("CreateInvalidation").len(), 1);
    assert!(moto.delivery("DeleteObject").is_empty());
}

#[test]
fn json_output_is_the_publishs_events_then_its_result_on_stdout() {
    let registry = Registry::start(vec![version("5.0.10")], "5.0.10");
    let (moto, dir) = deployed();
    let out = cmd(dir.path())
        .envs(moto.env())
        .env_remove("MEDPLUM_INIT_SKIP_APP")
        .args(["app", "--dir", dir.path().to_str().unwrap()])
        .args(["--output", "json", "--npm-registry", &registry.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let steps: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "app")
        .filter_map(|l| l["app"].as_str())
        .collect();
    let mut seen = steps.clone();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "fetching",
            "download",
            "planned",
            "uploaded",
            "invalidation",
            "finished"
        ],
        "{lines:#?}"
    );
    // One download event per percent at most, not one per chunk.
    assert!(steps.iter().filter(|s| **s == "download").count() <= 101);
    assert_eq!(
        lines.last().unwrap()["event"],
        "app_published",
        "{lines:#?}"
    );
    assert_eq!(lines.last().unwrap()["uploaded"], 6);
}

#[test]
fn a_new_version_removes_the_stale_assets_once_its_index_is_live() {
    let registry = Registry::start(vec![version("5.0.10"), version("5.1.0")], "5.1.0");
    let (moto, dir) = deployed();
    ok(
        &moto,
        dir.path(),
        Some(&registry),
        &["app", "--app-version", "5.0.10"],
    );
    let first = puts(&moto).len();

    // `--dry-run` lists the new version's uploads and removals and writes nothing.
    let (out, _) = ok(
        &moto,
        dir.path(),
        Some(&registry),
        &["app", "--app-version", "latest", "--dry-run"],
    );
    assert!(
        out.contains("@medplum/app 5.1.0 to s3://app.staging.example.com/"),
        "{out}"
    );
    assert!(
        out.contains(
            "put     index.html  (text/html; charset=utf-8; no-cache, no-store, must-revalidate)"
        ),
        "{out}"
    );
    assert!(out.contains("delete  assets/index-5010.js"), "{out}");
    assert_eq!(puts(&moto).len(), first, "a dry run uploads nothing");
    assert_eq!(keys(&moto), site_keys("5.0.10"));

    let (out, _) = ok(
        &moto,
        dir.path(),
        Some(&registry),
        &["app", "--app-version", "latest"],
    );
    assert!(out.contains("@medplum/app 5.1.0 serves at"), "{out}");
    assert_eq!(keys(&moto), site_keys("5.1.0"), "the old assets are gone");
    let put = puts(&moto);
    // The files both versions share unchanged (img, robots.txt) are not uploaded again.
    let second: Vec<&(u64, String)> = put[first..].iter().collect();
    assert_eq!(second.len(), 4, "{second:?}");
    let index_at = second
        .last()
        .filter(|p| p.1 == "index.html")
        .expect("index last")
        .0;
    let deletes = moto.delivery("DeleteObject");
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    assert!(
        deletes
            .iter()
            .all(|d| d["seq"].as_u64().unwrap() > index_at),
        "stale objects are removed only after the new index: {deletes:?}"
    );
    let inv = moto.delivery("CreateInvalidation");
    assert_eq!(inv.len(), 2);
    let paths = inv[1]["paths"].to_string();
    assert!(
        paths.contains("/assets/index-5010.js") && paths.contains("/index.html"),
        "{paths}"
    );
    assert!(
        !paths.contains("robots.txt"),
        "unchanged objects are not invalidated: {paths}"
    );
}

#[test]
fn a_tarball_whose_integrity_does_not_match_is_refused_and_nothing_is_uploaded() {
    let mut v = version("5.0.10");
    v.integrity = Some(integrity(b"another tarball"));
    let registry = Registry::start(vec![v], "5.0.10");
    let (moto, dir) = deployed();
    let (code, out, err) = run(&moto, dir.path(), Some(&registry), &["app"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("does not match its integrity"), "{err}");
    assert!(err.contains("nothing was uploaded"), "{err}");
    assert!(moto.delivery("").is_empty(), "{:?}", moto.delivery(""));
    assert!(keys(&moto).is_empty());
}

#[test]
fn a_tarball_with_a_parent_path_or_a_link_is_refused_and_nothing_is_uploaded() {
    let (moto, dir) = deployed();
    let raw = |name: &'static str, kind: tar::EntryType, link: &'static str| {
        move |b: &mut tar::Builder<Vec<u8>>| {
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_size(0);
            h.set_mode(0o644);
            h.set_entry_type(kind);
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        }
    };
    let cases = [
        (
            "dotdot.tgz",
            tgz(
                &app_files("5.0.10"),
                raw(
                    "package/dist/../../../etc/cron.d/x",
                    tar::EntryType::Regular,
                    "",
                ),
            ),
            "`..`",
        ),
        (
            "symlink.tgz",
            tgz(
                &app_files("5.0.10"),
                raw(
                    "package/dist/passwd",
                    tar::EntryType::Symlink,
                    "/etc/passwd",
                ),
            ),
            "symbolic link",
        ),
    ];
    for (name, bytes, why) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let (code, out, err) = run(
            &moto,
            dir.path(),
            None,
            &["app", "--app-tarball", file.to_str().unwrap()],
        );
        assert_eq!(code, 1, "{name}: {out}\n{err}");
        assert!(
            err.contains("unsafe entry") && err.contains(why),
            "{name}: {err}"
        );
    }
    assert!(moto.delivery("").is_empty());

    // The same package without the bad entry publishes offline.
    let file = dir.path().join("good.tgz");
    std::fs::write(&file, tgz(&app_files("5.0.10"), |_| {})).unwrap();
    let (out, _) = ok(
        &moto,
        dir.path(),
        None,
        &["app", "--app-tarball", file.to_str().unwrap(), "--no-wait"],
    );
    assert!(out.contains("@medplum/app 5.0.10 serves at"), "{out}");
    assert_eq!(keys(&moto), site_keys("5.0.10"));
}

#[test]
fn an_unknown_version_is_a_clear_error() {
    let registry = Registry::start(vec![version("5.0.10")], "5.0.10");
    let (moto, dir) = deployed();
    let (code, _out, err) = run(
        &moto,
        dir.path(),
        Some(&registry),
        &["app", "--app-version", "9.9.9"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("@medplum/app@9.9.9 is not on the npm registry"),
        "{err}"
    );
    assert!(moto.delivery("").is_empty());
}
