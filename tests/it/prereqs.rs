//! The prerequisite steps end to end: the real binary, headless, against moto in server mode.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use medplum_init::crypto::Secret;
use medplum_init::crypto::keypair::{public_pem_of_encrypted, same_public_key};

use crate::harness::{Moto, answers, cmd, kill_install_at, rt, run_against, text};

const MINIMAL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n";

/// What moto holds after a run, read directly through the SDK.
#[derive(Debug, PartialEq)]
struct World {
    /// ARN and domain, per region.
    certs: BTreeMap<String, Vec<(String, String)>>,
    /// CloudFront public keys: id, name, PEM.
    keys: Vec<(String, String, String)>,
    /// `/medplum/<env>/` parameters: name to (value, type, version).
    params: BTreeMap<String, (String, String, i64)>,
}

fn world(moto: &Moto, region: &str, env: &str) -> World {
    rt().block_on(async {
        let mut certs = BTreeMap::new();
        for r in ["us-east-1", region] {
            let acm = aws_sdk_acm::Client::new(&moto.sdk(r).await);
            let list = acm.list_certificates().send().await.unwrap();
            certs.insert(
                r.to_string(),
                list.certificate_summary_list()
                    .iter()
                    .map(|c| {
                        (
                            c.certificate_arn().unwrap().to_string(),
                            c.domain_name().unwrap().to_string(),
                        )
                    })
                    .collect(),
            );
        }
        let cf = aws_sdk_cloudfront::Client::new(&moto.sdk("us-east-1").await);
        let keys = cf.list_public_keys().send().await.unwrap();
        let keys = keys
            .public_key_list()
            .map(|l| {
                l.items()
                    .iter()
                    .map(|k| {
                        (
                            k.id().to_string(),
                            k.name().to_string(),
                            k.encoded_key().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk(region).await);
        let mut params = BTreeMap::new();
        let mut token = None;
        loop {
            let page = ssm
                .get_parameters_by_path()
                .path(format!("/medplum/{env}/"))
                .with_decryption(true)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for p in page.parameters() {
                params.insert(
                    p.name().unwrap().to_string(),
                    (
                        p.value().unwrap().to_string(),
                        p.r#type().unwrap().as_str().to_string(),
                        p.version(),
                    ),
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        World {
            certs,
            keys,
            params,
        }
    })
}

fn config(dir: &Path, env: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("medplum.{env}.config.json"))).unwrap(),
    )
    .unwrap()
}

fn run_ok(moto: &Moto, dir: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec!["--answers", "answers.toml", "--yes"];
    args.extend_from_slice(extra);
    let out = run_against(moto, dir, &args);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "run failed\nstdout:\n{o}\nstderr:\n{e}"
    );
    (o, e)
}

/// Every required server key is there as a SecureString, and the key material is consistent
/// everywhere: SSM's private key decrypts with SSM's passphrase and matches storagePublicKey and
/// the key CloudFront holds under signingKeyId.
fn assert_complete(w: &World, cfg: &serde_json::Value, env: &str) {
    for key in [
        "port",
        "baseUrl",
        "appBaseUrl",
        "storageBaseUrl",
        "binaryStorage",
        "supportEmail",
        "signingKeyId",
        "signingKey",
        "signingKeyPassphrase",
    ] {
        let name = format!("/medplum/{env}/{key}");
        let (_, kind, _) = w
            .params
            .get(&name)
            .unwrap_or_else(|| panic!("{name} missing; have {:?}", w.params.keys()));
        assert_eq!(kind, "SecureString", "{name}");
    }
    for owned in [
        "awsRegion",
        "DatabaseSecrets",
        "RedisSecrets",
        "botLambdaRoleArn",
    ] {
        assert!(
            !w.params.contains_key(&format!("/medplum/{env}/{owned}")),
            "{owned} belongs to the stack"
        );
    }
    let p = |k: &str| w.params[&format!("/medplum/{env}/{k}")].0.clone();
    assert_eq!(p("baseUrl"), "https://api.example.com/");
    assert_eq!(p("storageBaseUrl"), "https://storage.example.com/binary/");
    assert_eq!(
        p("binaryStorage"),
        format!("s3:{}", cfg["storageBucketName"].as_str().unwrap())
    );
    assert_eq!(p("port"), "8103");
    let derived = public_pem_of_encrypted(
        &Secret::new(p("signingKey")),
        &Secret::new(p("signingKeyPassphrase")),
    )
    .expect("SSM key decrypts with SSM passphrase");
    let id = cfg["signingKeyId"].as_str().unwrap();
    assert_eq!(p("signingKeyId"), id);
    assert!(
        same_public_key(&derived, cfg["storagePublicKey"].as_str().unwrap()).unwrap(),
        "storagePublicKey is not the SSM key's public half"
    );
    let cf = w
        .keys
        .iter()
        .find(|(kid, _, _)| kid == id)
        .expect("CloudFront holds signingKeyId");
    assert!(
        same_public_key(&derived, &cf.2).unwrap(),
        "CloudFront holds another key"
    );
}

#[test]
fn full_headless_run_in_us_east_1_then_a_second_run_changes_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    run_ok(&moto, dir.path(), &[]);
    let w = world(&moto, "us-east-1", "staging");
    let cfg = config(dir.path(), "staging");
    assert_complete(&w, &cfg, "staging");
    assert_eq!(w.certs["us-east-1"].len(), 3, "{:?}", w.certs);
    assert_eq!(w.keys.len(), 1);
    for (key, domain) in [
        ("apiSslCertArn", "api.example.com"),
        ("appSslCertArn", "app.example.com"),
        ("storageSslCertArn", "storage.example.com"),
    ] {
        let arn = cfg[key].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:acm:us-east-1:123456789012:certificate/"),
            "{key}={arn}"
        );
        assert!(
            w.certs["us-east-1"].contains(&(arn.to_string(), domain.to_string())),
            "{key} is not the {domain} certificate"
        );
    }
    assert_eq!(cfg["accountNumber"], "123456789012");

    // The second run finds everything in place: no new certificate, key or parameter version.
    let (stdout, _) = run_ok(&moto, dir.path(), &[]);
    assert!(stdout.contains("0 to add, 0 to change"), "{stdout}");
    let again = world(&moto, "us-east-1", "staging");
    assert_eq!(again.certs, w.certs);
    assert_eq!(again.keys, w.keys);
    assert_eq!(again.params, w.params, "a parameter was written again");
    assert_eq!(config(dir.path(), "staging"), cfg);
}

#[test]
fn eu_west_1_puts_the_api_certificate_and_parameters_in_the_region() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(
        dir.path(),
        &MINIMAL.replace("domainName", "region = \"eu-west-1\"\ndomainName"),
    );
    run_ok(&moto, dir.path(), &[]);
    let w = world(&moto, "eu-west-1", "staging");
    let cfg = config(dir.path(), "staging");
    assert_complete(&w, &cfg, "staging");
    assert!(
        cfg["apiSslCertArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:acm:eu-west-1:")
    );
    assert!(
        cfg["appSslCertArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:acm:us-east-1:")
    );
    assert!(
        cfg["storageSslCertArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:acm:us-east-1:")
    );
    assert_eq!(w.certs["eu-west-1"].len(), 1);
    assert_eq!(w.certs["us-east-1"].len(), 2);
    // The server reads its config in its own region: nothing was written to us-east-1.
    assert!(world(&moto, "us-east-1", "staging").params.is_empty());
}

