//! The deploy end to end: a headless install, then `deploy` of Medplum's whole stacks against the
//! emulator (`scripts/emulator`), which creates every resource type the stacks use, validates
//! change sets as CloudFormation does (parameter patterns, capabilities, busy stacks), runs stack
//! operations asynchronously with per-resource events, and fails resources on request. So the
//! certificates, key and parameters the stacks read are real emulator state, and the monitor,
//! rollbacks and Ctrl-C run as they would against AWS. The numbered scenarios are those of the
//! issue that asked for this proof (docs/testing.md lists them).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Moto, answers, cfn, rt, run_against, stack_resources, stack_status, text, wait_until,
};

/// A small install: the reference answers with `region`, certificates waited for.
fn answers_for(region: &str) -> String {
    format!(
        "name = \"staging\"\nregion = \"{region}\"\ndomainName = \"example.com\"\n\
         [certificates]\nwait = true\nwait_timeout_minutes = 1\n\
         [server]\nsupportEmail = \"support@example.com\"\n"
    )
}

/// An emulator and a folder holding a finished headless install for `region`.
fn installed(region: &str) -> (Moto, tempfile::TempDir) {
    installed_with(region, &[])
}

fn installed_with(region: &str, env: &[(&str, &str)]) -> (Moto, tempfile::TempDir) {
    let emu = Moto::emulator_with(env);
    rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&emu.sdk("us-east-1").await);
        r53.create_hosted_zone()
            .name("example.com")
            .caller_reference("e2e")
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), &answers_for(region));
    let out = run_against(
        &emu,
        dir.path(),
        &["--answers", "answers.toml", "--yes", "--output", "plain"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "install failed\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (emu, dir)
}

/// `medplum-init <args> --dir <dir> --output plain`: exit code, stdout, stderr.
fn run(emu: &Moto, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let mut all = args.to_vec();
    all.extend(["--dir", d, "--output", "plain"]);
    let out = run_against(emu, dir, &all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The stack's outputs.
fn outputs(emu: &Moto, region: &str, name: &str) -> Vec<(String, String)> {
    let c = cfn(emu, region);
    rt().block_on(async {
        let out = c.describe_stacks().stack_name(name).send().await.unwrap();
        out.stacks()[0]
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap_or_default().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

fn journal(dir: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap()
}

/// The journal's record of stack `index` has the stack's id and exactly its live outputs.
fn assert_journal_matches(emu: &Moto, dir: &Path, region: &str, name: &str, index: usize) {
    let rec = &journal(dir)["extra"]["deploy"]["stacks"][index];
    assert_eq!(rec["name"], name, "{rec}");
    let c = cfn(emu, region);
    let live_id = rt().block_on(async {
        let out = c.describe_stacks().stack_name(name).send().await.unwrap();
        out.stacks()[0].stack_id().unwrap().to_string()
    });
    assert_eq!(rec["stack_id"], live_id.as_str(), "{rec}");
    let recorded: std::collections::BTreeMap<String, String> =
        serde_json::from_value(rec["outputs"].clone()).unwrap_or_default();
    let live: std::collections::BTreeMap<String, String> =
        outputs(emu, region, name).into_iter().collect();
    assert_eq!(recorded, live);
}

/// Every CreateChangeSet the emulator received passed CloudFormation's parameter checks.
fn every_change_set_was_valid(emu: &Moto) {
    let sent = emu.requests("CreateChangeSet");
    assert!(!sent.is_empty());
    for r in &sent {
        assert!(r["error"].is_null(), "a CreateChangeSet was refused: {r}");
        let params = r["parameters"].to_string();
        assert!(!params.contains("pending:"), "a placeholder was sent: {r}");
    }
}

const STACK: &str = "MedplumStaging";
const EDGE: &str = "MedplumStaging-us-east-1";

/// Scenario 1: one region. The stack is created to CREATE_COMPLETE, its outputs are in the
/// journal, and a second deploy and a diff find nothing to do.
#[test]
fn scenario_1_a_deploy_in_us_east_1_creates_the_stack_then_finds_nothing_to_do() {
    let (emu, dir) = installed("us-east-1");
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("Deployed."), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    let types: std::collections::BTreeSet<String> = stack_resources(&emu, "us-east-1", STACK)
        .into_iter()
        .map(|r| r.1)
        .collect();
    for t in [
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::CloudFront::Distribution",
        "AWS::WAFv2::WebACL",
        "AWS::SecretsManager::Secret",
        "AWS::ECS::Service",
    ] {
        assert!(types.contains(t), "no {t} in {types:?}");
    }
    // The journal records the stack as CloudFormation reports it (a single-region stack has
    // no outputs, as the CDK's; scenario 2 checks recorded outputs).
    let rec = &journal(dir.path())["extra"]["deploy"];
    assert_eq!(rec["ok"], true, "{rec}");
    assert_journal_matches(&emu, dir.path(), "us-east-1", STACK, 0);
    every_change_set_was_valid(&emu);

    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes."), "{out}");
    let (code, out, err) = run(&emu, dir.path(), &["diff"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}

/// Scenario 2: a primary region other than us-east-1. Both stacks are created; the us-east-1
/// stack receives the real origin access identity ids, and the buckets' policies (read through
/// S3) grant exactly those identities.
#[test]
fn scenario_2_a_deploy_in_eu_west_1_wires_the_identities_into_both_stacks() {
    let (emu, dir) = installed("eu-west-1");
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "eu-west-1", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        stack_status(&emu, "us-east-1", EDGE).as_deref(),
        Some("CREATE_COMPLETE")
    );
    every_change_set_was_valid(&emu);

    assert_journal_matches(&emu, dir.path(), "eu-west-1", STACK, 0);
    assert_journal_matches(&emu, dir.path(), "us-east-1", EDGE, 1);
    let primary: std::collections::BTreeMap<String, String> =
        outputs(&emu, "eu-west-1", STACK).into_iter().collect();
    let app_oai = primary
        .get("AppOriginAccessIdentity")
        .expect("app OAI output");
    let storage_oai = primary
        .get("StorageOriginAccessIdentity")
        .expect("storage OAI output");
    // The edge stack was created with those values.
    let c = cfn(&emu, "us-east-1");
    let edge_params: Vec<(String, String)> = rt().block_on(async {
        let out = c.describe_stacks().stack_name(EDGE).send().await.unwrap();
        out.stacks()[0]
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    });
    assert!(
        edge_params.contains(&("AppOriginAccessIdentity".into(), app_oai.clone())),
        "{edge_params:?}"
    );
    assert!(
        edge_params.contains(&("StorageOriginAccessIdentity".into(), storage_oai.clone())),
        "{edge_params:?}"
    );

    // Each bucket's policy grants its identity, and no other.
    let buckets: Vec<(String, String)> = stack_resources(&emu, "eu-west-1", STACK)
        .into_iter()
        .filter(|r| r.1 == "AWS::S3::Bucket")
        .filter(|r| r.0.starts_with("FrontEndAppBucket") || r.0.starts_with("StorageStorageBucket"))
        .map(|r| (r.0, r.2))
        .collect();
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&rt().block_on(emu.sdk("eu-west-1")))
            .force_path_style(true)
            .build(),
    );
    let cf = aws_sdk_cloudfront::Client::new(&rt().block_on(emu.sdk("us-east-1")));
    for (logical, bucket) in &buckets {
        let policy = rt()
            .block_on(s3.get_bucket_policy().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("GetBucketPolicy {bucket}: {e:?}"));
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let granted: std::collections::BTreeSet<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .map(|s| s["Principal"].to_string())
            .collect();
        let want = if logical.starts_with("FrontEnd") {
            app_oai
        } else {
            storage_oai
        };
        // The grant names the identity's S3 canonical user, as CloudFront reports it.
        let canonical = rt().block_on(async {
            let out = cf
                .get_cloud_front_origin_access_identity()
                .id(want)
                .send()
                .await
                .unwrap();
            out.cloud_front_origin_access_identity()
                .unwrap()
                .s3_canonical_user_id()
                .to_string()
        });
        assert_eq!(
            granted,
            std::collections::BTreeSet::from([json!({"CanonicalUser": canonical}).to_string()]),
            "{logical}: {policy}"
        );
    }

    // The web app into these stacks (offline, from a package file): the bucket is the primary's
    // in eu-west-1, the distribution the us-east-1 stack's, found by the CDK's logical IDs.
    let tarball = dir.path().join("app.tgz");
    std::fs::write(&tarball, crate::app::package_tgz("5.0.10")).unwrap();
    let (code, out, err) = run(
        &emu,
        dir.path(),
        &["app", "--app-tarball", tarball.to_str().unwrap()],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let app_bucket = &buckets
        .iter()
        .find(|b| b.0.starts_with("FrontEnd"))
        .unwrap()
        .1;
    let listed = rt()
        .block_on(s3.list_objects_v2().bucket(app_bucket).send())
        .unwrap();
    assert!(
        listed
            .contents()
            .iter()
            .any(|o| o.key() == Some("index.html")),
        "{listed:?}"
    );
    let distribution = stack_resources(&emu, "us-east-1", EDGE)
        .into_iter()
        .find(|r| {
            r.1 == "AWS::CloudFront::Distribution" && r.0.starts_with("FrontEndAppDistribution")
        })
        .unwrap()
        .2;
    let inv = emu.delivery("CreateInvalidation");
    assert_eq!(inv.len(), 1, "{inv:?}");
    assert_eq!(inv[0]["distributionId"], distribution.as_str());
}

/// Scenario 3: an update in place. Changing `desiredServerCount` from 1 to 2 shows exactly that
/// change in the diff, and the deploy updates the service without replacing anything.
#[test]
fn scenario_3_an_update_changes_exactly_the_service() {
    let (emu, dir) = installed("us-east-1");
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let before = stack_resources(&emu, "us-east-1", STACK);

    set_config(dir.path(), "desiredServerCount", json!(2));

    let (code, out, err) = run(&emu, dir.path(), &["diff"]);
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to remove."),
        "{out}"
    );
    // One changed row, the service; nothing added, removed or replaced.
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(['+', '-', '~', '±']))
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0].contains(SERVICE), "{out}");
    // ... and under it the one property that changes, with its values.
    assert!(out.contains("DesiredCount: 1 -> 2"), "{out}");

    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("UPDATE_COMPLETE")
    );
    // Same resources, same physical ids: nothing was replaced.
    assert_eq!(stack_resources(&emu, "us-east-1", STACK), before);
}

/// Waits until `name` in `region` reaches `status`.
fn wait_for_status(emu: &Moto, region: &str, name: &str, status: &str) -> bool {
    wait_until(Duration::from_secs(60), || {
        stack_status(emu, region, name).as_deref() == Some(status)
    })
}

const SERVICE: &str = "BackEndFargateServiceD3B260C0";

/// Scenario 4: a first create that fails on one resource rolls back, with the reason under that
/// resource's row; the next deploy deletes the ROLLBACK_COMPLETE stack, creates it again and
/// succeeds, and the storage bucket (DeletionPolicy Retain, fixed name) does not block it because
/// the failed create removed what it had made (RetainExceptOnCreate).
#[test]
fn scenario_4_a_failed_create_rolls_back_and_the_next_deploy_recreates_the_stack() {
    let (emu, dir) = installed("us-east-1");
    emu.set_faults(json!([{
        "logicalId": SERVICE, "on": "create", "times": 1,
        "reason": "Resource handler returned message: \"Injected: the service did not start\""
    }]));
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let all = format!("{out}\n{err}");
    assert!(all.contains("Injected: the service did not start"), "{all}");
    assert!(all.contains(SERVICE), "{all}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("ROLLBACK_COMPLETE")
    );

    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("ROLLBACK_COMPLETE"),
        "the re-run says why it re-creates:\n{out}"
    );
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    every_change_set_was_valid(&emu);
}

