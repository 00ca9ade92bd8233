//! The state machine, message by message: typing and inline checks, moving between sections
//! without losing answers, the review and its confirmation, Ctrl-C, retry and skip.

use crossterm::event::KeyCode;

use super::*;
use crate::engine::{Outcome, RunReport};
use crate::guided::Failure;
use crate::ui::tui::app::{Activity, Exit, Phase, StepRun};
use crate::ui::wizard::{FieldId, Section};

fn to_section(app: &mut App, s: Section) {
    while app.section != s {
        let before = app.section;
        key(app, KeyCode::PageDown);
        assert_ne!(
            app.section,
            before,
            "stuck at {before:?}: {:?}",
            app.focused()
        );
    }
}

#[test]
fn typing_edits_the_answer_and_checks_it_as_you_type() {
    let mut app = started();
    assert_eq!(app.focused(), Some(FieldId::Name));
    assert_eq!(app.value(FieldId::Name), "staging");
    ctrl(&mut app, 'u');
    assert_eq!(app.value(FieldId::Name), "");
    // Empty and just focused: not an error yet.
    assert_eq!(app.field_error(FieldId::Name), None);
    typing(&mut app, "Prod");
    let (problem, _) = app.field_error(FieldId::Name).unwrap();
    assert!(
        problem.contains("must start with a lower-case letter"),
        "{problem}"
    );
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Delete);
    typing(&mut app, "p");
    assert_eq!(app.value(FieldId::Name), "prod");
    assert_eq!(app.field_error(FieldId::Name), None);
    assert_eq!(app.value(FieldId::StackName), "MedplumProd");
}

#[test]
fn next_is_refused_until_the_section_is_valid() {
    let mut app = started();
    ctrl(&mut app, 'u');
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.section, Section::Environment);
    assert!(app.show_errors);
    assert_eq!(
        app.field_error(FieldId::Name).unwrap().0,
        "this answer is required"
    );
    typing(&mut app, "prod");
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.section, Section::Domains);
    assert!(app.answered.contains(&Section::Environment));
}

#[test]
fn cross_field_problems_come_from_the_answers_validation() {
    let mut app = started();
    to_section(&mut app, Section::Domains);
    key(&mut app, KeyCode::Tab); // zone
    key(&mut app, KeyCode::Tab); // api domain
    ctrl(&mut app, 'u');
    typing(&mut app, "api.example.org");
    key(&mut app, KeyCode::PageDown);
    assert_eq!(
        app.section,
        Section::Domains,
        "an API name outside the zone"
    );
    assert_eq!(app.focused(), Some(FieldId::ApiDomain));
    let (problem, fix) = app.field_error(FieldId::ApiDomain).unwrap();
    assert!(
        problem.contains("not in the hosted zone example.com"),
        "{problem}"
    );
    assert!(fix.contains("skipDns"), "{fix}");
}

#[test]
fn back_and_forward_keep_every_answer() {
    let mut app = started();
    to_section(&mut app, Section::Capacity);
    key(&mut app, KeyCode::Down); // maxAzs → 3
    assert_eq!(app.value(FieldId::MaxAzs), "3");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.section, Section::Environment);
    to_section(&mut app, Section::Capacity);
    assert_eq!(app.value(FieldId::MaxAzs), "3");
    assert!(app.draft.to_toml(&app.known).contains("maxAzs = 3"));
}

#[test]
fn memory_follows_the_cpu() {
    let mut app = started();
    to_section(&mut app, Section::Capacity);
    while app.focused() != Some(FieldId::ServerCpu) {
        key(&mut app, KeyCode::Tab);
    }
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down); // 1024
    assert_eq!(app.value(FieldId::ServerCpu), "1024");
    assert_eq!(app.value(FieldId::ServerMemory), "2048");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::End);
    assert_eq!(app.value(FieldId::ServerMemory), "8192");
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Home); // 256: 8192 no longer fits
    assert_eq!(app.value(FieldId::ServerMemory), "512");
}

#[test]
fn choices_jump_by_letter() {
    let mut app = started();
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focused(), Some(FieldId::Region));
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.value(FieldId::Region), "eu-central-1");
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.value(FieldId::Region), "eu-central-2");
}