/// [`kill_install_at`], then waits until moto has finished what the killed run left in flight.
fn kill_at(moto: &Moto, dir: &Path, point: &str) -> bool {
    let reached = kill_install_at(moto, dir, point);
    settle(moto);
    reached
}

/// Waits until moto has finished the requests the killed run left in flight: what it holds reads
/// the same twice, half a second apart (at most 20 s).
///
/// A moto gap, not ours: moto checks an ACM idempotency token only after it has generated the
/// certificate (RSA keygen, slow on a loaded machine) and records the token after that, so a
/// request still in flight when the run dies and the re-run's request with the same token can
/// both make a certificate. ACM returns the same certificate for the same token within an hour.
fn settle(moto: &Moto) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut last = world(moto, "us-east-1", "staging");
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = world(moto, "us-east-1", "staging");
        if now == last {
            return;
        }
        last = now;
    }
}

fn assert_converged(moto: &Moto, dir: &Path, point: &str) {
    run_ok(moto, dir, &[]);
    let w = world(moto, "us-east-1", "staging");
    let cfg = config(dir, "staging");
    assert_complete(&w, &cfg, "staging");
    assert_eq!(
        w.certs["us-east-1"].len(),
        3,
        "after a kill at {point}: duplicate certificates {:?}",
        w.certs
    );
    assert_eq!(
        w.keys.len(),
        1,
        "after a kill at {point}: duplicate CloudFront keys {:?}",
        w.keys.iter().map(|k| &k.1).collect::<Vec<_>>()
    );
    for (name, (_, _, version)) in &w.params {
        assert_eq!(
            *version, 1,
            "after a kill at {point}: {name} was written more than once"
        );
    }
    let (stdout, _) = run_ok(moto, dir, &[]);
    assert!(
        stdout.contains("0 to add, 0 to change"),
        "after a kill at {point}: {stdout}"
    );
}

