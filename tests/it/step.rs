//! `step` against the emulator, on an environment installed by medplum-init and left with only
//! its config file and journal (the answers file is deleted): every step re-runs with no answers
//! file and, with nothing changed, changes nothing (parameter versions, public keys,
//! certificates, the config file's bytes); one changed answer changes exactly its parameter; a
//! plan with changes waits for --yes; `init --only` is the same command.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{Moto, answers, cmd, rt, run_against, text};

const INSTALL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\nregisterEnabled = false\n";

/// What AWS and the folder hold, as far as the steps write it.
#[derive(Debug, PartialEq)]
struct Installed {
    /// Parameter name to (version, type).
    parameters: BTreeMap<String, (i64, String)>,
    public_keys: Vec<String>,
    certificates: Vec<String>,
    config: String,
}

fn installed(moto: &Moto, dir: &Path) -> Installed {
    let sdk = rt().block_on(moto.sdk("us-east-1"));
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let mut parameters = BTreeMap::new();
        let mut token = None;
        loop {
            let page = ssm
                .get_parameters_by_path()
                .path("/medplum/staging/")
                .recursive(true)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for p in page.parameters() {
                parameters.insert(
                    p.name().unwrap().to_string(),
                    (
                        p.version(),
                        p.r#type().map(|t| t.as_str().to_string()).unwrap(),
                    ),
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let cf = aws_sdk_cloudfront::Client::new(&sdk);
        let mut public_keys: Vec<String> = cf
            .list_public_keys()
            .send()
            .await
            .unwrap()
            .public_key_list()
            .map(|l| l.items().iter().map(|k| k.id().to_string()).collect())
            .unwrap_or_default();
        public_keys.sort();
        let acm = aws_sdk_acm::Client::new(&sdk);
        let mut certificates: Vec<String> = acm
            .list_certificates()
            .send()
            .await
            .unwrap()
            .certificate_summary_list()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect();
        certificates.sort();
        Installed {
            parameters,
            public_keys,
            certificates,
            config: std::fs::read_to_string(dir.join("medplum.staging.config.json")).unwrap(),
        }
    })
}

fn install() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    crate::harness::create_zone(&moto, "example.com");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), INSTALL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Months later: only the config file and the journal are left.
    std::fs::remove_file(dir.path().join("answers.toml")).unwrap();
    (moto, dir)
}

fn step(moto: &Moto, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(dir)
        .envs(moto.env())
        .arg("step")
        .args(args)
        .args(["--output", "plain"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn every_step_re_runs_from_the_config_and_journal_and_changes_nothing() {
    let (moto, dir) = install();
    let before = installed(&moto, dir.path());
    assert_eq!(before.public_keys.len(), 1, "{before:?}");
    assert!(
        before
            .parameters
            .contains_key("/medplum/staging/signingKeyId")
    );
    for s in [
        "certificates",
        "signing-key",
        "email",
        "logging-bucket",
        "bot-layer",
        "config",
        "parameters",
    ] {
        // No --yes and no terminal: a plan without changes needs no confirmation.
        let (code, plan, err) = step(&moto, dir.path(), &[s]);
        assert_eq!(code, 0, "step {s}:\n{plan}\n{err}");
        assert!(
            plan.contains("nothing to change"),
            "step {s} plans a change:\n{plan}"
        );
        assert!(
            err.contains("answers from the journal's answers, medplum.staging.config.json"),
            "{err}"
        );
        assert!(err.contains("every other step was left as it is"), "{err}");
        assert!(!err.contains("PRIVATE KEY") && !plan.contains("PRIVATE KEY"));
        assert_eq!(
            installed(&moto, dir.path()),
            before,
            "step {s} changed something"
        );
    }
    // `init --only` without --answers is the same command, for several steps.
    let out = run_against(
        &moto,
        dir.path(),
        &["--only", "signing_key", "--only", "parameters"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("parameters: nothing to change"));
    assert_eq!(installed(&moto, dir.path()), before);
}

#[test]
fn one_changed_answer_changes_exactly_its_parameter_after_confirmation() {
    let (moto, dir) = install();
    let before = installed(&moto, dir.path());

    // A hand edit of the config file is an answer: the API port.
    let path = dir.path().join("medplum.staging.config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["apiPort"] = 8104.into();
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();

    let (code, plan, err) = step(&moto, dir.path(), &["parameters"]);
    assert_eq!(code, 2, "{plan}\n{err}");
    assert!(
        plan.contains("~ /medplum/staging/port = 8104 (was 8103)"),
        "{plan}"
    );
    assert!(err.contains("run the same command with --yes"), "{err}");
    let unchanged = installed(&moto, dir.path());
    assert_eq!(unchanged.parameters, before.parameters);

    let (code, _, err) = step(&moto, dir.path(), &["parameters", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let after = installed(&moto, dir.path());
    for (name, (version, kind)) in &after.parameters {
        let (old, _) = &before.parameters[name];
        if name == "/medplum/staging/port" {
            assert_eq!(*version, old + 1, "{name}");
        } else {
            assert_eq!(version, old, "{name} was written again");
        }
        assert_eq!(kind, "SecureString", "{name}");
    }
    assert_eq!(after.public_keys, before.public_keys);
    assert_eq!(after.certificates, before.certificates);

    // An answers file changes answers for one run: the support address.
    answers(
        dir.path(),
        &INSTALL.replace("support@example.com", "help@example.com"),
    );
    let (code, plan, err) = step(
        &moto,
        dir.path(),
        &["parameters", "--answers", "answers.toml", "--yes"],
    );
    assert_eq!(code, 0, "{plan}\n{err}");
    assert!(
        plan.contains(
            "~ /medplum/staging/supportEmail = help@example.com (was support@example.com)"
        ),
        "{plan}"
    );
    let last = installed(&moto, dir.path());
    let changed: Vec<&String> = last
        .parameters
        .iter()
        .filter(|(n, (v, _))| after.parameters[*n].0 != *v)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(changed, vec!["/medplum/staging/supportEmail"]);
    // The hand-edited port stays: the config file keeps what the answers do not name.
    assert!(last.config.contains("\"apiPort\": 8104"), "{}", last.config);
}

#[test]
fn a_dry_run_lists_the_calls_and_touches_nothing() {
    let (moto, dir) = install();
    let before = installed(&moto, dir.path());
    let (code, out, err) = step(&moto, dir.path(), &["signing-key", "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("GetPublicKey"),
        "{out}\n{err}"
    );
    assert_eq!(installed(&moto, dir.path()), before);
}

#[test]
fn a_folder_without_an_install_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .args(["step", "parameters", "--env", "staging", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("no medplum.staging.config.json") && err.contains("run the install first"),
        "{err}"
    );
}
