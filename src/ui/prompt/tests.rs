//! Line mode driven by a script, offline (dry run): the same questions, checks and defaults as
//! the TUI, back navigation, the saved answers, and a config file at the end.

use std::sync::Arc;

use super::*;
use crate::engine::EventSink;
use crate::guided::{GuidedOptions, Session};
use crate::printer::style::Style;
use crate::ui::handoff::LaterOnly;
use crate::ui::plain::PlainRenderer;

fn session(dir: &std::path::Path) -> (Arc<dyn Guide>, UnboundedReceiver<Event>) {
    let (sink, rx) = EventSink::channel();
    let opts = GuidedOptions {
        dir: dir.to_path_buf(),
        save_answers: Some(dir.join("saved.toml")),
        dry_run: true,
        ..Default::default()
    };
    (Arc::new(Session::new(opts, sink)), rx)
}

const SCRIPT: &[&str] = &[
    // Environment: name, region, stack name
    "prod",
    "",
    "",
    // Domains: a bad domain first, then a good one; zone; four names
    "Example.com",
    "example.com",
    "",
    "",
    "",
    "",
    "",
    // Capacity: go back once to Domains and take its answers as they are
    "<back>",
    "",
    "",
    "",
    "",
    "",
    "",
    "3",
    "",
    "",
    "",
    "1024",
    "",
    "",
    // Advanced options: open them, a proxy, no persistent groups (the IDs suffix, which needs
    // them, is not asked), CloudTrail alarms with the default log group, a trail, and a topic
    // named by hand
    "y",
    "y",
    "",
    "y",
    "",
    "",
    "prod-security",
    // no existing VPC
    "",
    // Certificates: api, app, storage, validation records, wait
    "",
    "",
    "skip",
    "",
    "",
    // Signing key
    "",
    // Email: address, identity
    "",
    "skip",
    // Logging
    "",
    // Parameters: registration, app client id, Google client id, log level
    "n",
    "",
    "42-abc.apps.googleusercontent.com",
    "",
    // Review: apply
    "y",
    // Deploy later
    "",
];

#[tokio::test]
async fn a_scripted_install_checks_answers_goes_back_and_saves_them() {
    let dir = tempfile::tempdir().unwrap();
    let (s, rx) = session(dir.path());
    let mut p = Scripted::new(SCRIPT.iter().copied());
    let mut r = PlainRenderer::new(Vec::new(), Vec::new(), Style::plain());
    let code = run(s, rx, &mut p, &mut r, Arc::new(LaterOnly)).await;
    let said = p.transcript.join("\n");
    assert_eq!(code.exit_code(), 0, "{said}");
    assert!(p.answers.is_empty(), "unused answers: {:?}", p.answers);
    assert!(
        said.contains("✗ 'Example.com' has upper-case letters: write it in lower case"),
        "{said}"
    );
    assert!(said.contains("── Domains (2/8)"), "{said}");
    let saved = std::fs::read_to_string(dir.path().join("saved.toml")).unwrap();
    for want in [
        "name = \"prod\"",
        "domainName = \"example.com\"",
        "maxAzs = 3",
        "serverCpu = 1024",
        "serverMemory = 2048",
        "storage = \"skip\"",
        "identity = \"skip\"",
        "registerEnabled = false",
        "googleClientId = \"42-abc.apps.googleusercontent.com\"",
        "rdsProxyEnabled = true",
        "[cloudTrailAlarms]",
        "logGroupName = \"medplum-prod-cloudtrail\"",
        "logGroupCreate = true",
        "snsTopicName = \"prod-security\"",
    ] {
        assert!(saved.contains(want), "{want} missing from\n{saved}");
    }
    // The guided install's own switch and the unasked, default answers are not written.
    for absent in [
        "advanced",
        "cloudTrail =",
        "rdsPersistentParameterGroups",
        "rdsIdsMajorVersionSuffix",
    ] {
        assert!(!saved.contains(absent), "{absent} in\n{saved}");
    }
    let a = Answers::from_toml(&saved, "saved", &Overrides::default()).unwrap();
    assert_eq!(a.env(), "prod");
    // A dry run writes its config for review beside the journal, never at the real path.
    assert!(!dir.path().join("medplum.prod.config.json").exists());
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join(".medplum-init/prod/dry-run/medplum.prod.config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["maxAzs"], 3);
    assert_eq!(config["stackName"], "MedplumProd");
    assert_eq!(config["rdsProxyEnabled"], true);
    assert_eq!(
        config["cloudTrailAlarms"],
        serde_json::json!({"logGroupName": "medplum-prod-cloudtrail", "logGroupCreate": true,
            "snsTopicName": "prod-security"})
    );
}

#[tokio::test]
async fn ctrl_c_at_a_prompt_exits_130_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, rx) = session(dir.path());
    let mut p = Scripted::new(["prod", "<ctrl-c>"]);
    let mut r = PlainRenderer::new(Vec::new(), Vec::new(), Style::plain());
    let code = run(s, rx, &mut p, &mut r, Arc::new(LaterOnly)).await;
    assert_eq!(code.exit_code(), 130);
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn declining_the_review_writes_nothing_but_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (s, rx) = session(dir.path());
    let mut answers: Vec<&str> = SCRIPT.to_vec();
    // Drop the detour through <back> and its repeated answers.
    answers.drain(10..17);
    let apply = answers.len() - 2;
    answers[apply] = "n";
    answers.pop();
    let mut p = Scripted::new(answers);
    let mut r = PlainRenderer::new(Vec::new(), Vec::new(), Style::plain());
    let code = run(s, rx, &mut p, &mut r, Arc::new(LaterOnly)).await;
    assert_eq!(code.exit_code(), 0, "{}", p.transcript.join("\n"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["saved.toml".to_string()]);
}
