//! Hostile files and inputs: the real binary with links planted at its own paths, state folders
//! others can write to, a tampered pending key, values that would wrap or escape, and an existing
//! config that a dry run must leave byte for byte as it was.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{Moto, answers, cmd, kill_install_at, root, run_against, text};

const MINIMAL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n";

/// An offline dry run in `dir`; an endpoint that refuses connections fails any AWS call.
fn dry_run(dir: &Path, answers_file: &Path, extra: &[&str]) -> Output {
    cmd(dir)
        .arg("--answers")
        .arg(answers_file)
        .args(["--dry-run", "--dir"])
        .arg(dir)
        .args(extra)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap()
}

fn all(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn a_dry_run_leaves_an_existing_config_byte_identical() {
    // A config as Medplum's own `aws init` leaves it, in a fresh clone: no journal at all.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("medplum.staging.config.json");
    let original =
        std::fs::read(root().join("tests/fixtures/reference/medplum.staging.config.json")).unwrap();
    std::fs::write(&config, &original).unwrap();
    let example = root().join("examples/staging.toml");
    for _ in 0..2 {
        let out = dry_run(dir.path(), &example, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", all(&out));
        assert_eq!(
            std::fs::read(&config).unwrap(),
            original,
            "the dry run changed the config"
        );
    }
    let review = dir
        .path()
        .join(".medplum-init/staging/dry-run/medplum.staging.config.json");
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&review).unwrap()).unwrap();
    let file: serde_json::Value = serde_json::from_slice(&original).unwrap();
    // The file's key stays in the review copy: a throwaway dry-run key never replaces it.
    assert_eq!(copy["storagePublicKey"], file["storagePublicKey"]);
    assert_eq!(copy["accountNumber"], "123456789012");
    assert!(!dir.path().join(".medplum-init/staging/state.json").exists());

    // A config that names a registered key keeps its id: the dry run's key is only a stand-in.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = dir2.path().join("medplum.staging.config.json");
    let mut edited: serde_json::Value = serde_json::from_slice(&original).unwrap();
    edited["signingKeyId"] = "K2JCJMDEHXQW5F".into();
    let edited = serde_json::to_vec_pretty(&edited).unwrap();
    std::fs::write(&config2, &edited).unwrap();
    let out = dry_run(dir2.path(), &example, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert_eq!(std::fs::read(&config2).unwrap(), edited);
    let copy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir2.path()
                .join(".medplum-init/staging/dry-run/medplum.staging.config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        copy["signingKeyId"], "K2JCJMDEHXQW5F",
        "a real key id was replaced"
    );
}

#[cfg(unix)]
#[test]
fn links_at_the_config_and_the_journal_are_refused_and_their_targets_untouched() {
    let example = root().join("examples/staging.toml");
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.json");
    std::fs::write(&victim, b"{\"precious\": true}\n").unwrap();

    symlink(&victim, &dir.path().join("medplum.staging.config.json"));
    let out = dry_run(dir.path(), &example, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(all(&out).contains("symbolic link"), "{}", all(&out));
    assert_eq!(std::fs::read(&victim).unwrap(), b"{\"precious\": true}\n");
    std::fs::remove_file(dir.path().join("medplum.staging.config.json")).unwrap();

    let sdir = dir.path().join(".medplum-init/staging");
    std::fs::create_dir_all(&sdir).unwrap();
    set_mode(&dir.path().join(".medplum-init"), 0o700);
    set_mode(&sdir, 0o700);
    symlink(&victim, &sdir.join("state.json"));
    for extra in [&["--dry-run"][..], &[][..]] {
        let out = cmd(dir.path())
            .arg("--answers")
            .arg(&example)
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", all(&out));
        assert!(all(&out).contains("symbolic link"), "{}", all(&out));
        assert_eq!(std::fs::read(&victim).unwrap(), b"{\"precious\": true}\n");
    }
    assert!(!dir.path().join("medplum.staging.config.json").exists());
}

#[cfg(unix)]
#[test]
fn a_state_folder_others_can_write_is_refused_and_a_new_one_is_private_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = answers(dir.path(), MINIMAL);
    let out = dry_run(dir.path(), &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let state = dir.path().join(".medplum-init");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("staging")), 0o700);
    let ignore = std::fs::read_to_string(state.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");

    for (folder, m) in [(state.clone(), 0o770), (state.join("staging"), 0o702)] {
        set_mode(&folder, m);
        let out = dry_run(dir.path(), &file, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", all(&out));
        let said = all(&out);
        assert!(
            said.contains("writable by other users") && said.contains("chmod 700"),
            "{said}"
        );
        assert_eq!(mode(&folder), m, "a refused folder is left as it is");
        set_mode(&folder, 0o700);
    }
}

#[test]
fn hostile_values_and_names_are_usage_errors_that_echo_nothing_raw() {
    // Two levels down, so a `../../x` that escaped would land inside `base`, where we can see it.
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.as_path();
    // A value that would wrap to a valid Fargate size.
    let file = answers(
        dir,
        &MINIMAL.replace(
            "[certificates]",
            "serverCpu = 4294967552
[certificates]",
        ),
    );
    let out = dry_run(dir, &file, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(
        text(&out.stderr).contains("serverCpu: 4294967552 CPU units is out of range"),
        "{}",
        all(&out)
    );

    // --env as a path, or with control characters: refused before any path is built.
    let file = answers(dir, &MINIMAL.replace("name = \"staging\"\n", ""));
    for env in ["../../x", "a/b", "x\u{1b}[2Jy", "x\ny", ".."] {
        let out = dry_run(dir, &file, &["--env", env]);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {}", all(&out));
        let err = text(&out.stderr);
        assert!(err.contains("--env"), "{err}");
        assert!(
            !err.contains('\u{1b}'),
            "an escape reached the terminal: {err:?}"
        );
    }
    let names = |p: &Path| -> Vec<String> {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(base.path()), ["a"]);
    assert_eq!(names(&base.path().join("a")), ["b"]);
    assert_eq!(names(dir), ["answers.toml"]);

    // Escape sequences in an answer come back escaped.
    let file = answers(
        dir,
        &MINIMAL.replace(
            "[certificates]",
            // TOML escapes, so the parsed value holds the raw ESC and BEL characters.
            "region = \"\\u001b]0;owned\\u0007\\u001b[2J\"\n[certificates]",
        ),
    );
    let out = dry_run(dir, &file, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("\\u{1b}[2J"), "{err}");
}

#[test]
fn a_huge_key_is_reported_fast_and_short_and_big_or_binary_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Under the size cap, so the unknown-key path itself is what is timed.
    let key = "k".repeat(512 << 10);
    let file = answers(dir.path(), &format!("{key} = 1\n{MINIMAL}"));
    let t = std::time::Instant::now();
    let out = dry_run(dir.path(), &file, &[]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.len() < 4_000,
        "{} bytes of stderr",
        out.stderr.len()
    );

    let bogus: String = (0..100).map(|i| format!("bogus{i} = 1\n")).collect();
    let file = answers(dir.path(), &format!("{bogus}{MINIMAL}"));
    let out = dry_run(dir.path(), &file, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("...and 80 more"), "{err}");

    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let out = dry_run(dir.path(), &big, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("larger than 1024 KiB"),
        "{}",
        all(&out)
    );

    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0").unwrap();
    let out = dry_run(dir.path(), &bin, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("binary file"), "{}", all(&out));
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"name = \"caf\xe9\"\n").unwrap();
    let out = dry_run(dir.path(), &latin1, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not UTF-8"), "{}", all(&out));
}

#[test]
fn a_hand_edited_config_value_is_refused_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("medplum.staging.config.json");
    let mut v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/reference/medplum.staging.config.json"))
            .unwrap(),
    )
    .unwrap();
    v["region"] = "mars-1".into();
    let edited = serde_json::to_vec_pretty(&v).unwrap();
    std::fs::write(&config, &edited).unwrap();
    let file = answers(
        dir.path(),
        "name = \"staging\"\ndomainName = \"example.com\"\napiDomainName = \"api.staging.example.com\"\nappDomainName = \"app.staging.example.com\"\nstorageDomainName = \"storage.staging.example.com\"\n[server]\nsupportEmail = \"support@example.com\"\n",
    );
    for extra in [&["--dry-run"][..], &[][..]] {
        let out = cmd(dir.path())
            .arg("--answers")
            .arg(&file)
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", all(&out));
        let said = all(&out);
        assert!(
            said.contains("region: 'mars-1' is not an AWS region"),
            "{said}"
        );
        assert!(said.contains(&config.display().to_string()), "{said}");
        assert_eq!(std::fs::read(&config).unwrap(), edited);
    }
}

