//! The command-line contract: dry run offline, validation with exit 2, the answers template.

use crate::harness::{answers, cmd, root, text};

#[test]
fn dry_run_of_the_shipped_example_works_offline() {
    let out_dir = tempfile::tempdir().unwrap();
    let example = root().join("examples/staging.toml");
    // No credentials, and an endpoint that refuses connections: any AWS call would fail the run.
    let out = cmd(out_dir.path())
        .args(["--answers"])
        .arg(&example)
        .args(["--dry-run", "--dir"])
        .arg(out_dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    for planned in [
        "sts:GetCallerIdentity",
        "acm:RequestCertificate",
        "cloudfront:CreatePublicKey",
        "ses:CreateEmailIdentity",
        "ssm:PutParameter",
    ] {
        assert!(stdout.contains(planned), "plan lacks {planned}:\n{stdout}");
    }
    assert!(stdout.contains("/medplum/staging/signingKey"));
    // The review copy lives beside the journal; the real path is left alone.
    let review = out_dir
        .path()
        .join(".medplum-init/staging/dry-run/medplum.staging.config.json");
    assert!(
        text(&out.stderr).contains(&review.display().to_string()),
        "the run does not say where it wrote: {}",
        text(&out.stderr)
    );
    assert!(
        !out_dir.path().join("medplum.staging.config.json").exists(),
        "a dry run wrote the real config"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&review).unwrap()).unwrap();
    for key in [
        "name",
        "stackName",
        "accountNumber",
        "region",
        "domainName",
        "apiPort",
        "apiDomainName",
        "apiSslCertArn",
        "appDomainName",
        "appSslCertArn",
        "storageBucketName",
        "storageDomainName",
        "storageSslCertArn",
        "signingKeyId",
        "storagePublicKey",
        "baseUrl",
        "maxAzs",
        "rdsInstances",
        "desiredServerCount",
        "serverImage",
        "serverMemory",
        "serverCpu",
    ] {
        assert!(config.get(key).is_some(), "config lacks {key}: {config:#}");
    }
    assert!(
        config["storagePublicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(config["stackName"], "MedplumStaging");
    assert!(
        !out_dir
            .path()
            .join(".medplum-init/staging/state.json")
            .exists(),
        "a dry run keeps no journal"
    );
    let all = format!("{stdout}{}", text(&out.stderr));
    assert!(!all.contains("PRIVATE KEY"), "key material in the output");
}

#[test]
fn five_mistakes_give_five_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = answers(
        dir.path(),
        "name = \"staging\"\n\
         domainName = \"example.com\"\n\
         accountNumber = 12345\n\
         apiPort = \"8103\"\n\
         stroageBucketName = \"x\"\n\
         serverCpu = 256\n\
         serverMemory = 8192\n\
         [server]\n\
         supportEmail = \"support-at-example.com\"\n",
    );
    let out = cmd(dir.path())
        .arg("--answers")
        .arg(&file)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("has 5 problems"), "{err}");
    for (line, key) in [
        (3, "accountNumber"),
        (4, "apiPort"),
        (5, "stroageBucketName"),
        (7, "serverMemory"),
        (9, "server.supportEmail"),
    ] {
        assert!(
            err.contains(&format!("line {line}: {key}:")),
            "no error for {key} at line {line}:\n{err}"
        );
    }
    assert!(err.contains("did you mean 'storageBucketName'?"), "{err}");
    assert!(err.contains("quote it"), "{err}");
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from("answers.toml")],
        "something was written"
    );
}

#[test]
fn invalid_answers_are_json_on_stdout_with_output_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = answers(dir.path(), "name = \"x\"\n");
    let out = cmd(dir.path())
        .arg("--answers")
        .arg(&file)
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["event"], "invalid_answers");
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);
}

#[test]
fn without_answers_or_terminal_it_lists_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for needed in ["name", "domainName", "supportEmail", "--answers"] {
        assert!(err.contains(needed), "{err}");
    }
}

#[test]
fn answers_template_is_printed_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path()).arg("answers-template").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let file = answers(dir.path(), &text(&out.stdout));
    let out = cmd(dir.path())
        .arg("--answers")
        .arg(&file)
        .args(["--dry-run", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .args(["--output", "fancy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cmd(dir.path())
        .args(["init", "--only", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