#[test]
fn a_run_killed_at_the_worst_moments_converges_without_duplicates() {
    // Each point is right after AWS accepted a write and before the journal recorded its result.
    // PutParameter #1 and #2 are the key step's passphrase and private key (CloudFront does not
    // know the key yet); #4 is in the middle of the parameters step.
    let points = [
        "acm:RequestCertificate#2",
        "ssm:PutParameter#1",
        "ssm:PutParameter#2",
        "cloudfront:CreatePublicKey",
        "ses:CreateEmailIdentity",
        "ssm:PutParameter#4",
    ];
    std::thread::scope(|s| {
        for point in points {
            s.spawn(move || {
                let moto = Moto::start();
                let dir = tempfile::tempdir().unwrap();
                answers(dir.path(), MINIMAL);
                assert!(
                    kill_at(&moto, dir.path(), point),
                    "the run never reached {point}"
                );
                assert_converged(&moto, dir.path(), point);
            });
        }
    });
}

#[test]
fn a_run_killed_again_and_again_still_converges() {
    // Kills in a row on one account: each run resumes from whatever the previous left behind.
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    let mut reached = 0;
    for point in [
        "ses:CreateEmailIdentity",
        "acm:RequestCertificate",
        "ssm:PutParameter#2",
        "cloudfront:CreatePublicKey",
        "ssm:PutParameter#1",
    ] {
        reached += usize::from(kill_at(&moto, dir.path(), point));
    }
    // Which later points a run still reaches depends on how far the concurrent steps of the
    // earlier, killed runs got; the first is always reached on a fresh account.
    assert!(reached >= 1, "no kill point was reached");
    assert_converged(&moto, dir.path(), "a series of points");
}