/// Runs the install until `point`, then SIGKILLs it: the pending key is left on disk.
fn kill_at(moto: &Moto, dir: &Path, point: &str) {
    assert!(
        kill_install_at(moto, dir, point),
        "the run never reached {point}"
    );
}

fn cloudfront_keys(moto: &Moto) -> usize {
    crate::harness::rt().block_on(async {
        let cf = aws_sdk_cloudfront::Client::new(&moto.sdk("us-east-1").await);
        let keys = cf.list_public_keys().send().await.unwrap();
        keys.public_key_list().map(|l| l.items().len()).unwrap_or(0)
    })
}

#[cfg(unix)]
#[test]
fn a_tampered_pending_key_is_refused_until_it_is_deleted() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), MINIMAL);
    // Right after the passphrase reached SSM: the key waits in the pending file.
    kill_at(&moto, dir.path(), "ssm:PutParameter#1");
    let pending: PathBuf = dir
        .path()
        .join(".medplum-init/staging/pending-signing-key.json");
    assert_eq!(mode(&pending), 0o600);
    let original = std::fs::read(&pending).unwrap();
    let run = || run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    let refused = |out: &Output, why: &str| {
        let said = all(out);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(
            said.contains("pending signing key") && said.contains(why),
            "{why}: {said}"
        );
        assert!(
            said.contains("delete") && said.contains("pending-signing-key.json"),
            "{said}"
        );
        assert!(!said.contains("PRIVATE KEY"), "{said}");
    };

    set_mode(&pending, 0o644);
    refused(&run(), "other users");
    set_mode(&pending, 0o600);

    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::rename(&pending, &elsewhere).unwrap();
    symlink(&elsewhere, &pending);
    refused(&run(), "symbolic link");
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        original,
        "the link's target was touched"
    );
    std::fs::remove_file(&pending).unwrap();
    std::fs::hard_link(&elsewhere, &pending).unwrap();
    refused(&run(), "hard links");
    std::fs::remove_file(&elsewhere).unwrap();

    // A planted key: well formed, ours, 0600, but not the one the journal recorded.
    let planted = medplum_init::crypto::SigningKeyPair::generate().unwrap();
    std::fs::remove_file(&pending).unwrap();
    medplum_init::crypto::pending::save(&pending, &planted).unwrap();
    refused(&run(), "journal recorded");
    assert_eq!(
        cloudfront_keys(&moto),
        0,
        "a refused key reached CloudFront"
    );

    // The fix the message gives works.
    std::fs::remove_file(&pending).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert_eq!(cloudfront_keys(&moto), 1);
    assert!(!pending.exists());
}

