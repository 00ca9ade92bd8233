//! `medplum-init destroy` against the emulator: two environments, one in eu-west-1 with its
//! us-east-1 stack; the consent rules (exit 2 before any change); the delete of one leaving the
//! other untouched; the report of what remains matching what the emulator still holds; a re-run
//! being a no-op; and `--purge` after a real headless install leaving nothing medplum-init made.

use std::path::Path;

use serde_json::{Value, json};

use crate::environments::tagged_stack;
use crate::harness::{Moto, answers, rt, run_against, stack_status, text};

const STORAGE: &str = "storage.prod.example.org";

fn s3(moto: &Moto, region: &str) -> aws_sdk_s3::Client {
    let sdk = rt().block_on(moto.sdk(region));
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

/// The objects of a bucket as (count, total bytes), or None when it does not exist.
fn bucket(moto: &Moto, region: &str, name: &str) -> Option<(u64, u64)> {
    let c = s3(moto, region);
    rt().block_on(async {
        let out = c.list_objects_v2().bucket(name).send().await.ok()?;
        Some((
            out.contents().len() as u64,
            out.contents()
                .iter()
                .map(|o| o.size().unwrap_or(0) as u64)
                .sum(),
        ))
    })
}

/// `destroy --env ENV --confirm ENV` and `extra`, which must succeed.
fn destroyed(moto: &Moto, dir: &Path, env: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["destroy", "--env", env, "--confirm", env];
    args.extend_from_slice(extra);
    let out = run_against(moto, dir, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    out
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

/// prod: MedplumProd in eu-west-1 (a parameter, a retained bucket holding two objects, a
/// database cluster with a final snapshot) and MedplumProd-us-east-1; staging in us-east-1.
fn two_environments(moto: &Moto, dir: &Path) {
    tagged_stack(
        moto,
        "eu-west-1",
        "MedplumProd",
        Some("prod"),
        json!({
            "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "p"}},
            "Storage": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                        "UpdateReplacePolicy": "Retain", "Properties": {"BucketName": STORAGE}},
            "Db": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot",
                   "Properties": {"Engine": "aurora-postgresql", "MasterUsername": "medplum",
                                  "MasterUserPassword": "password123"}},
        }),
    );
    tagged_stack(
        moto,
        "us-east-1",
        "MedplumProd-us-east-1",
        Some("prod"),
        json!({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "g"}}}),
    );
    tagged_stack(
        moto,
        "us-east-1",
        "MedplumStaging",
        Some("staging"),
        json!({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "s"}}}),
    );
    let c = s3(moto, "eu-west-1");
    rt().block_on(async {
        for (key, body) in [("binary/a", "hello"), ("binary/b", "medplum!")] {
            c.put_object()
                .bucket(STORAGE)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
    });
    std::fs::write(
        dir.join("medplum.prod.config.json"),
        json!({"name": "prod", "region": "eu-west-1"}).to_string(),
    )
    .unwrap();
}