#[test]
fn no_secret_reaches_any_output_log_journal_or_file() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(
        dir.path(),
        &MINIMAL.replace(
            "[server]\n",
            "[server]\ngoogleClientSecret = \"gcs-very-secret-value-123\"\n",
        ),
    );
    let (out1, err1) = run_ok(&moto, dir.path(), &["--output", "plain"]);
    let (out2, err2) = run_ok(&moto, dir.path(), &["--output", "json"]);
    let w = world(&moto, "us-east-1", "staging");
    let passphrase = w.params["/medplum/staging/signingKeyPassphrase"].0.clone();
    let private = w.params["/medplum/staging/signingKey"].0.clone();
    assert!(passphrase.len() >= 32);
    let mut haystacks = vec![out1, err1, out2, err2];
    // Every file the runs wrote (the answers file is the user's own, with their secret in it).
    for entry in walk(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with("answers.toml"))
    {
        haystacks.push(String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned());
    }
    // The PEM body lines, so a re-wrapped key would be caught too.
    let needles: Vec<String> = std::iter::once(passphrase)
        .chain(
            private
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        )
        .chain([
            "gcs-very-secret-value-123".to_string(),
            "ENCRYPTED PRIVATE KEY".to_string(),
        ])
        .collect();
    for h in &haystacks {
        for n in &needles {
            assert!(!h.contains(n.as_str()), "a secret leaked: {n}");
        }
    }
    assert!(
        haystacks
            .iter()
            .any(|h| h.contains("\"event\":\"parameter_changes\"")),
        "the json run emitted its events"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn headless_without_yes_shows_the_parameter_changes_and_writes_none() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("7 to add"), "{stdout}");
    assert!(text(&out.stderr).contains("--yes"));
    let w = world(&moto, "us-east-1", "staging");
    // Only the key step's own secrets are there; the summary's parameters wait for --yes.
    let names: Vec<_> = w.params.keys().cloned().collect();
    assert_eq!(
        names,
        [
            "/medplum/staging/signingKey",
            "/medplum/staging/signingKeyPassphrase"
        ]
    );
}

#[test]
fn a_wrong_account_is_refused_before_any_write() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(
        dir.path(),
        &MINIMAL.replace("domainName", "accountNumber = \"210987654321\"\ndomainName"),
    );
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("123456789012") && err.contains("210987654321"),
        "{err}"
    );
    let w = world(&moto, "us-east-1", "staging");
    assert!(w.certs["us-east-1"].is_empty() && w.keys.is_empty() && w.params.is_empty());
}

#[test]
fn existing_issued_certificate_is_reused_even_through_a_wildcard() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    let wildcard = rt().block_on(async {
        let acm = aws_sdk_acm::Client::new(&moto.sdk("us-east-1").await);
        let r = acm
            .request_certificate()
            .domain_name("example.com")
            .subject_alternative_names("*.example.com")
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .unwrap();
        r.certificate_arn().unwrap().to_string()
    });
    // Let moto's validation wait pass so the certificate is ISSUED.
    assert!(crate::harness::wait_until(Duration::from_secs(10), || rt()
        .block_on(async {
            let acm = aws_sdk_acm::Client::new(&moto.sdk("us-east-1").await);
            let d = acm
                .describe_certificate()
                .certificate_arn(&wildcard)
                .send()
                .await
                .unwrap();
            d.certificate().unwrap().status()
                == Some(&aws_sdk_acm::types::CertificateStatus::Issued)
        })));
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    run_ok(&moto, dir.path(), &[]);
    let cfg = config(dir.path(), "staging");
    for key in ["apiSslCertArn", "appSslCertArn", "storageSslCertArn"] {
        assert_eq!(cfg[key], wildcard.as_str(), "{key}");
    }
    assert_eq!(
        world(&moto, "us-east-1", "staging").certs["us-east-1"].len(),
        1,
        "no new certificate"
    );
}

