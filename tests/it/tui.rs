//! The guided install in a real terminal (tmux) against moto: a whole install at 80×24 with its
//! answers saved and replayed headless to the same config file; "deploy now" handing the
//! terminal to the deploy engine (its plan and question, answered no); Ctrl-C in the middle of a
//! run (exit 130, terminal restored, a journal the next run resumes from); and line mode on a
//! terminal too small for the full screen.
//!
//! Set MEDPLUM_TOUR_DIR to keep the screens of the whole install (docs/tour.md is made from
//! them).

use std::path::Path;
use std::time::Duration;

use crate::harness::{Moto, rt, run_against, text};
use crate::tmux::Tmux;

const STEP: Duration = Duration::from_secs(20);

fn with_zone(moto: &Moto) {
    rt().block_on(async {
        let sdk = moto.sdk("us-east-1").await;
        aws_sdk_route53::Client::new(&sdk)
            .create_hosted_zone()
            .name("example.com")
            .caller_reference("tui-test")
            .send()
            .await
            .unwrap();
    });
}

fn shot(t: &Tmux, name: &str) {
    if !t.tour {
        return;
    }
    if let Ok(dir) = std::env::var("MEDPLUM_TOUR_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{name}.txt")), t.screen()).unwrap();
    }
}

/// Answers every section with its defaults except the environment name and SES (left alone:
/// moto 5.2.5 has no sesv2 GetAccount, which the email step calls), then confirms the review.
fn answer_and_apply(t: &Tmux, env: &str) {
    t.wait_for("1/8 Environment", STEP);
    t.until("the look-ups", STEP, |s| {
        s.contains("account 123456789012") && s.contains("route53:ListHostedZones")
    });
    shot(t, "01-environment");
    t.keys(&["C-u"]);
    t.text(env);
    t.keys(&["PgDn"]);
    t.wait_for("2/8 Domains", STEP);
    t.wait_for("example.com", STEP);
    shot(t, "02-domains");
    t.keys(&["PgDn"]);
    t.wait_for("3/8 Capacity", STEP);
    t.keys(&["Tab", "Tab", "Tab", "Tab", "Tab"]);
    t.wait_for("Server memory", STEP);
    shot(t, "03-capacity");
    t.keys(&["PgDn"]);
    t.wait_for("4/8 Certificates", STEP);
    t.wait_for("acm:ListCertificates", STEP);
    shot(t, "04-certificates");
    t.keys(&["PgDn"]);
    t.wait_for("5/8 Signing key", STEP);
    t.keys(&["PgDn"]);
    t.wait_for("6/8 Email", STEP);
    t.keys(&["Tab", "End"]);
    t.wait_for("▸ Leave SES alone", STEP);
    shot(t, "05-email");
    t.keys(&["PgDn"]);
    t.wait_for("7/8 Logging", STEP);
    t.keys(&["PgDn"]);
    t.wait_for("8/8 Parameters", STEP);
    shot(t, "06-parameters");
    t.keys(&["PgDn"]);
    t.wait_for("Enter apply", STEP);
    let review = t.screen();
    assert!(review.contains("Certificates (ACM)"), "{review}");
    assert!(review.contains("request, DNS validated"), "{review}");
    shot(t, "07-review");
    t.keys(&["Enter"]);
    t.wait_for(" Applying ", STEP);
}