#[test]
fn a_damaged_journal_record_stops_the_run_naming_the_file_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = answers(dir.path(), MINIMAL);
    let out = dry_run(dir.path(), &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let journal = dir.path().join(".medplum-init/staging/state.json");
    // The CallerReference recorded before CreatePublicKey, in a record that no longer parses.
    let text = r#"{"version":1,"env":"staging","steps":{"signing_key":{"status":"in_progress","data":{"fingerprint":7,"caller_reference":"medplum-init-staging-abc"}}}}"#;
    std::fs::write(&journal, text).unwrap();
    for extra in [&["--dry-run"][..], &[][..]] {
        let out = cmd(dir.path())
            .arg("--answers")
            .arg(&file)
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        let said = all(&out);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(
            said.contains("state.json") && said.contains("signing_key"),
            "{said}"
        );
        assert_eq!(
            std::fs::read_to_string(&journal).unwrap(),
            text,
            "the record was replaced"
        );
    }
    std::fs::write(&journal, &text[..40]).unwrap();
    let out = dry_run(dir.path(), &file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(all(&out).contains("is damaged"), "{}", all(&out));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn trace_logging_leaks_no_secret_and_leaves_private_files_and_no_temp_file() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(
        dir.path(),
        &MINIMAL.replace(
            "[server]\n",
            "[server]\ngoogleClientSecret = \"gcs-very-secret-value-123\"\n",
        ),
    );
    let traced = |args: &[&str]| {
        let out = cmd(dir.path())
            .envs(moto.env())
            .env("RUST_LOG", "trace")
            .env("MEDPLUM_INIT_LOG", "trace")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", all(&out));
        all(&out)
    };
    let mut haystacks = vec![
        traced(&["--answers", "answers.toml", "--yes"]),
        traced(&["--answers", "answers.toml", "--dry-run"]),
    ];
    let params = crate::harness::rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk("us-east-1").await);
        let mut out = Vec::new();
        for name in ["signingKey", "signingKeyPassphrase"] {
            let p = ssm
                .get_parameter()
                .name(format!("/medplum/staging/{name}"))
                .with_decryption(true)
                .send()
                .await
                .unwrap();
            out.push(p.parameter().unwrap().value().unwrap().to_string());
        }
        out
    });
    let (private, passphrase) = (&params[0], &params[1]);
    let files = walk(dir.path());
    let state = dir.path().join(".medplum-init/staging");
    assert!(
        state.join("debug.log").exists(),
        "trace logging wrote no debug.log"
    );
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp"),
            "a temp file lingers: {}",
            f.display()
        );
        if f.ends_with("answers.toml") {
            continue; // the user's own file, with their secret in it
        }
        if f.starts_with(&state) && !f.starts_with(state.join("dry-run")) {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        haystacks.push(String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned());
    }
    let needles: Vec<&str> = std::iter::once(passphrase.as_str())
        .chain(private.lines().filter(|l| !l.starts_with("-----")))
        .chain(["gcs-very-secret-value-123", "ENCRYPTED PRIVATE KEY"])
        .collect();
    assert!(needles.len() > 10);
    for h in &haystacks {
        for n in &needles {
            assert!(!h.contains(n), "a secret leaked: {n}");
        }
    }
}

