//! `medplum-init diff` and `deploy` of small templates against the emulator.
//!
//! Medplum's whole stacks are deployed end to end in `deploy_e2e.rs`. These tests keep small
//! templates of a few types (SSM parameters, S3 buckets, log groups) for what is easier to see on
//! them: both stacks created in order with their tags, a second deploy with no changes, a diff
//! with add/modify/remove rows that changes nothing and leaves no change set or empty stack, the
//! private staging bucket for large templates, the refusal without a terminal, JSON lines, and the
//! refusal of a plan that removes the storage bucket. Live progress, throttling and the panes are
//! also tested at unit level with recorded event streams and a fake clock (src/deploy/*_tests.rs,
//! src/ui/deploy/).

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Moto, cfn, rt, run_against, stack_resources, stack_status, text};

const STACK: &str = "MedplumStagingStack";
const COMPANION: &str = "MedplumStagingStack-us-east-1";

/// The reference config, deployed to `region`.
fn write_config(dir: &Path, region: &str) {
    let mut c: Value = serde_json::from_str(include_str!(
        "../fixtures/reference/medplum.staging.config.json"
    ))
    .unwrap();
    c["region"] = json!(region);
    std::fs::write(
        dir.join("medplum.staging.config.json"),
        serde_json::to_string_pretty(&c).unwrap(),
    )
    .unwrap();
}

struct Primary {
    region_value: &'static str,
    storage: bool,
    logs: bool,
    extra: bool,
    padding: usize,
}

impl Default for Primary {
    fn default() -> Self {
        Self {
            region_value: "us-west-2",
            storage: true,
            logs: true,
            extra: false,
            padding: 0,
        }
    }
}

fn primary(p: &Primary) -> Value {
    let mut res = json!({
        "RegionParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/medplum/staging/awsRegion", "Type": "String", "Value": p.region_value}
        }
    });
    if p.storage {
        res["StorageBucket"] = json!({
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": "medplum-staging-it-storage"}
        });
    }
    if p.logs {
        res["AppLogs"] = json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/medplum/staging/app", "RetentionInDays": 30}
        });
    }
    if p.extra {
        res["WorkersParameter"] = json!({
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/medplum/staging/workers", "Type": "String", "Value": "2"}
        });
    }
    let mut t = json!({ "Resources": res });
    if p.padding > 0 {
        t["Description"] = json!("x".repeat(p.padding));
    }
    t
}

fn companion() -> Value {
    json!({"Resources": {"EdgeParameter": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": "/medplum/staging/edge", "Type": "String", "Value": "1"}
    }}})
}

fn write_templates(dir: &Path, primary_t: &Value, with_companion: bool) {
    let t = dir.join("templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        t.join(format!("{STACK}.template.json")),
        primary_t.to_string(),
    )
    .unwrap();
    let c = t.join(format!("{COMPANION}.template.json"));
    if with_companion {
        std::fs::write(c, companion().to_string()).unwrap();
    } else {
        let _ = std::fs::remove_file(c);
    }
}

/// A moto and a folder with the reference config in us-east-1 and the default primary template.
fn ready() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "us-east-1");
    write_templates(dir.path(), &primary(&Primary::default()), false);
    (moto, dir)
}

fn run(moto: &Moto, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let mut all = args.to_vec();
    all.extend(["--dir", d, "--templates", "templates"]);
    let out = run_against(moto, dir, &all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn change_set_count(moto: &Moto, region: &str, name: &str) -> usize {
    let c = cfn(moto, region);
    rt().block_on(async {
        c.list_change_sets()
            .stack_name(name)
            .send()
            .await
            .map(|o| o.summaries().len())
            .unwrap_or(0)
    })
}

fn parameter(moto: &Moto, region: &str, name: &str) -> Option<String> {
    let c = aws_sdk_ssm::Client::new(&rt().block_on(moto.sdk(region)));
    rt().block_on(async {
        let out = c.get_parameter().name(name).send().await.ok()?;
        out.parameter()?.value().map(str::to_string)
    })
}

#[test]
fn deploy_creates_both_stacks_and_a_second_deploy_reports_no_changes() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "us-west-2");
    write_templates(dir.path(), &primary(&Primary::default()), true);

    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Plan: 4 to add, 0 to change, 0 to remove."),
        "{out}"
    );
    assert!(out.contains("Deployed."), "{out}");
    assert!(out.contains("https://app.staging.example.com/"));
    assert!(out.contains("medplum-init app --env staging"), "{out}");
    assert!(!out.contains("npx"), "no Node: {out}");
    // The primary stack first, then the us-east-1 companion.
    let primary_at = err
        .find(&format!("Deploying {STACK} (us-west-2)"))
        .expect(&err);
    let companion_at = err
        .find(&format!("Deploying {COMPANION} (us-east-1)"))
        .expect(&err);
    assert!(primary_at < companion_at);

    assert_eq!(
        stack_status(&moto, "us-west-2", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        stack_status(&moto, "us-east-1", COMPANION).as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        parameter(&moto, "us-west-2", "/medplum/staging/awsRegion").as_deref(),
        Some("us-west-2")
    );
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/edge").as_deref(),
        Some("1")
    );
    let client = cfn(&moto, "us-west-2");
    let tags: Vec<(String, String)> = rt().block_on(async {
        client
            .describe_stacks()
            .stack_name(STACK)
            .send()
            .await
            .unwrap()
            .stacks()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect()
    });
    assert_eq!(
        tags,
        [("medplum:environment".to_string(), "staging".to_string())]
    );

    // The journal records both stacks.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    let rec = &state["extra"]["deploy"];
    assert_eq!(rec["ok"], true);
    assert_eq!(rec["stacks"][0]["name"], STACK);
    assert_eq!(rec["stacks"][1]["region"], "us-east-1");
    assert!(
        rec["stacks"][0]["stack_id"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:us-west-2:")
    );

    // Again: nothing to do, and the empty change sets are deleted (moto keeps the executed one).
    let before = change_set_count(&moto, "us-west-2", STACK);
    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes."), "{out}");
    assert!(!err.contains("Deploying"), "{err}");
    assert_eq!(change_set_count(&moto, "us-west-2", STACK), before);
}