#[test]
fn a_whole_install_in_a_terminal_then_replayed_headless() {
    let moto = Moto::start();
    with_zone(&moto);
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tmux::start(
        dir.path(),
        &moto.env(),
        &["--save-answers", "answers.toml"],
        80,
        24,
    );
    t.tour = true;
    answer_and_apply(&t, "qa");
    // The step waits at least 2 s before it first asks ACM again.
    t.wait_for("pending validation", STEP);
    shot(&t, "08-applying");
    let done = t.wait_for(
        "The prerequisites of qa are in place",
        Duration::from_secs(120),
    );
    // With the deploy engine wired in, "deploy now" is offered first; this test leaves it for later.
    assert!(
        done.contains("▸ Deploy now") && done.contains("Deploy later"),
        "{done}"
    );
    shot(&t, "09-done");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(STEP), 0);
    t.assert_restored();
    let after = t.screen();
    assert!(after.contains("deploy with:"), "{after}");
    assert!(after.contains("medplum.qa.config.json"), "{after}");
    shot(&t, "10-after");

    // What the run wrote.
    let config_text = std::fs::read_to_string(dir.path().join("medplum.qa.config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config_text).unwrap();
    assert_eq!(config["name"], "qa");
    assert_eq!(config["accountNumber"], "123456789012");
    assert!(
        config["apiSslCertArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:acm:")
    );
    let key_id = config["signingKeyId"].as_str().unwrap().to_string();
    rt().block_on(async {
        let sdk = moto.sdk("us-east-1").await;
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let params = ssm
            .get_parameters_by_path()
            .path("/medplum/qa/")
            .with_decryption(true)
            .max_results(10)
            .send()
            .await
            .unwrap();
        let mut all = params.parameters().to_vec();
        let mut token = params.next_token().map(str::to_string);
        while let Some(tok) = token {
            let page = ssm
                .get_parameters_by_path()
                .path("/medplum/qa/")
                .with_decryption(true)
                .next_token(tok)
                .send()
                .await
                .unwrap();
            all.extend(page.parameters().iter().cloned());
            token = page.next_token().map(str::to_string);
        }
        let get = |k: &str| {
            all.iter()
                .find(|p| p.name() == Some(&format!("/medplum/qa/{k}")))
                .unwrap_or_else(|| panic!("/medplum/qa/{k} missing"))
        };
        assert_eq!(get("baseUrl").value(), Some("https://api.example.com/"));
        assert_eq!(get("supportEmail").value(), Some("support@example.com"));
        assert_eq!(get("signingKeyId").value(), Some(key_id.as_str()));
        let key = get("signingKey");
        assert_eq!(key.r#type().map(|t| t.as_str()), Some("SecureString"));
        assert!(key.value().unwrap().contains("ENCRYPTED PRIVATE KEY"));
    });

    // The saved answers: no secrets, and a headless replay makes the same config file.
    let saved = std::fs::read_to_string(dir.path().join("answers.toml")).unwrap();
    assert!(saved.contains("name = \"qa\""), "{saved}");
    assert!(!saved.contains("PRIVATE KEY") && !saved.contains("signingKeyPassphrase"));
    let replay_dir = tempfile::tempdir().unwrap();
    let answers_path = replay_dir.path().join("answers.toml");
    std::fs::write(&answers_path, &saved).unwrap();
    let out = run_against(
        &moto,
        replay_dir.path(),
        &["--answers", answers_path.to_str().unwrap(), "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replayed =
        std::fs::read_to_string(replay_dir.path().join("medplum.qa.config.json")).unwrap();
    assert_eq!(
        replayed, config_text,
        "the replay wrote another config file"
    );
}

#[test]
fn deploy_now_hands_the_terminal_to_the_deploy_engine() {
    let moto = Moto::start();
    with_zone(&moto);
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(dir.path(), &moto.env(), &[], 120, 40);
    answer_and_apply(&t, "qa");
    let done = t.wait_for(
        "The prerequisites of qa are in place",
        Duration::from_secs(120),
    );
    assert!(done.contains("▸ Deploy now"), "{done}");
    t.keys(&["Enter"]);
    // The full screen is gone; the deploy engine plans Medplum's stack from the config just
    // written and asks before executing (no --yes was given).
    let plan = t.until("the deploy's question", Duration::from_secs(90), |s| {
        s.contains("Deploy these changes?")
    });
    // A new stack: everything is an addition.
    assert!(
        plan.lines()
            .any(|l| l.starts_with("Plan: ") && l.ends_with("to add, 0 to change, 0 to remove.")),
        "{plan}"
    );
    assert!(plan.contains("+ StorageStorageBucketDC877B11"), "{plan}");
    t.text("n");
    t.keys(&["Enter"]);
    assert_eq!(t.wait_exit(STEP), 0);
    t.assert_restored();
    assert!(
        t.screen()
            .contains("Nothing was deployed; the change sets were deleted."),
        "{}",
        t.screen()
    );
    // The CREATE change set's empty stack went with it.
    let stacks = rt().block_on(async {
        let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk("us-east-1").await);
        cfn.describe_stacks().send().await.unwrap().stacks().len()
    });
    assert_eq!(stacks, 0);
}

#[test]
fn ctrl_c_mid_run_exits_130_and_the_next_run_resumes() {
    // Certificates stay pending, so the run is still waiting for ACM when Ctrl-C comes.
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "3600")]);
    with_zone(&moto);
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(dir.path(), &moto.env(), &[], 120, 40);
    answer_and_apply(&t, "staging");
    t.until("the wait for ACM with the signing key done", STEP, |s| {
        s.contains("pending validation")
            && s.lines()
                .any(|l| l.contains("Signing key") && l.contains("done"))
    });
    t.keys(&["C-c"]);
    assert_eq!(t.wait_exit(STEP), 130);
    t.assert_restored();
    assert!(t.screen().contains("run medplum-init again here to resume"));
    drop(t);

    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".medplum-init/staging/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["steps"]["identity"]["status"], "done");
    assert_eq!(state["steps"]["signing_key"]["status"], "done");
    assert_ne!(state["steps"]["certificates"]["status"], "done");
    let answers = state["extra"]["guided_answers"].as_str().unwrap();
    assert!(
        answers.contains("domainName = \"example.com\""),
        "{answers}"
    );
    assert!(!answers.contains("PRIVATE"));

    // Started again in the same folder: every answer is back, finished steps show as done, and
    // the review comes first.
    let t = Tmux::start(dir.path(), &moto.env(), &[], 120, 40);
    let screen = t.until("the resumed review", STEP, |s| {
        s.contains("resumed staging") && s.contains("Enter apply")
    });
    assert!(screen.contains("✓ Environment"), "{screen}");
    // The sidebar: the first 25 columns.
    let sidebar: Vec<String> = screen
        .lines()
        .map(|l| l.chars().take(25).collect())
        .collect();
    let done_rows: Vec<&String> = sidebar.iter().filter(|l| l.contains("done")).collect();
    assert!(
        done_rows.iter().any(|l| l.contains("Signing key")),
        "{screen}"
    );
    assert!(
        !done_rows.iter().any(|l| l.contains("Certificates")),
        "{screen}"
    );
    assert!(
        screen.contains("keep"),
        "the requested certificates are kept:\n{screen}"
    );
    t.keys(&["C-c"]);
    assert_eq!(t.wait_exit(STEP), 130);
    t.assert_restored();
}