#[test]
fn a_certificate_named_in_the_answers_must_exist_and_cover_its_domain() {
    let moto = Moto::start();
    let other = rt().block_on(async {
        let acm = aws_sdk_acm::Client::new(&moto.sdk("us-east-1").await);
        let r = acm
            .request_certificate()
            .domain_name("other.example.org")
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .unwrap();
        r.certificate_arn().unwrap().to_string()
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |arn: &str| {
        answers(
            dir.path(),
            &MINIMAL.replace(
                "domainName",
                &format!("apiSslCertArn = \"{arn}\"\ndomainName"),
            ),
        );
        let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
        (out.status.code(), text(&out.stderr))
    };

    let (code, err) = run(&other);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "certificate {other} does not cover api.example.com"
        )),
        "{err}"
    );
    assert!(
        err.contains("give a certificate for api.example.com (or a wildcard over it)"),
        "{err}"
    );

    let missing =
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000";
    let (code, err) = run(missing);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "certificate {missing} does not exist in us-east-1"
        )),
        "{err}"
    );
    // Neither ARN was written anywhere the server or the CDK reads.
    let w = world(&moto, "us-east-1", "staging");
    assert!(
        !w.params
            .values()
            .any(|(v, _, _)| v.contains("certificate/"))
    );
    let cfg = std::fs::read_to_string(dir.path().join("medplum.staging.config.json"));
    assert!(cfg.is_err(), "no config file after a refused certificate");
}

/// Creates an IAM user in moto whose policy denies `denied`, with moto's IAM enforcement on,
/// and returns its access key pair.
fn limited_user(moto: &Moto, denied: &str) -> (String, String) {
    let script = format!(
        r#"
import boto3, json
kw = dict(endpoint_url="{url}", region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="admin")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="limited")
key = iam.create_access_key(UserName="limited")["AccessKey"]
policy = {{"Version": "2012-10-17", "Statement": [
    {{"Effect": "Allow", "Action": "*", "Resource": "*"}},
    {{"Effect": "Deny", "Action": "{denied}", "Resource": "*"}}]}}
iam.put_user_policy(UserName="limited", PolicyName="deny-one", PolicyDocument=json.dumps(policy))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#,
        url = moto.url
    );
    let out = std::process::Command::new(crate::harness::venv_tool("python3"))
        .arg("-c")
        .arg(script)
        .output()
        .expect("the venv's python");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let mut parts = line.split_whitespace();
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

