//! `medplum-init synth` end to end: offline from cdk.context.json, the errors a user can act on
//! (exit 2 naming the key), and online lookups against moto (the hosted zone from Route53,
//! recorded in cdk.context.json; an external secret from Parameter Store).

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Moto, cmd, root, rt, run_against, text};

pub(crate) fn copy_fixture(from: &str, to: &Path) {
    for e in std::fs::read_dir(root().join("tests/fixtures").join(from)).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".template.json") {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn offline_synth_writes_the_templates_and_prints_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("cdk-4.0.2/eu", dir.path());
    let out = cmd(dir.path())
        .args(["synth", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let paths: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(
        paths,
        [
            "./cdk.out/MedplumStagingStack.template.json",
            "./cdk.out/MedplumStagingStack-us-east-1.template.json"
        ]
    );
    // The files are what the library synthesizes.
    let expected = crate::synth_parity::synth_fixture(dir.path());
    for (path, stack) in paths.iter().zip(&expected) {
        let written = std::fs::read_to_string(dir.path().join(path)).unwrap();
        assert_eq!(written, stack.body());
    }
    // --out and --config, and JSON lines with --output json.
    let out = cmd(dir.path())
        .args([
            "synth",
            "--offline",
            "--output",
            "json",
            "--config",
            "medplum.staging.config.json",
            "--out",
            "t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let first: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["stack"], "MedplumStagingStack");
    assert_eq!(first["region"], "eu-west-1");
    assert!(
        dir.path()
            .join("t/MedplumStagingStack-us-east-1.template.json")
            .exists()
    );
}

#[test]
fn unusable_configs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("reference", dir.path());
    let path = dir.path().join("medplum.staging.config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["clamscanEnabled"] = json!(true);
    std::fs::write(&path, config.to_string()).unwrap();
    let out = cmd(dir.path())
        .args(["synth", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("clamscanEnabled") && err.contains("guardDutyMalwareProtectionEnabled"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty());
    assert!(!dir.path().join("cdk.out").exists(), "nothing written");

    // No hosted zone in the context and no AWS allowed: the hint says how to fix it.
    config["clamscanEnabled"] = json!(false);
    std::fs::write(&path, config.to_string()).unwrap();
    std::fs::remove_file(dir.path().join("cdk.context.json")).unwrap();
    let out = cmd(dir.path())
        .args(["synth", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("hosted zone") && err.contains("skipDns"),
        "{err}"
    );

    // An external secret cannot be resolved offline.
    config["serverImage"] = json!({"system": "aws_ssm_parameter_store", "key": "/medplum/staging/image", "type": "string"});
    config["skipDns"] = json!(true);
    std::fs::write(&path, config.to_string()).unwrap();
    let out = cmd(dir.path())
        .args(["synth", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("serverImage"),
        "{}",
        text(&out.stderr)
    );

    // No config to be found.
    let empty = tempfile::tempdir().unwrap();
    let out = cmd(empty.path()).args(["synth"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--config"));
}

#[test]
fn online_synth_looks_up_the_zone_and_the_secrets_then_records_the_zone() {
    let moto = Moto::start();
    let zone_id = rt().block_on(async {
        let conf = moto.sdk("us-east-1").await;
        let r53 = aws_sdk_route53::Client::new(&conf);
        // A parent zone and the longer, delegated one: the longest holding domainName wins.
        for name in ["example.com", "staging.example.com"] {
            r53.create_hosted_zone()
                .name(name)
                .caller_reference(name)
                .send()
                .await
                .unwrap();
        }
        let zones = r53.list_hosted_zones().send().await.unwrap();
        let staging = zones
            .hosted_zones()
            .iter()
            .find(|z| z.name() == "staging.example.com.")
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        aws_sdk_ssm::Client::new(&conf)
            .put_parameter()
            .name("/medplum/staging/serverImage")
            .value("medplum/medplum-server:4.1.2")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
        staging
    });
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("reference", dir.path());
    let path = dir.path().join("medplum.staging.config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["domainName"] = json!("staging.example.com");
    config["serverImage"] = json!({"system": "aws_ssm_parameter_store", "key": "/medplum/staging/serverImage", "type": "string"});
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    // Keep the availability zones, drop the zone: only the zone is looked up.
    let ctx_path = dir.path().join("cdk.context.json");
    let mut ctx: Value =
        serde_json::from_str(&std::fs::read_to_string(&ctx_path).unwrap()).unwrap();
    ctx.as_object_mut()
        .unwrap()
        .retain(|k, _| k.starts_with("availability-zones"));
    std::fs::write(&ctx_path, ctx.to_string()).unwrap();

    let out = run_against(&moto, dir.path(), &["synth"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("cdk.out/MedplumStagingStack.template.json"))
            .unwrap(),
    )
    .unwrap();
    let r = &template["Resources"];
    assert_eq!(
        r["BackEndTaskDefinitionAE6A5DEC"]["Properties"]["ContainerDefinitions"][0]["Image"],
        "medplum/medplum-server:4.1.2"
    );
    assert_eq!(
        r["BackEndLoadBalancerAliasRecordFCF2BBEC"]["Properties"]["HostedZoneId"],
        zone_id.as_str()
    );
    // Recorded under the CDK's key, next to what was there.
    let ctx: Value = serde_json::from_str(&std::fs::read_to_string(&ctx_path).unwrap()).unwrap();
    let key = "hosted-zone:account=123456789012:domainName=staging.example.com:region=us-east-1";
    assert_eq!(ctx[key]["Id"], format!("/hostedzone/{zone_id}"));
    assert!(
        ctx.get("availability-zones:account=123456789012:region=us-east-1")
            .is_some()
    );
    assert!(text(&out.stderr).contains("recorded"));

    // Second run: the zone comes from the file. With moto gone, only the secret needs AWS, so
    // a run without the secret succeeds offline.
    drop(moto);
    config["serverImage"] = json!("medplum/medplum-server:4.1.2");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let out = cmd(dir.path())
        .args(["synth", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