/// Scenario 5: an update that fails rolls back to the old stack (UPDATE_ROLLBACK_COMPLETE,
/// exit 1) with every resource as it was, and the next deploy works.
#[test]
fn scenario_5_a_failed_update_keeps_the_old_stack_and_the_next_deploy_works() {
    let (emu, dir) = installed("us-east-1");
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let before = stack_resources(&emu, "us-east-1", STACK);
    set_config(dir.path(), "desiredServerCount", json!(2));
    emu.set_faults(json!([{
        "logicalId": SERVICE, "on": "update", "times": 1,
        "reason": "Injected: the new tasks failed their health checks"
    }]));
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let all = format!("{out}\n{err}");
    assert!(
        all.contains("Injected: the new tasks failed their health checks"),
        "{all}"
    );
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("UPDATE_ROLLBACK_COMPLETE")
    );
    assert_eq!(stack_resources(&emu, "us-east-1", STACK), before);

    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("UPDATE_COMPLETE")
    );
}

/// Sets one key of the config file.
fn set_config(dir: &Path, key: &str, value: Value) {
    let path = dir.join("medplum.staging.config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg[key] = value;
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
}

/// A deploy started in the background, its output going to files in `dir`.
fn spawn_deploy(emu: &Moto, dir: &Path) -> std::process::Child {
    let d = dir.to_str().unwrap();
    let mut c = crate::harness::cmd(dir);
    c.envs(emu.env())
        .args(["deploy", "--yes", "--dir", d, "--output", "plain"])
        .stdout(std::fs::File::create(dir.join("deploy.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("deploy.err")).unwrap());
    c.spawn().expect("start medplum-init deploy")
}

/// True once the emulator holds `logical` in `status` in the stack.
fn resource_in(emu: &Moto, region: &str, stack: &str, logical: &str, status: &str) -> bool {
    let c = cfn(emu, region);
    rt().block_on(async {
        let Ok(out) = c.describe_stack_resources().stack_name(stack).send().await else {
            return false;
        };
        out.stack_resources().iter().any(|r| {
            r.logical_resource_id() == Some(logical)
                && r.resource_status().map(|s| s.as_str()) == Some(status)
        })
    })
}

fn interrupt(child: &std::process::Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// A deploy whose `op` ("create" or "update") hangs on the service, interrupted (SIGINT, as
/// Ctrl-C) once the service is in progress; asserts exit 130 and returns its stderr.
fn interrupted_deploy(emu: &Moto, dir: &Path, op: &str) -> String {
    emu.set_faults(json!([{"logicalId": SERVICE, "on": op, "hang": true}]));
    let mut child = spawn_deploy(emu, dir);
    let status = format!("{}_IN_PROGRESS", op.to_uppercase());
    assert!(
        wait_until(Duration::from_secs(120), || resource_in(
            emu,
            "us-east-1",
            STACK,
            SERVICE,
            &status
        )),
        "the {op} never reached the service"
    );
    interrupt(&child);
    let exit = child.wait().unwrap();
    let err = std::fs::read_to_string(dir.join("deploy.err")).unwrap();
    assert_eq!(exit.code(), Some(130), "{err}");
    err
}

/// Scenario 6: Ctrl-C once during a create deletes the half-made stack, and during an update
/// cancels it (CloudFormation rolls back); both exit 130 and a re-run converges.
#[test]
fn scenario_6_ctrl_c_during_a_create_and_an_update_leaves_a_consistent_stack() {
    let (emu, dir) = installed("us-east-1");
    let err = interrupted_deploy(&emu, dir.path(), "create");
    assert!(
        err.contains(&format!("deleting {STACK}, which was being created")),
        "{err}"
    );
    // The delete kept the storage bucket (DeletionPolicy Retain); it was empty, so it is gone.
    assert!(
        err.contains("removed the empty bucket storage.example.com"),
        "{err}"
    );
    assert!(
        wait_until(Duration::from_secs(120), || stack_status(
            &emu,
            "us-east-1",
            STACK
        )
        .is_none()),
        "stack left as {:?}",
        stack_status(&emu, "us-east-1", STACK)
    );

    emu.set_faults(json!([]));
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");

    // Now an update, interrupted while the service is updating.
    let before = stack_resources(&emu, "us-east-1", STACK);
    set_config(dir.path(), "desiredServerCount", json!(2));
    let err = interrupted_deploy(&emu, dir.path(), "update");
    assert!(
        err.contains(&format!("cancelling the update of {STACK}")),
        "{err}"
    );
    assert!(wait_for_status(
        &emu,
        "us-east-1",
        STACK,
        "UPDATE_ROLLBACK_COMPLETE"
    ));
    assert_eq!(stack_resources(&emu, "us-east-1", STACK), before);

    emu.set_faults(json!([]));
    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("UPDATE_COMPLETE")
    );
}

/// Scenario 8: a deploy killed (SIGKILL) while its stack is being created; the next deploy
/// attaches to the operation still in progress and follows it to the end instead of refusing a
/// busy stack.
#[test]
fn scenario_8_a_killed_deploy_is_followed_to_the_end_by_the_next_one() {
    // Slow resources, so the create is still running when the second deploy starts.
    let (emu, dir) = installed_with("us-east-1", &[("MEDPLUM_EMULATOR_RESOURCE_DELAY", "0.2")]);
    let mut child = spawn_deploy(&emu, dir.path());
    assert!(
        wait_until(Duration::from_secs(120), || stack_status(
            &emu,
            "us-east-1",
            STACK
        )
        .as_deref()
            == Some("CREATE_IN_PROGRESS")),
        "the create never started"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_IN_PROGRESS")
    );

    let (code, out, err) = run(&emu, dir.path(), &["deploy", "--yes"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    // One stack, one create: the re-run made no second stack or change set execution.
    assert_eq!(emu.requests("ExecuteChangeSet").len(), 1);
}

/// A stack that makes no progress: the service never stabilises (a `hang` fault: the service
/// exists and stays CREATE_IN_PROGRESS), one of its tasks stopped with a reason, so after
/// `--diagnose-after` the deploy reads ECS and shows that reason under the service's row, and
/// `--timeout` ends the wait with exit 1 while CloudFormation carries on. Moto launches no tasks
/// for a service and ignores ListTasks' `serviceName`, so the test runs and stops a task in the
/// service's cluster itself; it checks the wiring to the real ECS API (what the lines say with
/// several events and tasks is tested with a fake in src/deploy/).
#[test]
fn a_service_that_never_stabilises_is_diagnosed_and_the_timeout_ends_the_wait() {
    let (emu, dir) = installed("us-east-1");
    emu.set_faults(json!([{"logicalId": SERVICE, "on": "create", "hang": true}]));
    let d = dir.path().to_str().unwrap().to_string();
    let mut c = crate::harness::cmd(dir.path());
    c.envs(emu.env())
        .args([
            "deploy",
            "--yes",
            "--dir",
            &d,
            "--output",
            "json",
            "--diagnose-after",
            "3s",
            "--timeout",
            "60s",
        ])
        .stdout(std::fs::File::create(dir.path().join("deploy.out")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("deploy.err")).unwrap());
    let mut child = c.spawn().unwrap();
    // The deploy looks at ECS 10 s after the service started and then once a minute: the task
    // is stopped well within those 10 s, so the first look finds it.
    assert!(
        wait_until(Duration::from_secs(120), || resource_in(
            &emu,
            "us-east-1",
            STACK,
            SERVICE,
            "CREATE_IN_PROGRESS"
        ) && physical(&emu, SERVICE)
            .is_some()),
        "the service never started"
    );
    let cluster = physical(&emu, "BackEndCluster6B6DC4A8").expect("the cluster");
    let subnet = physical(&emu, "BackEndVPCPrivateSubnet1SubnetD50C9513").expect("a subnet");
    let group = physical(&emu, "BackEndServiceSecurityGroupAB991791").expect("a group");
    let ecs = aws_sdk_ecs::Client::new(&rt().block_on(emu.sdk("us-east-1")));
    rt().block_on(async {
        use aws_sdk_ecs::types::{AwsVpcConfiguration, ContainerDefinition, NetworkConfiguration};
        let td = ecs
            .register_task_definition()
            .family("medplum-probe")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("medplum-server")
                    .image("medplum/medplum-server:latest")
                    .memory(512)
                    .cpu(256)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let task = ecs
            .run_task()
            .cluster(&cluster)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .task_definition(td.task_definition().unwrap().task_definition_arn().unwrap())
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets(&subnet)
                            .security_groups(&group)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ecs.stop_task()
            .cluster(&cluster)
            .task(task.tasks()[0].task_arn().unwrap())
            .reason("Essential container in task exited")
            .send()
            .await
            .unwrap();
    });
    let status = child.wait().unwrap();
    let stdout = std::fs::read_to_string(dir.path().join("deploy.out")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("deploy.err")).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let diagnosis = events
        .iter()
        .find(|e| e["event"] == "service_diagnosis")
        .unwrap_or_else(|| panic!("no service_diagnosis event:\n{stdout}"));
    assert_eq!(diagnosis["logical_id"], SERVICE, "{diagnosis}");
    assert!(
        diagnosis["stopped_tasks"]
            .to_string()
            .contains("Essential container in task exited"),
        "{diagnosis}"
    );
    // The deploy stopped waiting; CloudFormation (the emulator) is still creating.
    assert_eq!(
        stack_status(&emu, "us-east-1", STACK).as_deref(),
        Some("CREATE_IN_PROGRESS")
    );
}

/// The physical id of `logical` in the stack, once it has one.
fn physical(emu: &Moto, logical: &str) -> Option<String> {
    stack_resources(emu, "us-east-1", STACK)
        .into_iter()
        .find(|r| r.0 == logical)
        .map(|r| r.2)
        .filter(|p| !p.is_empty())
}