#[test]
fn certificates_are_looked_up_on_entry_for_both_regions() {
    let mut app = started();
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('e')); // eu-central-1
    let mut cmds = Vec::new();
    while app.section != Section::Certificates {
        cmds = key(&mut app, KeyCode::PageDown);
    }
    let regions: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::LookupCerts(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(regions, ["eu-central-1", "us-east-1"]);
    send(
        &mut app,
        Msg::Certs("us-east-1".into(), Ok(vec![wildcard_cert()])),
    );
    key(&mut app, KeyCode::Tab); // app certificate
    let opts = FieldId::CertApp.options(&app.draft, &app.known);
    assert!(
        opts.iter().any(|o| o.value == wildcard_cert().arn),
        "{opts:?}"
    );
    // The API certificate must be in eu-central-1: the us-east-1 one is not offered.
    let api = FieldId::CertApi.options(&app.draft, &app.known);
    assert!(!api.iter().any(|o| o.value.starts_with("arn:")));
}

fn reviewed() -> App {
    let mut app = started();
    let mut cmds = Vec::new();
    while app.phase == Phase::Asking {
        cmds = key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.phase, Phase::Previewing);
    assert!(matches!(cmds.as_slice(), [Cmd::Preview(_)]), "{cmds:?}");
    send(
        &mut app,
        Msg::Preview(Ok(super::screens::preview_fixture())),
    );
    assert_eq!(app.phase, Phase::Review);
    app
}

