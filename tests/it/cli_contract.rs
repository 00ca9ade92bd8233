//! The command-line contract every command keeps: its `--help` (snapshots), and the same
//! failure giving the same exit code in the same format from every command it applies to:
//! invalid answers, an unreachable endpoint, a missing config, a bad `--env`.

use std::path::Path;
use std::process::Output;

use crate::harness::{answers, cmd, root, text};

/// Runs the binary in `dir` with colour off, a fixed help width, dummy credentials and every
/// AWS call sent to a closed loopback port.
fn run(dir: &Path, args: &[&str]) -> Output {
    cmd(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .args(args)
        .output()
        .expect("run medplum-init")
}

/// Exit code, stderr and stdout, with the temp folder and the SDK's wording of a refused
/// connection filtered out.
fn shown(dir: &Path, out: &Output) -> String {
    let mut s = format!(
        "exit: {}\n--- stderr\n{}--- stdout\n{}",
        out.status.code().unwrap_or(-1),
        text(&out.stderr),
        text(&out.stdout)
    );
    let d = dir.display().to_string();
    s = s.replace(&d, "[DIR]");
    const REFUSED: &str = "could not reach the AWS endpoint: ";
    let mut from = 0;
    while let Some(i) = s[from..].find(REFUSED) {
        let start = from + i + REFUSED.len();
        let end = s[start..].find('\n').map_or(s.len(), |n| start + n);
        s.replace_range(start..end, "[SDK CONNECT ERROR]");
        from = start;
    }
    s
}

fn snapshot(name: &str, dir: &Path, out: &Output) {
    insta::assert_snapshot!(name, shown(dir, out));
}

/// The config of the reference fixture, without its context file: synth must ask Route53.
fn with_config(dir: &Path) {
    std::fs::copy(
        root().join("tests/fixtures/cdk-4.0.2/eu/medplum.staging.config.json"),
        dir.join("medplum.staging.config.json"),
    )
    .unwrap();
}

/// The one error format: a line `error: ...`, then `  hint: ...`.
fn assert_error_format(out: &Output, what: &str) {
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{what}: no `error:` line in {err}"));
    assert!(
        lines[i + 1..].iter().any(|l| l.starts_with("  hint: ")),
        "{what}: no `  hint:` after the error in {err}"
    );
}

const COMMANDS: [&str; 12] = [
    "",
    "init",
    "answers-template",
    "synth",
    "diff",
    "deploy",
    "list",
    "app",
    "destroy",
    "status",
    "step",
    "rotate",
];

#[test]
fn every_command_has_its_help() {
    let dir = tempfile::tempdir().unwrap();
    for c in COMMANDS {
        let args: Vec<&str> = [c, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        // Plain `cmd`: no AWS variables, so the help shows none of their values.
        let out = cmd(dir.path())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{c} --help");
        let name = if c.is_empty() { "help" } else { c };
        insta::assert_snapshot!(format!("help-{name}"), text(&out.stdout));
    }
}

#[test]
fn a_command_refuses_the_options_of_another() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["deploy", "--answers", "a.toml"],
        ["deploy", "--dry-run", ""],
        ["synth", "--yes", ""],
        ["diff", "--allow-data-risk", ""],
        ["answers-template", "--env", "x"],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let out = run(dir.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("unexpected argument"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn invalid_answers_exit_2_in_the_error_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = answers(
        dir.path(),
        "name = \"Bad Name\"\ndomainName = \"example.com\"\n",
    );
    let out = run(dir.path(), &["--answers", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_error_format(&out, "invalid answers");
    snapshot("invalid-answers-init", dir.path(), &out);
    // JSON: the same error, as an object on stdout.
    let out = run(
        dir.path(),
        &[
            "init",
            "--answers",
            file.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["event"], "invalid_answers");
    assert_eq!(v["exit_code"], 2);
    assert!(v["hint"].as_str().unwrap().contains("nothing was written"));
}

#[test]
fn a_bad_env_is_a_usage_error_from_every_command() {
    let dir = tempfile::tempdir().unwrap();
    with_config(dir.path());
    let mut shown_once = None;
    for c in ["init", "synth", "diff", "deploy", "app"] {
        let out = run(dir.path(), &[c, "--env", "../../x"]);
        assert_eq!(out.status.code(), Some(2), "{c}: {}", text(&out.stderr));
        assert_error_format(&out, c);
        // The same words from every command.
        let err = text(&out.stderr);
        assert_eq!(shown_once.get_or_insert_with(|| err.clone()), &err, "{c}");
        snapshot(&format!("bad-env-{c}"), dir.path(), &out);
    }
    // Nothing was made from the name.
    assert!(!dir.path().join(".medplum-init").exists());
    assert!(!dir.path().parent().unwrap().join("x").exists());
}

#[test]
fn a_missing_config_is_a_usage_error_from_every_command_that_reads_one() {
    let dir = tempfile::tempdir().unwrap();
    for c in ["synth", "diff", "deploy", "app"] {
        let out = run(dir.path(), &[c]);
        assert_eq!(out.status.code(), Some(2), "{c}: {}", text(&out.stderr));
        assert_error_format(&out, c);
        snapshot(&format!("no-config-{c}"), dir.path(), &out);
        let out = run(dir.path(), &[c, "--env", "staging"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{c} --env: {}",
            text(&out.stderr)
        );
        assert_error_format(&out, c);
        snapshot(&format!("missing-config-{c}"), dir.path(), &out);
        let out = run(dir.path(), &[c, "--config", "medplum.prod.config.json"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{c} --config: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("medplum.prod.config.json does not exist"));
    }
}

#[test]
fn an_unreachable_endpoint_fails_with_exit_1_from_every_command() {
    let dir = tempfile::tempdir().unwrap();
    with_config(dir.path());
    let file = answers(
        dir.path(),
        "name = \"staging\"\ndomainName = \"example.com\"\n[server]\nsupportEmail = \"support@example.com\"\n",
    );
    let init = ["--answers", file.to_str().unwrap(), "--output", "plain"];
    for (name, args) in [
        ("init", init.to_vec()),
        ("synth", vec!["synth"]),
        ("diff", vec!["diff"]),
        ("deploy", vec!["deploy", "--yes"]),
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert_error_format(&out, name);
        assert!(
            text(&out.stderr).contains("could not reach the AWS endpoint"),
            "{name}: {}",
            text(&out.stderr)
        );
        snapshot(&format!("unreachable-{name}"), dir.path(), &out);
    }
}

#[test]
fn synth_by_env_and_deploy_by_config_name_the_same_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    for e in std::fs::read_dir(root().join("tests/fixtures/cdk-4.0.2/eu")).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().ends_with(".template.json") {
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out = run(
        dir.path(),
        &["synth", "--offline", "--env", "staging", "--dir", "d"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        d.join("cdk.out/MedplumStagingStack.template.json")
            .is_file()
    );
    // `--config` takes the folder and the environment from the path: the deploy gets as far
    // as AWS (a closed port here), past every local check.
    let out = run(
        dir.path(),
        &["diff", "--config", "d/medplum.staging.config.json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("could not reach the AWS endpoint"));
    // --config and --env that disagree are refused before anything is read.
    let out = run(
        dir.path(),
        &[
            "deploy",
            "--env",
            "prod",
            "--config",
            "d/medplum.staging.config.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_error_format(&out, "disagreeing --env and --config");
}