#[test]
fn a_denied_action_is_named_and_finished_work_is_kept() {
    // moto enforces IAM policies once INITIAL_NO_AUTH_ACTION_COUNT unauthenticated calls are used
    // up (the three IAM calls that create the limited user). Its enforcement breaks SESv2
    // (signature mismatch) and CloudFront (empty 403) for any user, so this test runs the
    // identity and certificate steps only; the hint text itself is unit-tested in aws::error.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let (id, secret) = limited_user(&moto, "acm:RequestCertificate");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    let out = cmd(dir.path())
        .envs(moto.env())
        .env("AWS_ACCESS_KEY_ID", &id)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env_remove("AWS_SESSION_TOKEN")
        .args([
            "init",
            "--answers",
            "answers.toml",
            "--yes",
            "--only",
            "identity",
            "--only",
            "certificates",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("Certificates") && err.contains("acm:RequestCertificate"),
        "{err}"
    );
    assert!(err.contains("grant that action"), "{err}");
    // What finished is recorded; the run stopped at the failed stage.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["steps"]["identity"]["status"], "done");
    assert_eq!(
        state["steps"]["identity"]["data"]["arn"],
        "arn:aws:iam::123456789012:user/limited"
    );
    assert_eq!(state["steps"]["certificates"]["status"], "failed");
    assert!(!dir.path().join("medplum.staging.config.json").exists());
}

#[test]
fn optional_steps_logging_bucket_bot_layer_and_domain_identity() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // The smallest valid zip: an empty archive's end-of-central-directory record.
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    std::fs::write(dir.path().join("layer.zip"), &zip).unwrap();
    answers(
        dir.path(),
        &MINIMAL.replace(
            "[certificates]",
            "region = \"eu-west-1\"\nloadBalancerLoggingEnabled = true\nloadBalancerLoggingBucket = \"medplum-logs-test\"\nloadBalancerLoggingPrefix = \"elb\"\n\
             [logging]\ncreate_bucket = true\n[bot_layer]\nzip = \"layer.zip\"\n[email]\nidentity = \"domain\"\n[certificates]",
        ),
    );
    run_ok(&moto, dir.path(), &[]);
    rt().block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&moto.sdk("eu-west-1").await)
                .force_path_style(true)
                .build(),
        );
        let loc = s3
            .get_bucket_location()
            .bucket("medplum-logs-test")
            .send()
            .await
            .unwrap();
        assert_eq!(
            loc.location_constraint().map(|l| l.as_str()),
            Some("eu-west-1")
        );
        let policy: serde_json::Value = serde_json::from_str(
            s3.get_bucket_policy()
                .bucket("medplum-logs-test")
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::156460612806:root",
            "eu-west-1's ELB account"
        );
        assert_eq!(
            policy["Statement"][0]["Resource"],
            "arn:aws:s3:::medplum-logs-test/elb/AWSLogs/123456789012/*"
        );
        let block = s3
            .get_public_access_block()
            .bucket("medplum-logs-test")
            .send()
            .await
            .unwrap();
        let b = block.public_access_block_configuration().unwrap();
        assert!(b.block_public_acls() == Some(true) && b.restrict_public_buckets() == Some(true));
        let enc = s3
            .get_bucket_encryption()
            .bucket("medplum-logs-test")
            .send()
            .await
            .unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "AES256"
        );

        let lambda = aws_sdk_lambda::Client::new(&moto.sdk("eu-west-1").await);
        let versions = lambda
            .list_layer_versions()
            .layer_name("medplum-bot-layer")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.layer_versions().len(), 1);
        assert_eq!(
            versions.layer_versions()[0].compatible_runtimes(),
            [aws_sdk_lambda::types::Runtime::Nodejs22x]
        );

        let ses = aws_sdk_sesv2::Client::new(&moto.sdk("eu-west-1").await);
        // (moto answers ListEmailIdentities from the Rust SDK with a 404, so look each one up.)
        let domain = ses
            .get_email_identity()
            .email_identity("example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(domain.identity_type().map(|t| t.as_str()), Some("DOMAIN"));
        assert!(
            ses.get_email_identity()
                .email_identity("support@example.com")
                .send()
                .await
                .is_err(),
            "a domain identity needs no address identity"
        );
    });
    // Again: the same zip is not published twice, the bucket is left as it is.
    run_ok(&moto, dir.path(), &[]);
    rt().block_on(async {
        let lambda = aws_sdk_lambda::Client::new(&moto.sdk("eu-west-1").await);
        let versions = lambda
            .list_layer_versions()
            .layer_name("medplum-bot-layer")
            .send()
            .await
            .unwrap();
        assert_eq!(
            versions.layer_versions().len(),
            1,
            "the same layer code was published again"
        );
    });
    // A different zip is published as a new version.
    let mut other = zip.clone();
    other.extend(b"x");
    std::fs::write(dir.path().join("layer.zip"), &other).unwrap();
    run_ok(&moto, dir.path(), &[]);
    rt().block_on(async {
        let lambda = aws_sdk_lambda::Client::new(&moto.sdk("eu-west-1").await);
        let versions = lambda
            .list_layer_versions()
            .layer_name("medplum-bot-layer")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.layer_versions().len(), 2);
    });
}

