//! `rotate signing-key` against the emulator, on an environment installed and deployed by
//! medplum-init: a full rotation ends with the old key gone from CloudFront and the key group,
//! the new one in SSM, CloudFront, the config and the key group, and the ECS service redeployed;
//! a rotation killed (SIGKILL) after each stage, and inside its writes, resumes to the same end
//! with one new key, never two; one paused in its grace period shows in `status` and is
//! completed by `--finish` once the period has passed.
//!
//! The emulator's forced ECS deployments take time (MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS), as
//! ECS's do; moto alone finished them at once.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Moto, answers, cmd, rt, run_against, text};

const INSTALL: &str = "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n";

fn installed_and_deployed() -> (Moto, tempfile::TempDir) {
    installed_and_deployed_with(&[])
}

fn installed_and_deployed_with(env: &[(&str, &str)]) -> (Moto, tempfile::TempDir) {
    let mut all = vec![
        ("MEDPLUM_EMULATOR_SES_PRODUCTION", "1"),
        ("MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS", "1"),
    ];
    all.extend_from_slice(env);
    let moto = Moto::start_with(&all);
    crate::harness::create_zone(&moto, "example.com");
    let dir = tempfile::tempdir().unwrap();
    answers(dir.path(), INSTALL);
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run_against(&moto, dir.path(), &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    moto.verify_ses_identity("support@example.com");
    (moto, dir)
}

/// What the rotation's end state is made of.
#[derive(Debug, PartialEq)]
struct Keys {
    cloudfront: Vec<String>,
    key_group: Vec<String>,
    ssm_id: String,
    /// The public half of the private key in SSM, decrypted with the passphrase in SSM.
    ssm_public: String,
    config_id: String,
    config_public: String,
    retiring: Option<String>,
    deployments: Vec<(String, String)>,
}

fn keys(moto: &Moto, dir: &Path) -> Keys {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("medplum.staging.config.json")).unwrap(),
    )
    .unwrap();
    let sdk = rt().block_on(moto.sdk("us-east-1"));
    let resources = crate::harness::stack_resources(moto, "us-east-1", "MedplumStaging");
    rt().block_on(async {
        let cf = aws_sdk_cloudfront::Client::new(&sdk);
        let mut cloudfront: Vec<String> = cf
            .list_public_keys()
            .send()
            .await
            .unwrap()
            .public_key_list()
            .map(|l| l.items().iter().map(|k| k.id().to_string()).collect())
            .unwrap_or_default();
        cloudfront.sort();
        let group = resources
            .iter()
            .find(|(_, ty, _)| ty == "AWS::CloudFront::KeyGroup")
            .map(|(_, _, id)| id.clone())
            .unwrap();
        let key_group = cf
            .get_key_group()
            .id(&group)
            .send()
            .await
            .unwrap()
            .key_group()
            .unwrap()
            .key_group_config()
            .unwrap()
            .items()
            .to_vec();
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let get = |name: &'static str| {
            let ssm = ssm.clone();
            async move {
                ssm.get_parameter()
                    .name(format!("/medplum/staging/{name}"))
                    .with_decryption(true)
                    .send()
                    .await
                    .unwrap()
                    .parameter()
                    .unwrap()
                    .value()
                    .unwrap()
                    .to_string()
            }
        };
        let ssm_public = medplum_init::crypto::keypair::public_pem_of_encrypted(
            &medplum_init::crypto::Secret::new(get("signingKey").await),
            &medplum_init::crypto::Secret::new(get("signingKeyPassphrase").await),
        )
        .unwrap();
        let service = resources
            .iter()
            .find(|(_, ty, _)| ty == "AWS::ECS::Service")
            .map(|(_, _, id)| id.clone())
            .unwrap();
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let cluster = service
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string();
        let described = ecs
            .describe_services()
            .cluster(cluster)
            .services(&service)
            .send()
            .await
            .unwrap();
        let deployments = described.services()[0]
            .deployments()
            .iter()
            .map(|d| {
                (
                    d.id().unwrap_or_default().to_string(),
                    d.rollout_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        Keys {
            cloudfront,
            key_group,
            ssm_id: get("signingKeyId").await,
            ssm_public,
            config_id: config["signingKeyId"].as_str().unwrap().to_string(),
            config_public: config["storagePublicKey"].as_str().unwrap().to_string(),
            retiring: config["medplumInitRetiringSigningKeyId"]
                .as_str()
                .map(str::to_string),
            deployments,
        }
    })
}

fn rotate(moto: &Moto, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(dir)
        .envs(moto.env())
        .args(["rotate", "signing-key", "--output", "plain"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Checks the state a finished rotation leaves, from `before` (the old key's state).
fn assert_rotated(after: &Keys, before: &Keys) {
    let new = &after.config_id;
    assert_ne!(new, &before.config_id, "the key did not change");
    assert_eq!(after.cloudfront, vec![new.clone()], "{after:#?}");
    assert_eq!(after.key_group, vec![new.clone()], "{after:#?}");
    assert_eq!(&after.ssm_id, new);
    assert!(
        medplum_init::crypto::keypair::same_public_key(&after.ssm_public, &after.config_public)
            .unwrap(),
        "SSM's private key is not the config's public key"
    );
    assert_eq!(after.retiring, None);
    // The servers were redeployed: a deployment of their own, completed.
    let (id, state) = &after.deployments[0];
    assert!(
        !before.deployments.iter().any(|(b, _)| b == id),
        "no new deployment: {after:#?}"
    );
    assert_eq!(state, "COMPLETED");
    assert_eq!(after.deployments.len(), 1);
}

#[test]
fn a_full_rotation_replaces_the_key_everywhere_and_redeploys_the_servers() {
    let (moto, dir) = installed_and_deployed();
    let before = keys(&moto, dir.path());
    assert_eq!(before.key_group, vec![before.config_id.clone()]);

    // Without a terminal and without --yes: refused, nothing changed.
    let (code, _, err) = rotate(&moto, dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(keys(&moto, dir.path()), before);

    let (code, _, err) = rotate(&moto, dir.path(), &["--yes", "--grace", "0s"]);
    assert_eq!(code, 0, "{err}");
    for n in 1..=5 {
        assert!(err.contains(&format!("rotation stage {n} of 5")), "{err}");
    }
    assert!(err.contains("new tasks running"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    let after = keys(&moto, dir.path());
    assert_rotated(&after, &before);
    assert!(
        !dir.path()
            .join(".medplum-init/staging/rotating-signing-key.json")
            .exists()
    );

    // The environment is healthy on the new key, and a plain re-run of the key step keeps it.
    let out = run_against(&moto, dir.path(), &["status", "--output", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = run_against(&moto, dir.path(), &["step", "signing-key"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(keys(&moto, dir.path()), after);
}

/// Starts a rotation that stops dead at `point`, SIGKILLs it, and says whether it got there.
fn kill_rotation_at(moto: &Moto, dir: &Path, point: &str) -> bool {
    crate::harness::kill_at(
        moto,
        dir,
        &[
            "rotate",
            "signing-key",
            "--yes",
            "--grace",
            "0s",
            "--output",
            "plain",
        ],
        point,
    )
}

#[test]
fn a_rotation_killed_at_any_stage_resumes_to_one_new_key() {
    let (moto, dir) = installed_and_deployed();
    for point in [
        "cloudfront:CreatePublicKey",
        "rotate:registered",
        "rotate:both_trusted",
        "ssm:PutParameter#2",
        "rotate:written",
        "ecs:UpdateService",
        "rotate:restarted",
    ] {
        let before = keys(&moto, dir.path());
        assert!(
            kill_rotation_at(&moto, dir.path(), point),
            "{point} not reached"
        );
        // Killed: both keys (or only the old) still verify; the old one is never gone early.
        let mid = keys(&moto, dir.path());
        assert!(
            mid.key_group.contains(&before.config_id),
            "{point}: {mid:#?}"
        );
        let (code, _, err) = rotate(&moto, dir.path(), &["--yes", "--grace", "0s"]);
        assert_eq!(code, 0, "{point}: {err}");
        assert!(err.contains("resume the rotation"), "{point}: {err}");
        assert_rotated(&keys(&moto, dir.path()), &before);
    }
}

#[test]
fn a_rotation_in_its_grace_period_shows_in_status_and_finishes_later() {
    let (moto, dir) = installed_and_deployed();
    let before = keys(&moto, dir.path());
    // Stopped for good once the servers run the new key: the grace period is what is left.
    assert!(kill_rotation_at(&moto, dir.path(), "rotate:restarted"));
    let journal = dir.path().join(".medplum-init/staging/state.json");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    state["extra"]["rotation"]["grace_seconds"] = 3900.into();
    std::fs::write(&journal, serde_json::to_string(&state).unwrap()).unwrap();

    let mid = keys(&moto, dir.path());
    assert_eq!(mid.key_group.len(), 2, "both keys trusted: {mid:#?}");
    // The steps that write the key, its id or the config wait for the rotation to end.
    for s in ["signing-key", "parameters", "config"] {
        let out = run_against(&moto, dir.path(), &["step", s, "--yes"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "step {s}: {err}");
        assert!(
            err.contains("a signing key rotation is in progress"),
            "{err}"
        );
    }
    assert_eq!(keys(&moto, dir.path()), mid);
    let out = run_against(&moto, dir.path(), &["status", "--output", "plain"]);
    let report = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a rotation is a warning: {report}"
    );
    let line = report.lines().find(|l| l.contains(" rotation ")).unwrap();
    assert!(line.contains("may finish after"), "{report}");

    let (code, _, err) = rotate(&moto, dir.path(), &["--finish", "--grace", "2h"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the grace period ends at"), "{err}");
    assert!(
        err.contains("--grace 2h00m does not apply: the rotation in progress keeps the 1h05m"),
        "{err}"
    );
    assert_eq!(keys(&moto, dir.path()).cloudfront.len(), 2);

    // The period passes while medplum-init is not running.
    state["extra"]["rotation"]["restarted_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&journal, serde_json::to_string(&state).unwrap()).unwrap();
    let (code, _, err) = rotate(&moto, dir.path(), &["--finish"]);
    assert_eq!(code, 0, "{err}");
    assert_rotated(&keys(&moto, dir.path()), &before);
    let (code, _, err) = rotate(&moto, dir.path(), &["--finish"]);
    assert_eq!(code, 2, "nothing left to finish: {err}");
}

#[test]
fn a_restart_that_fails_stops_with_both_keys_trusted_and_says_how_to_resume() {
    // ECS's circuit breaker rolls the new deployment back: the old tasks keep serving.
    let (moto, dir) = installed_and_deployed_with(&[("MEDPLUM_EMULATOR_ECS_ROLLOUT_FAILS", "1")]);
    let before = keys(&moto, dir.path());
    let (code, _, err) = rotate(&moto, dir.path(), &["--yes", "--grace", "0s"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not start on the new key"), "{err}");
    assert!(err.contains("circuit breaker"), "{err}");
    assert!(err.contains("rotate signing-key` again to resume"), "{err}");
    let mid = keys(&moto, dir.path());
    // Both keys verify, the old one is still in CloudFront, nothing retired.
    assert_eq!(mid.key_group.len(), 2, "{mid:#?}");
    assert!(mid.key_group.contains(&before.config_id));
    assert!(mid.cloudfront.contains(&before.config_id));
    assert_eq!(mid.retiring.as_deref(), Some(before.config_id.as_str()));
    let out = run_against(&moto, dir.path(), &["status", "--output", "plain"]);
    let report = text(&out.stdout);
    assert!(
        report.contains("stage 4 of 5 next"),
        "status shows where the rotation stopped: {report}"
    );
}