#[test]
fn diff_lists_adds_modifies_and_removes_and_changes_nothing() {
    let (moto, dir) = ready();
    let (code, _, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "{err}");

    // Unchanged templates: exit 0.
    let (code, out, err) = run(&moto, dir.path(), &["diff"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes."));

    let changed = Primary {
        region_value: "us-east-1b",
        logs: false,
        extra: true,
        ..Default::default()
    };
    write_templates(dir.path(), &primary(&changed), false);
    let before = change_set_count(&moto, "us-east-1", STACK);
    let (code, out, err) = run(&moto, dir.path(), &["diff"]);
    assert_eq!(code, 3, "changes present\nstdout:\n{out}\nstderr:\n{err}");
    let line = |sym: &str, id: &str, ty: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w == [sym, id, ty]
        })
    };
    assert!(
        line("+", "WorkersParameter", "AWS::SSM::Parameter"),
        "{out}"
    );
    assert!(line("~", "RegionParameter", "AWS::SSM::Parameter"), "{out}");
    assert!(line("-", "AppLogs", "AWS::Logs::LogGroup"), "{out}");
    assert!(out.contains("1 to add, 1 to change, 1 to remove"), "{out}");
    // Grouped like the panes.
    assert!(out.find("Secrets & params").unwrap() < out.find("Logs & alarms").unwrap());

    // A diff deploys nothing and leaves no change set behind.
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/awsRegion").as_deref(),
        Some("us-west-2")
    );
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/workers"),
        None
    );
    assert_eq!(change_set_count(&moto, "us-east-1", STACK), before);

    // JSON: one change_set object per stack with its rows.
    let (code, out, _) = run(&moto, dir.path(), &["diff", "--output", "json"]);
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["event"], "change_set");
    assert_eq!(v["summary"]["remove"], 1);

    // Deploying it applies the change.
    let (code, _, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/awsRegion").as_deref(),
        Some("us-east-1b")
    );
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/workers").as_deref(),
        Some("2")
    );
    assert_eq!(
        stack_status(&moto, "us-east-1", STACK).as_deref(),
        Some("UPDATE_COMPLETE")
    );
}

// Moto reports removals but never replacements or property values: the other risks (a replaced
// cluster, a major engine upgrade) are tested in src/deploy/guard_tests.rs.
#[test]
fn a_plan_that_removes_the_storage_bucket_is_refused_unless_allowed() {
    let (moto, dir) = ready();
    let (code, _, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "{err}");
    let deployed = stack_resources(&moto, "us-east-1", STACK);
    assert!(
        deployed.iter().any(|(id, ..)| id == "StorageBucket"),
        "{deployed:?}"
    );
    let change_sets = change_set_count(&moto, "us-east-1", STACK);

    let without = Primary {
        storage: false,
        ..Default::default()
    };
    write_templates(dir.path(), &primary(&without), false);
    let (code, out, err) = run(&moto, dir.path(), &["diff"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("  ! StorageBucket removed: it holds stored files"),
        "{out}"
    );
    assert!(out.contains("a deploy needs --allow-data-risk"), "{out}");

    // --yes is not enough: nothing executes and no change set is left behind.
    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("not deploying: the plan puts stored data at risk (StorageBucket"),
        "{err}"
    );
    assert!(err.contains("--allow-data-risk"), "{err}");
    assert_eq!(stack_resources(&moto, "us-east-1", STACK), deployed);
    assert_eq!(change_set_count(&moto, "us-east-1", STACK), change_sets);

    // In JSON the risk travels with the change set.
    let (code, out, _) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["risks"][0]["logical_id"], "StorageBucket");
    assert_eq!(v["risks"][0]["severity"], "blocking");

    let (code, _, err) = run(
        &moto,
        dir.path(),
        &["deploy", "--yes", "--allow-data-risk", "--output", "plain"],
    );
    assert_eq!(code, 0, "{err}");
    let after = stack_resources(&moto, "us-east-1", STACK);
    assert!(
        !after.iter().any(|(id, ..)| id == "StorageBucket"),
        "{after:?}"
    );
}

