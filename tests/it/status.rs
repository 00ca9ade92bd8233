//! `status` against the emulator: an environment installed and deployed by medplum-init reads
//! healthy, check by check; each way of breaking it turns its own line unhealthy, with its fix,
//! and the exit code 1; `--output json` carries the same report for monitoring.
//!
//! moto does not fill a certificate's InUseBy (AWS lists the load balancer and the
//! distributions), so here the certificates read "not in use", a warning; the rule for a
//! certificate in use is tested in `status::verdicts`.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Moto, answers, cmd, rt, run_against, text};

const INSTALL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n";

fn status(moto: &Moto, dir: &Path, json: bool) -> (i32, String, String) {
    let out = cmd(dir)
        .envs(moto.env())
        .args(["status", "--dir", dir.to_str().unwrap()])
        .args(["--output", if json { "json" } else { "plain" }])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The line of the check named `name`, and the fix under it when there is one.
fn line(report: &str, name: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    let i = lines
        .iter()
        .position(|l| {
            // `  <icon> <name>  <detail>`
            l.strip_prefix("  ")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("no {name} line in\n{report}"));
    match lines.get(i + 1) {
        Some(next) if next.trim_start().starts_with("fix: ") => {
            format!("{}\n{}", lines[i], next)
        }
        _ => lines[i].to_string(),
    }
}

fn installed_and_deployed() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start_with(&[("MEDPLUM_EMULATOR_SES_PRODUCTION", "1")]);
    crate::harness::create_zone(&moto, "example.com");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), INSTALL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run_against(&moto, dir.path(), &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (moto, dir)
}

#[test]
fn an_installed_environment_is_healthy_and_each_break_names_its_fix() {
    let (moto, dir) = installed_and_deployed();
    // Before the operator opened SES's link: the one check that is not healthy.
    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 1, "{report}");
    assert!(
        line(&report, "SES identity").contains(
            "✗ SES identity                           support@example.com is not verified for sending\n      fix: open the link SES mailed to the address"
        ),
        "{report}"
    );
    moto.verify_ses_identity("support@example.com");
    let (code, report, err) = status(&moto, dir.path(), false);
    assert_eq!(code, 0, "{report}\n{err}");
    for (name, says) in [
        ("api certificate", "ISSUED for api.example.com, expires in"),
        ("SES identity", "✓ SES identity"),
        ("SES sending", "production access"),
        ("/medplum/staging/baseUrl", "✓ /medplum/staging/baseUrl"),
        ("/medplum/staging/signingKey", "SecureString (value hidden)"),
        (
            "/medplum/staging/DatabaseSecrets",
            "✓ /medplum/staging/DatabaseSecrets",
        ),
        ("private key in SSM", "decrypts with the passphrase in SSM"),
        ("key group", "the stack's key group trusts"),
        ("MedplumStaging (us-east-1)", "CREATE_COMPLETE"),
        ("server image", "medplum/medplum-server:latest runs"),
    ] {
        assert!(
            line(&report, name).contains(says),
            "{name}: {says}\n{report}"
        );
    }
    assert!(
        report.contains("matches the private key in SSM and the config"),
        "{report}"
    );
    assert!(report.ends_with("warning(s)\n"), "{report}");
    // The key was read to be checked, and is shown nowhere.
    assert!(!report.contains("PRIVATE KEY") && !err.contains("PRIVATE KEY"));

    // A parameter changed by hand, and a config that names another public key.
    let sdk = rt().block_on(moto.sdk("us-east-1"));
    rt().block_on(async {
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name("/medplum/staging/baseUrl")
            .value("https://old.example.com/")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    });
    let config_path = dir.path().join("medplum.staging.config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let other = medplum_init::crypto::keypair::SigningKeyPair::generate().unwrap();
    config["storagePublicKey"] = other.public_pem.clone().into();
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();

    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 1, "{report}");
    let base = line(&report, "/medplum/staging/baseUrl");
    assert!(
        base.contains("✗ /medplum/staging/baseUrl")
            && base.contains(
                "holds 'https://old.example.com/', the config implies 'https://api.example.com/'"
            )
            && base.contains("fix: `medplum-init step parameters` writes what the config implies"),
        "{base}"
    );
    let key = report
        .lines()
        .find(|l| l.contains("CloudFront key "))
        .unwrap();
    assert!(
        key.contains("✗") && key.contains("storagePublicKey in the config is another key"),
        "{report}"
    );

    // The same report for monitoring, with the verdict.
    let (code, out, _) = status(&moto, dir.path(), true);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["event"], "status");
    assert_eq!(v["verdict"], "unhealthy");
    assert_eq!(v["healthy"], false);
    let base = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "/medplum/staging/baseUrl")
        .unwrap();
    assert_eq!(base["area"], "parameters");
    assert_eq!(base["verdict"], "unhealthy");
    assert!(base["fix"].as_str().unwrap().contains("parameters"));
}

#[test]
fn an_environment_not_deployed_says_so_and_exits_1() {
    let moto = Moto::start();
    crate::harness::create_zone(&moto, "example.com");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), INSTALL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 1, "{report}");
    let stack = line(&report, "MedplumStaging (us-east-1)");
    assert!(
        stack.contains("not deployed") && stack.contains("fix: medplum-init deploy"),
        "{stack}"
    );
    // Without a stack there is no key group, image or app to check, and the stack's own
    // parameters are not expected yet.
    assert!(
        !report.contains("key group") && !report.contains("DatabaseSecrets"),
        "{report}"
    );
    // moto's SES answers GetAccount through the emulator: a new account is in the sandbox.
    assert!(line(&report, "SES sending").contains("sandbox"), "{report}");
}