#[test]
fn a_small_terminal_gets_line_prompts() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(dir.path(), &moto.env(), &[], 70, 20);
    t.wait_for("asking line by line", STEP);
    t.wait_for("Environment name:", STEP);
    t.text("Bad");
    t.keys(&["Enter"]);
    t.wait_for("must start with a lower-case letter", STEP);
    t.keys(&["BSpace", "BSpace", "BSpace"]);
    t.text("prod");
    t.keys(&["Enter"]);
    t.wait_for("AWS region:", STEP);
    t.keys(&["C-c"]);
    assert_eq!(t.wait_exit(STEP), 130);
    t.assert_restored();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "line mode wrote something before the review"
    );
}

#[test]
fn a_deploy_in_a_terminal_shows_the_web_apps_publish_in_its_panes() {
    use crate::app::{Registry, version, write_config};
    let registry = Registry::start(vec![version("5.0.10")], "5.0.10");
    // The invalidation stays InProgress long enough for the block to be seen.
    let moto = Moto::start_with(&[("MEDPLUM_EMULATOR_INVALIDATION_DELAY", "6")]);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let mut env = moto.env();
    env.push(("MEDPLUM_INIT_SKIP_APP".into(), "false".into()));
    let args = [
        "deploy",
        "--yes",
        "--templates",
        "templates",
        "--npm-registry",
        &registry.url,
    ];
    let t = Tmux::start(dir.path(), &env, &args, 100, 32);
    let panes = t.until("the web app's block", Duration::from_secs(120), |s| {
        s.contains("invalidating")
    });
    // Still the deploy's full screen: the stack's header and resources above the block.
    assert!(panes.contains("MedplumStaging"), "{panes}");
    assert!(panes.contains("┌ Resources"), "{panes}");
    assert!(
        panes.contains("Web app: @medplum/app 5.0.10 → s3://app.staging.example.com/"),
        "{panes}"
    );
    assert!(panes.contains("100%"), "{panes}");
    assert!(panes.contains("Ctrl-C: stop the publish"), "{panes}");
    assert_eq!(t.wait_exit(Duration::from_secs(60)), 0, "{}", t.screen());
    t.assert_restored();
    let end = t.screen();
    assert!(
        end.contains("app  https://app.staging.example.com/ (@medplum/app 5.0.10)"),
        "{end}"
    );
}

/// A signing key rotation in a real terminal: the question, then each stage, the two deploys in
/// their full screen, the restart's progress, and the terminal restored at the end.
#[test]
fn a_rotation_in_a_terminal_asks_then_shows_each_stage_and_restores_the_terminal() {
    let moto = Moto::start_with(&[
        ("MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS", "3"),
        // Slow enough for the deploy's full screen to be seen.
        ("MEDPLUM_EMULATOR_RESOURCE_DELAY", "2"),
    ]);
    crate::harness::create_zone(&moto, "example.com");
    let dir = tempfile::tempdir().unwrap();
    crate::harness::answers(
        dir.path(),
        "name = \"staging\"\ndomainName = \"example.com\"\n[certificates]\nwait = true\nwait_timeout_minutes = 1\n[server]\nsupportEmail = \"support@example.com\"\n",
    );
    let out = run_against(&moto, dir.path(), &["--answers", "answers.toml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run_against(&moto, dir.path(), &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let t = Tmux::start(
        dir.path(),
        &moto.env(),
        &["rotate", "signing-key", "--grace", "0s"],
        110,
        36,
    );
    t.wait_for("Rotate the signing key?", Duration::from_secs(60));
    t.keys(&["y", "Enter"]);
    let screen = t.until("the deploy's full screen", Duration::from_secs(120), |s| {
        s.contains("StorageStorageKeyGroup") && s.contains("┌ Resources")
    });
    assert!(screen.contains("MedplumStaging"), "{screen}");
    let restart = t.until("the restart's progress", Duration::from_secs(120), |s| {
        s.contains("new tasks running")
    });
    assert!(restart.contains("rotation stage 4 of 5"), "{restart}");
    assert_eq!(t.wait_exit(Duration::from_secs(180)), 0, "{}", t.screen());
    t.assert_restored();
    let end = t.screen();
    assert!(end.contains("rotated: CloudFront key"), "{end}");
}