#[test]
fn destroy_deletes_one_environment_and_reports_what_remains() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    two_environments(&moto, dir.path());

    // The consent is checked first: nothing is touched on any refusal.
    for (args, says) in [
        (&["destroy", "--env", "prod", "--yes"][..], "--confirm prod"),
        (
            &["destroy", "--env", "prod", "--confirm", "staging"][..],
            "--confirm prod",
        ),
        // No terminal to type the name on.
        (&["destroy", "--env", "prod"][..], "--confirm prod"),
    ] {
        let out = run_against(&moto, dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        stack_status(&moto, "eu-west-1", "MedplumProd").as_deref(),
        Some("CREATE_COMPLETE")
    );

    // --plan: the order, what goes and what stays; nothing changes.
    let out = run_against(
        &moto,
        dir.path(),
        &["destroy", "--env", "prod", "--plan", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let plan = event(&lines, "destroy_plan");
    let order: Vec<&str> = plan["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["MedplumProd-us-east-1", "MedplumProd"]);
    let deleted: Vec<&str> = plan["stacks"][1]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["logical_id"].as_str().unwrap())
        .collect();
    let mut sorted = deleted.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["Db", "Param"],
        "the retained bucket is not deleted"
    );
    assert!(
        event(&lines, "destroy_plan")["remains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "database snapshot")
    );
    assert_eq!(
        stack_status(&moto, "us-east-1", "MedplumProd-us-east-1").as_deref(),
        Some("CREATE_COMPLETE")
    );

    let out = destroyed(&moto, dir.path(), "prod", &["--output", "json"]);
    let lines = json_lines(&out);
    let report = event(&lines, "destroy_report");
    let gone: Vec<(&str, &str)> = report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["stack"].as_str().unwrap(), d["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        gone,
        [
            ("MedplumProd-us-east-1", "deleted"),
            ("MedplumProd", "deleted")
        ]
    );
    // The us-east-1 stack went first: its delete finished before the primary's began.
    let finished: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "stack_finished")
        .map(|l| l["stack"].as_str().unwrap())
        .collect();
    assert_eq!(finished, ["MedplumProd-us-east-1", "MedplumProd"]);
    assert_eq!(stack_status(&moto, "eu-west-1", "MedplumProd"), None);
    assert_eq!(
        stack_status(&moto, "us-east-1", "MedplumProd-us-east-1"),
        None
    );
    // The other environment is untouched.
    assert_eq!(
        stack_status(&moto, "us-east-1", "MedplumStaging").as_deref(),
        Some("CREATE_COMPLETE")
    );

    // What the report says remains is what the emulator holds.
    let held = bucket(&moto, "eu-west-1", STORAGE).expect("the retained bucket stays");
    assert_eq!(held, (2, 13));
    let remains = report["remains"].as_array().unwrap();
    let storage = remains
        .iter()
        .find(|r| r["kind"] == "bucket")
        .expect("the bucket is reported");
    assert_eq!(storage["id"], STORAGE);
    assert_eq!(
        (storage["objects"].as_u64(), storage["bytes"].as_u64()),
        (Some(held.0), Some(held.1))
    );
    assert!(remains.iter().any(|r| r["kind"] == "database snapshot"));

    // Plain: a re-run finds nothing left to delete and says so.
    let out = destroyed(&moto, dir.path(), "prod", &[]);
    assert!(
        text(&out.stderr).contains("Nothing to destroy"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        stack_status(&moto, "us-east-1", "MedplumStaging").as_deref(),
        Some("CREATE_COMPLETE")
    );
}

const INSTALL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n";

#[test]
fn destroy_purge_removes_what_medplum_init_made_and_nothing_else() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), INSTALL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let journal: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    let key_id = journal["steps"]["signing_key"]["data"]["key_id"]
        .as_str()
        .expect("the install registered a key")
        .to_string();
    tagged_stack(
        &moto,
        "us-east-1",
        "MedplumStaging",
        Some("staging"),
        json!({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "s"}}}),
    );
    // What medplum-init did not make: a parameter under the path, a certificate, another
    // environment's stack. They stay.
    let sdk = rt().block_on(moto.sdk("us-east-1"));
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let acm = aws_sdk_acm::Client::new(&sdk);
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let foreign_cert = rt().block_on(async {
        ssm.put_parameter()
            .name("/medplum/staging/addedByHand")
            .value("x")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
        acm.request_certificate()
            .domain_name("other.example.com")
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string()
    });
    tagged_stack(
        &moto,
        "us-east-1",
        "MedplumProd",
        Some("prod"),
        json!({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "p"}}}),
    );

    let out = destroyed(
        &moto,
        dir.path(),
        "staging",
        &["--purge", "--output", "json"],
    );
    let lines = json_lines(&out);
    let report = event(&lines, "destroy_report");

    rt().block_on(async {
        let params: Vec<String> = ssm
            .get_parameters_by_path()
            .path("/medplum/staging/")
            .recursive(true)
            .send()
            .await
            .unwrap()
            .parameters()
            .iter()
            .map(|p| p.name().unwrap().to_string())
            .collect();
        assert_eq!(params, ["/medplum/staging/addedByHand"]);
        let certs: Vec<String> = acm
            .list_certificates()
            .send()
            .await
            .unwrap()
            .certificate_summary_list()
            .iter()
            .map(|c| c.certificate_arn().unwrap().to_string())
            .collect();
        assert_eq!(certs, [foreign_cert]);
        assert!(cf.get_public_key().id(&key_id).send().await.is_err());
        let identities = ses.list_email_identities().send().await.unwrap();
        assert!(
            identities.email_identities().is_empty(),
            "{:?}",
            identities.email_identities()
        );
    });
    assert!(!dir.path().join(".medplum-init/staging").exists());
    assert_eq!(report["state_folder_removed"], true);
    // The config file is the operator's: kept.
    assert!(dir.path().join("medplum.staging.config.json").exists());
    assert_eq!(
        stack_status(&moto, "us-east-1", "MedplumProd").as_deref(),
        Some("CREATE_COMPLETE")
    );
    // The report's parameters line is the one left by hand.
    let params = report["remains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "parameters")
        .expect("the hand-made parameter is reported");
    assert_eq!(params["count"], 1);
    assert_eq!(params["purge"], false);

    // Purged and deleted: a re-run is a no-op.
    let out = destroyed(&moto, dir.path(), "staging", &["--purge"]);
    assert!(text(&out.stderr).contains("Nothing to destroy"));
}