/// The ways of breaking an environment the issue names, each on its own line with its fix.
#[test]
fn each_environment_broken_on_purpose_is_reported_with_its_fix() {
    let (moto, dir) = installed_and_deployed();
    moto.verify_ses_identity("support@example.com");
    let broken = |name: &str, says: &str, fix: &str| {
        let (code, report, _) = status(&moto, dir.path(), false);
        assert_eq!(code, 1, "{report}");
        let l = line(&report, name);
        assert!(
            l.contains('✗') && l.contains(says) && l.contains(&format!("fix: {fix}")),
            "{name}: {says} / {fix}\n{report}"
        );
    };
    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 0, "{report}");
    assert!(
        line(&report, "drift of MedplumStaging").contains("every resource is as the stack left it"),
        "{report}"
    );

    // Drift: a resource edited by hand is a warning, one deleted by hand is not healthy.
    let resources = crate::harness::stack_resources(&moto, "us-east-1", "MedplumStaging");
    let bucket = resources
        .iter()
        .find(|(_, ty, _)| ty == "AWS::S3::Bucket")
        .map(|(l, _, _)| l.clone())
        .unwrap();
    let group = resources
        .iter()
        .find(|(_, ty, _)| ty == "AWS::EC2::SecurityGroup")
        .map(|(l, _, _)| l.clone())
        .unwrap();
    moto.drift("MedplumStaging", &bucket, "MODIFIED");
    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 0, "an edit is a warning: {report}");
    let l = line(&report, &format!("drift of {bucket}"));
    assert!(
        l.contains("changed outside CloudFormation: /Properties/Tags"),
        "{report}"
    );
    moto.drift("MedplumStaging", &group, "DELETED");
    broken(
        &format!("drift of {group}"),
        "deleted outside CloudFormation",
        "recreate it",
    );
    moto.drift("MedplumStaging", &bucket, "IN_SYNC");
    moto.drift("MedplumStaging", &group, "IN_SYNC");

    let sdk = rt().block_on(moto.sdk("us-east-1"));
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let config_path = dir.path().join("medplum.staging.config.json");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut c = config.clone();
        f(&mut c);
        std::fs::write(&config_path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    };

    // A deleted parameter.
    rt().block_on(
        ssm.delete_parameter()
            .name("/medplum/staging/storageBaseUrl")
            .send(),
    )
    .unwrap();
    broken(
        "/medplum/staging/storageBaseUrl",
        "missing",
        "`medplum-init step parameters` writes it",
    );
    let out = run_against(&moto, dir.path(), &["step", "parameters", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(status(&moto, dir.path(), false).0, 0);

    // A public key CloudFront does not have (CloudFront refuses to delete one a key group
    // trusts, so the config names a key id that is gone).
    edit(&|c| c["signingKeyId"] = "K0DELETEDKEY01".into());
    broken(
        "CloudFront key K0DELETEDKEY01",
        "CloudFront has no public key with this id",
        "`medplum-init step signing-key`",
    );
    edit(&|_| {});

    // A key pair that does not match: SSM's private key is another key's.
    let other = medplum_init::crypto::keypair::SigningKeyPair::generate().unwrap();
    rt().block_on(async {
        for (name, value) in [
            ("signingKey", other.private_pem.expose()),
            ("signingKeyPassphrase", other.passphrase.expose()),
        ] {
            ssm.put_parameter()
                .name(format!("/medplum/staging/{name}"))
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        }
    });
    let (code, report, _) = status(&moto, dir.path(), false);
    assert_eq!(code, 1, "{report}");
    let key = report
        .lines()
        .skip_while(|l| !l.contains("CloudFront key "))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        key.contains("the private key in SSM is not its pair")
            && key.contains("fix: `medplum-init rotate signing-key`"),
        "{report}"
    );

    // A certificate for another name.
    let acm = aws_sdk_acm::Client::new(&sdk);
    let other_cert = rt()
        .block_on(
            acm.request_certificate()
                .domain_name("other.example.org")
                .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
                .send(),
        )
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    assert!(crate::harness::wait_until(
        std::time::Duration::from_secs(30),
        || {
            rt().block_on(
                acm.describe_certificate()
                    .certificate_arn(&other_cert)
                    .send(),
            )
            .ok()
            .and_then(|d| d.certificate().and_then(|c| c.status().cloned()))
                == Some(aws_sdk_acm::types::CertificateStatus::Issued)
        }
    ));
    edit(&|c| c["appSslCertArn"] = other_cert.clone().into());
    broken(
        "app certificate",
        "ISSUED for other.example.org, which does not cover app.example.com",
        "remove appSslCertArn from the config, run `medplum-init init --only certificates --only config`",
    );
    // The fix, followed: the certificate medplum-init requested is found again and written back.
    edit(&|c| {
        c.as_object_mut().unwrap().remove("appSslCertArn");
    });
    let out = run_against(
        &moto,
        dir.path(),
        &["--only", "certificates", "--only", "config", "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let l = line(&status(&moto, dir.path(), false).1, "app certificate");
    assert!(l.contains("ISSUED for app.example.com"), "{l}");
}