#[test]
fn confirming_the_review_saves_answers_and_runs_with_them() {
    let mut app = reviewed();
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(app.phase, Phase::Running);
    match cmds.as_slice() {
        [
            Cmd::SaveAnswers(text),
            Cmd::Run {
                confirmed,
                only: None,
            },
        ] => {
            assert!(text.starts_with("# Answers from a guided install"));
            assert!(confirmed.text.contains("domainName = \"example.com\""));
            assert_eq!(confirmed.answers.env(), "staging");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn esc_on_the_review_goes_back_with_answers_intact() {
    let mut app = reviewed();
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        (app.phase, app.section),
        (Phase::Asking, Section::Parameters)
    );
    assert!(app.preview.is_none());
    assert!(Section::QUESTIONS.iter().all(|s| app.answered.contains(s)));
}

#[test]
fn ctrl_c_cancels_the_run_then_quits() {
    let mut app = reviewed();
    key(&mut app, KeyCode::Enter);
    let cmds = ctrl(&mut app, 'c');
    assert!(matches!(cmds.as_slice(), [Cmd::Cancel]));
    assert!(app.cancelling);
    assert_eq!(app.exit, None);
    let report = RunReport {
        interrupted: true,
        ..Default::default()
    };
    send(&mut app, Msg::RunDone(Ok(report)));
    assert_eq!(
        app.exit,
        Some(Exit::Code(crate::outcome::Outcome::Interrupted))
    );

    let mut app = reviewed();
    key(&mut app, KeyCode::Enter);
    ctrl(&mut app, 'c');
    ctrl(&mut app, 'c');
    assert_eq!(
        app.exit,
        Some(Exit::Code(crate::outcome::Outcome::Interrupted))
    );

    let mut app = started();
    ctrl(&mut app, 'c');
    assert_eq!(
        app.exit,
        Some(Exit::Code(crate::outcome::Outcome::Interrupted))
    );
}

fn failed_at_email() -> App {
    let mut app = reviewed();
    key(&mut app, KeyCode::Enter);
    for (step, outcome) in [
        (StepId::Identity, Outcome::Done),
        (StepId::Certificates, Outcome::Done),
        (StepId::SigningKey, Outcome::Done),
        (StepId::LoggingBucket, Outcome::Skipped),
        (StepId::BotLayer, Outcome::Skipped),
    ] {
        send(&mut app, Msg::Engine(Event::StepStarted { step }));
        send(
            &mut app,
            Msg::Engine(Event::StepFinished {
                step,
                outcome,
                summary: "done".into(),
            }),
        );
    }
    send(
        &mut app,
        Msg::Engine(Event::StepFailed {
            step: StepId::Email,
            error: "ses:CreateEmailIdentity failed: not authorized".into(),
            hint: Some("grant ses:CreateEmailIdentity".into()),
        }),
    );
    send(
        &mut app,
        Msg::RunDone(Ok(RunReport {
            failed: vec![(StepId::Email, "x".into())],
            ..Default::default()
        })),
    );
    assert_eq!(app.phase, Phase::Failed);
    app
}

#[test]
fn retry_runs_the_failed_and_the_remaining_steps() {
    let mut app = failed_at_email();
    let cmds = key(&mut app, KeyCode::Char('r'));
    match cmds.as_slice() {
        [
            Cmd::Run {
                only: Some(ids), ..
            },
        ] => assert_eq!(
            ids,
            &[StepId::Email, StepId::ConfigFile, StepId::Parameters]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.phase, Phase::Running);
    assert!(app.failure.is_none());
}

#[test]
fn skip_goes_on_without_the_failed_step() {
    let mut app = failed_at_email();
    let cmds = key(&mut app, KeyCode::Char('s'));
    match cmds.as_slice() {
        [
            Cmd::Run {
                only: Some(ids), ..
            },
        ] => {
            assert_eq!(ids, &[StepId::ConfigFile, StepId::Parameters])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        app.steps[&StepId::Email],
        StepRun::Finished {
            outcome: Outcome::Skipped,
            ..
        }
    ));
    send(
        &mut app,
        Msg::RunDone(Ok(RunReport {
            ok: true,
            ..Default::default()
        })),
    );
    assert_eq!((app.phase, app.section), (Phase::Finished, Section::Deploy));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.exit, Some(Exit::DeployLater));
}

#[test]
fn q_after_a_failure_exits_1() {
    let mut app = failed_at_email();
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.exit, Some(Exit::Code(crate::outcome::Outcome::Failed)));
}

#[test]
fn a_run_that_cannot_start_offers_retry() {
    let mut app = reviewed();
    key(&mut app, KeyCode::Enter);
    send(
        &mut app,
        Msg::RunDone(Err(Failure {
            message: "another medplum-init run holds the lock".into(),
            hint: Some("wait for it".into()),
        })),
    );
    assert_eq!(app.phase, Phase::Failed);
    let cmds = key(&mut app, KeyCode::Char('r'));
    assert!(matches!(cmds.as_slice(), [Cmd::Run { .. }]));
}

#[test]
fn call_events_pair_up_and_the_history_is_bounded() {
    let mut app = started();
    call_started(
        &mut app,
        StepId::Parameters,
        "ssm",
        "PutParameter",
        "/medplum/x/a",
    );
    assert_eq!(app.in_flight().count(), 1);
    call(
        &mut app,
        StepId::Parameters,
        "ssm",
        "GetParameters",
        "/medplum/x/b",
        3,
    );
    assert_eq!(app.in_flight().count(), 1);
    send(
        &mut app,
        Msg::Engine(Event::AwsCall {
            step: StepId::Parameters,
            service: "ssm".into(),
            operation: "PutParameter".into(),
            region: "us-east-1".into(),
            resource: "/medplum/x/a".into(),
            status: CallStatus::Failed,
            elapsed_ms: Some(40),
            error: Some("AccessDenied".into()),
        }),
    );
    assert_eq!(app.in_flight().count(), 0);
    let failed = app
        .activity
        .iter()
        .filter(|a| matches!(a, Activity::Call(c) if c.status == CallStatus::Failed))
        .count();
    assert_eq!(failed, 1);
    for i in 0..600 {
        app.note(crate::ui::tui::app::Level::Info, format!("{i}"), None);
    }
    assert_eq!(app.activity.len(), 500);
}

#[test]
fn a_resumed_install_goes_straight_to_the_review() {
    use crate::engine::journal::StepStatus;
    use crate::ui::wizard::resume::Resume;
    let mut draft = Draft::default();
    draft.set(FieldId::DomainName, "example.com".into());
    let resume = Resume {
        env: "staging".into(),
        sources: vec!["the journal".into()],
        statuses: [(StepId::Identity, StepStatus::Done)].into_iter().collect(),
    };
    let mut app = App::new(draft, Known::default(), Some(resume));
    let cmds = update::init(&mut app);
    assert_eq!(app.phase, Phase::Previewing);
    assert!(cmds.iter().any(|c| matches!(c, Cmd::Preview(_))));
    assert!(Section::QUESTIONS.iter().all(|s| app.answered.contains(s)));
}

#[test]
fn pasting_into_a_text_field_inserts_at_the_cursor() {
    let mut app = started();
    ctrl(&mut app, 'u');
    send(&mut app, Msg::Paste("qa-\n1".into()));
    assert_eq!(app.value(FieldId::Name), "qa-1");
    assert_eq!(app.cursor, 4);
}