#[test]
fn synth_diff_and_deploy_echo_a_hand_edited_config_value_escaped_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    crate::synth_cli::copy_fixture("cdk-4.0.2/eu", dir.path());
    let path = dir.path().join("medplum.staging.config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // A number where the file wants one is text that retitles the window, clears the screen and
    // runs on for a few kilobytes.
    config["apiPort"] = format!("\u{1b}]0;owned\u{7}\u{1b}[2J{}", "z".repeat(4000)).into();
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    // Never a real endpoint: a closed loopback port, should anything try AWS.
    let env = crate::harness::aws_env("http://127.0.0.1:9");
    for args in [
        &["synth", "--offline"][..],
        &["diff"][..],
        &["deploy", "--yes"][..],
    ] {
        let out = cmd(dir.path())
            .envs(env.clone())
            .args(args)
            .args(["--output", "plain"])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            !all(&out).chars().any(|c| c == '\u{1b}' || c == '\u{7}'),
            "{args:?}: a control character reached the terminal: {err:?}"
        );
        assert!(
            err.contains("apiPort") || err.contains("(config)"),
            "{args:?}: {err}"
        );
        assert!(err.contains("\\u{1b}[2J"), "{args:?}: shown escaped: {err}");
        assert!(err.len() < 2000, "{args:?}: cut: {} bytes", err.len());
    }
}