#[test]
fn validation_records_go_to_the_longest_matching_zone_and_hand_edits_survive() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "3")]);
    // Two zones: the records for staging names belong in the delegated sub-zone, not the parent.
    let (parent, sub) = rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        let mut ids = Vec::new();
        for (name, reference) in [("example.com", "a"), ("staging.example.com", "b")] {
            let z = r53
                .create_hosted_zone()
                .name(name)
                .caller_reference(reference)
                .send()
                .await
                .unwrap();
            ids.push(
                z.hosted_zone()
                    .unwrap()
                    .id()
                    .trim_start_matches("/hostedzone/")
                    .to_string(),
            );
        }
        (ids[0].clone(), ids[1].clone())
    });
    let dir = tempfile::tempdir().unwrap();
    let long_ca = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
        "A".repeat(5000)
    );
    answers(
        dir.path(),
        &MINIMAL
            .replace(
                "domainName = \"example.com\"",
                "domainName = \"staging.example.com\"",
            )
            .replace(
                "[server]\n",
                &format!("[server]\n\"database.ssl.ca\" = \"\"\"{long_ca}\"\"\"\n"),
            ),
    );
    run_ok(&moto, dir.path(), &[]);
    let (sub_names, parent_names) = rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        let mut names = Vec::new();
        for id in [&sub, &parent] {
            let sets = r53
                .list_resource_record_sets()
                .hosted_zone_id(id)
                .send()
                .await
                .unwrap();
            names.push(
                sets.resource_record_sets()
                    .iter()
                    .filter(|r| r.r#type().as_str() == "CNAME")
                    .map(|r| r.name().to_string())
                    .collect::<Vec<_>>(),
            );
        }
        (names[0].clone(), names[1].clone())
    });
    assert_eq!(
        sub_names.len(),
        3,
        "one validation CNAME per certificate in the sub-zone: {sub_names:?}"
    );
    assert!(
        sub_names
            .iter()
            .all(|n| n.ends_with(".staging.example.com."))
    );
    assert!(
        parent_names.is_empty(),
        "nothing in the parent zone: {parent_names:?}"
    );

    // Over 4 KB: the Advanced tier.
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk("us-east-1").await);
        let d = ssm
            .describe_parameters()
            .parameter_filters(
                aws_sdk_ssm::types::ParameterStringFilter::builder()
                    .key("Name")
                    .values("/medplum/staging/database.ssl.ca")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            d.parameters()[0].tier().map(|t| t.as_str()),
            Some("Advanced")
        );
    });

    // A key added by hand and an edited default survive a re-run; explicit answers still win.
    let path = dir.path().join("medplum.staging.config.json");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.ends_with("}\n"), "trailing newline");
    assert!(written.find("\"name\"").unwrap() < written.find("\"region\"").unwrap());
    let mut cfg: serde_json::Value = serde_json::from_str(&written).unwrap();
    cfg["myTeamNote"] = "keep me".into();
    cfg["serverMemory"] = 1024.into();
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    run_ok(&moto, dir.path(), &[]);
    let after = config(dir.path(), "staging");
    assert_eq!(after["myTeamNote"], "keep me");
    assert_eq!(
        after["serverMemory"], 1024,
        "a default must not overwrite a hand edit"
    );
    // Nothing changed in substance, so the user's file is not even reformatted.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        serde_json::to_string_pretty(&cfg).unwrap()
    );
    // A real change rewrites it in the stable order, the user's key kept after the known ones.
    std::fs::write(
        dir.path().join("answers.toml"),
        std::fs::read_to_string(dir.path().join("answers.toml"))
            .unwrap()
            .replace("[certificates]", "desiredServerCount = 2\n[certificates]"),
    )
    .unwrap();
    run_ok(&moto, dir.path(), &[]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"), "trailing newline");
    assert!(
        text.find("\"name\"").unwrap() < text.find("\"myTeamNote\"").unwrap(),
        "known keys first, then the user's"
    );
    let after = config(dir.path(), "staging");
    assert_eq!(
        (
            after["desiredServerCount"].as_i64(),
            after["myTeamNote"].as_str(),
            after["serverMemory"].as_i64()
        ),
        (Some(2), Some("keep me"), Some(1024))
    );
}