#[test]
fn a_diff_of_a_new_stack_leaves_no_empty_stack_behind() {
    let (moto, dir) = ready();
    let (code, out, err) = run(&moto, dir.path(), &["diff"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(&format!("{STACK} (us-east-1, new stack)")),
        "{out}"
    );
    assert!(out.contains("3 to add, 0 to change, 0 to remove"), "{out}");
    // The CREATE change set's REVIEW_IN_PROGRESS stack was deleted with it.
    assert_eq!(stack_status(&moto, "us-east-1", STACK), None);
}

#[test]
fn without_a_terminal_or_yes_nothing_is_deployed() {
    let (moto, dir) = ready();
    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--output", "plain"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Plan: 3 to add"),
        "the plan is still shown: {out}"
    );
    assert!(
        err.contains("no terminal to confirm on") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(stack_status(&moto, "us-east-1", STACK), None);
    assert_eq!(
        parameter(&moto, "us-east-1", "/medplum/staging/awsRegion"),
        None
    );
}

#[test]
fn a_large_template_goes_through_the_private_staging_bucket() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "us-west-2");
    let big = Primary {
        padding: 60_000,
        ..Default::default()
    };
    write_templates(dir.path(), &primary(&big), false);
    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("template staged at https://medplum-init-123456789012-us-west-2.s3.us-west-2.amazonaws.com/templates/MedplumStagingStack/"), "{err}");
    assert_eq!(
        stack_status(&moto, "us-west-2", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&rt().block_on(moto.sdk("us-west-2")))
            .force_path_style(true)
            .build(),
    );
    let bucket = "medplum-init-123456789012-us-west-2";
    rt().block_on(async {
        let keys: Vec<String> = s3
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(
            keys[0].starts_with("templates/MedplumStagingStack/") && keys[0].ends_with(".json")
        );
        let block = s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let b = block.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                b.block_public_acls(),
                b.ignore_public_acls(),
                b.block_public_policy(),
                b.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let enc = s3
            .get_bucket_encryption()
            .bucket(bucket)
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
        let life = s3
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        assert_eq!(life.rules()[0].expiration().unwrap().days(), Some(30));
        // The TLS-only policy is left out when S3 is reached over plain HTTP, as here (it would
        // refuse our own uploads; moto also evaluates its condition wrongly). Unit-tested in
        // src/deploy/staging.rs.
        assert!(s3.get_bucket_policy().bucket(bucket).send().await.is_err());
    });

    // The same template again: nothing new is uploaded (content-addressed key).
    let (code, _, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "plain"]);
    assert_eq!(code, 0, "{err}");
    let count = rt().block_on(async {
        s3.list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    });
    assert_eq!(count, 1);
}

#[test]
fn json_output_is_one_event_object_per_line() {
    let (moto, dir) = ready();
    let (code, out, err) = run(&moto, dir.path(), &["deploy", "--yes", "--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in [
        "change_set",
        "stack_started",
        "resource",
        "stack_finished",
        "finished",
        "deploy_summary",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert_eq!(kinds.last(), Some(&"deploy_summary"));
    let finished = events
        .iter()
        .find(|e| e["event"] == "stack_finished")
        .unwrap();
    assert_eq!(finished["status"], "CREATE_COMPLETE");
    assert_eq!(finished["ok"], true);
    assert!(
        !err.contains("Deploying"),
        "no human chrome in JSON mode: {err}"
    );
}

#[test]
fn deploy_takes_the_environment_and_folder_from_config() {
    let (moto, dir) = ready();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = dir.path().join("medplum.staging.config.json");
    let templates = dir.path().join("templates");
    let out = run_against(
        &moto,
        elsewhere.path(),
        &[
            "deploy",
            "--yes",
            "--output",
            "plain",
            "--config",
            config.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        stack_status(&moto, "us-east-1", STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    // The journal is the config's environment's, next to the config, not in the working folder.
    let journal = dir.path().join(".medplum-init/staging/state.json");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(journal).unwrap()).unwrap();
    assert!(state["extra"]["deploy"]["stacks"].is_array(), "{state}");
    assert!(!elsewhere.path().join(".medplum-init").exists());
}