#[test]
fn deploy_enabled_in_the_answers_hands_over_to_the_deploy_engine() {
    let moto = Moto::start();
    rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk("us-east-1").await);
        r53.create_hosted_zone()
            .name("example.com")
            .caller_reference("z")
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), &format!("{MINIMAL}[deploy]\nenabled = true\n"));
    let out = run_against(
        &moto,
        dir.path(),
        &["--answers", "answers.toml", "--yes", "--output", "plain"],
    );
    let stdout = text(&out.stdout);
    // The install finished, then the deploy planned the whole stack from the new config.
    assert!(
        stdout.contains("Plan: "),
        "no deploy plan:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("BackEndDatabaseCluster8B2F7305"),
        "{stdout}"
    );
    // The emulator runs Medplum's whole stack, so the hand-off ends with the stack deployed.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("Deployed."), "{stdout}");
    let cfn = aws_sdk_cloudformation::Client::new(&rt().block_on(moto.sdk("us-east-1")));
    let status = rt().block_on(async {
        let out = cfn
            .describe_stacks()
            .stack_name("MedplumStaging")
            .send()
            .await
            .unwrap();
        out.stacks()[0].stack_status().unwrap().as_str().to_string()
    });
    assert_eq!(status, "CREATE_COMPLETE");
}

/// `signingKeyId` in the answers: a key registered by hand. The step checks that CloudFront has
/// it, that `storagePublicKey` (when given) is its public half and that its private half is in
/// SSM; it registers nothing itself.
#[test]
fn a_signing_key_registered_by_hand_is_checked_then_used() {
    use medplum_init::crypto::SigningKeyPair;
    let moto = Moto::start();
    let pair = SigningKeyPair::generate().unwrap();
    let other = SigningKeyPair::generate().unwrap();
    let id = rt().block_on(async {
        let cf = aws_sdk_cloudfront::Client::new(&moto.sdk("us-east-1").await);
        let config = aws_sdk_cloudfront::types::PublicKeyConfig::builder()
            .caller_reference("registered-by-hand")
            .name("ByHand")
            .encoded_key(&pair.public_pem)
            .build()
            .unwrap();
        let out = cf
            .create_public_key()
            .public_key_config(config)
            .send()
            .await
            .unwrap();
        out.public_key().unwrap().id().to_string()
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |head: String| {
        answers(dir.path(), &format!("{head}{MINIMAL}"));
        let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
        (out.status.code(), text(&out.stderr))
    };
    let key_line = |pem: &str| format!("storagePublicKey = \"\"\"\n{pem}\"\"\"\n");

    // An id CloudFront does not know is refused as "CloudFront has no public key <id>" (exit 2),
    // but moto 5.2.5 answers GetPublicKey for an unknown id with HTTP 500 instead of
    // NoSuchPublicKey; that code's reading as not-found is tested in src/aws/error.rs.

    let (code, err) = run(format!(
        "signingKeyId = \"{id}\"\n{}",
        key_line(&other.public_pem)
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "storagePublicKey is not the public half of CloudFront key {id}"
        )),
        "{err}"
    );

    let mine = format!("signingKeyId = \"{id}\"\n{}", key_line(&pair.public_pem));
    let (code, err) = run(mine.clone());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("/medplum/staging/signingKey and /medplum/staging/signingKeyPassphrase must hold the private key"),
        "{err}"
    );

    // With the private half written where the server reads it, the run completes on that key.
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk("us-east-1").await);
        for (name, value) in [
            ("signingKey", pair.private_pem.expose()),
            ("signingKeyPassphrase", pair.passphrase.expose()),
        ] {
            ssm.put_parameter()
                .name(format!("/medplum/staging/{name}"))
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
    });
    let (code, err) = run(mine);
    assert_eq!(code, Some(0), "{err}");
    let cfg = config(dir.path(), "staging");
    assert_eq!(cfg["signingKeyId"], id.as_str());
    assert!(same_public_key(cfg["storagePublicKey"].as_str().unwrap(), &pair.public_pem).unwrap());
    let w = world(&moto, "us-east-1", "staging");
    assert_eq!(
        w.keys.len(),
        1,
        "no key registered besides the hand-made one"
    );
    assert_eq!(w.params["/medplum/staging/signingKeyId"].0, id);
}
