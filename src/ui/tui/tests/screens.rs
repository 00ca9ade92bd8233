//! Every screen at 80×24 (the minimum) and 120×40, as text snapshots: the questions of each
//! section, an inline validation error, look-ups in flight, the review, the run with live
//! certificate status, a failed AWS call with its hint and the retry/skip choice, the end, a
//! resumed install, and a terminal too small.

use std::path::PathBuf;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::engine::event::DnsRecord;
use crate::engine::journal::StepStatus;
use crate::engine::{Outcome, ParameterAction, ParameterChange, RunReport};
use crate::steps::preview::{
    BucketPlan, CertAction, CertPlan, ConfigLine, EmailPlan, KeyPlan, LineChange, Preview,
};
use crate::ui::tui::app::Phase;
use crate::ui::tui::draw;
use crate::ui::wizard::resume::Resume;
use crate::ui::wizard::{FieldId, Section};

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw::draw(app, f)).unwrap();
    t.backend().to_string()
}

/// Snapshots `app` at both sizes.
fn snap(name: &str, app: &mut App) {
    for (w, h) in [(80, 24), (120, 40)] {
        app.size = (w, h);
        let screen = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

fn to_section(app: &mut App, s: Section) {
    while app.section != s {
        key(app, KeyCode::PageDown);
    }
}

fn focus(app: &mut App, f: FieldId) {
    while app.focused() != Some(f) {
        key(app, KeyCode::Tab);
    }
}

#[test]
fn environment() {
    snap("01_environment", &mut started());
}

#[test]
fn region_list() {
    let mut app = started();
    focus(&mut app, FieldId::Region);
    key(&mut app, KeyCode::Char('e'));
    snap("02_region_list", &mut app);
}

#[test]
fn domains_with_a_zone_found() {
    let mut app = started();
    to_section(&mut app, Section::Domains);
    focus(&mut app, FieldId::Zone);
    snap("03_domains_zone", &mut app);
}

#[test]
fn domains_inline_error() {
    let mut app = started();
    to_section(&mut app, Section::Domains);
    ctrl(&mut app, 'u');
    typing(&mut app, "Example.com");
    snap("04_domains_inline_error", &mut app);
}

#[test]
fn capacity_memory() {
    let mut app = started();
    to_section(&mut app, Section::Capacity);
    focus(&mut app, FieldId::ServerCpu);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    focus(&mut app, FieldId::ServerMemory);
    snap("05_capacity_memory", &mut app);
}

/// "Advanced options" open with CloudTrail alarms on: the questions they add, with the help and
/// cost hint of the alarm topic.
#[test]
fn capacity_advanced_with_cloudtrail() {
    let mut app = started();
    to_section(&mut app, Section::Capacity);
    focus(&mut app, FieldId::Advanced);
    key(&mut app, KeyCode::Char('y'));
    focus(&mut app, FieldId::CloudTrail);
    key(&mut app, KeyCode::Char('y'));
    focus(&mut app, FieldId::AlarmTopic);
    snap("05_capacity_advanced_cloudtrail", &mut app);
}

#[test]
fn certificates_looking_up() {
    let mut app = started();
    to_section(&mut app, Section::Certificates);
    call_started(
        &mut app,
        StepId::Certificates,
        "acm",
        "ListCertificates",
        "issued certificates",
    );
    tick(&mut app, 2_450);
    snap("06_certificates_loading", &mut app);
}

#[test]
fn certificates_with_one_found() {
    let mut app = started();
    to_section(&mut app, Section::Certificates);
    call(
        &mut app,
        StepId::Certificates,
        "acm",
        "ListCertificates",
        "issued certificates",
        233,
    );
    send(
        &mut app,
        Msg::Certs("us-east-1".into(), Ok(vec![wildcard_cert()])),
    );
    focus(&mut app, FieldId::CertApp);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    snap("07_certificates_found", &mut app);
}

#[test]
fn signing_key_existing_with_error() {
    let mut app = started();
    to_section(&mut app, Section::SigningKey);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "K12");
    snap("08_signing_key_error", &mut app);
}

#[test]
fn email() {
    let mut app = started();
    to_section(&mut app, Section::Email);
    focus(&mut app, FieldId::EmailIdentity);
    snap("09_email", &mut app);
}

#[test]
fn logging_enabled() {
    let mut app = started();
    to_section(&mut app, Section::Logging);
    key(&mut app, KeyCode::Char('y'));
    key(&mut app, KeyCode::Tab);
    snap("10_logging", &mut app);
}

#[test]
fn parameters() {
    let mut app = started();
    to_section(&mut app, Section::Parameters);
    snap("11_parameters", &mut app);
}

fn answered() -> App {
    let mut app = started();
    while app.phase == Phase::Asking {
        key(&mut app, KeyCode::PageDown);
    }
    app
}

#[test]
fn previewing() {
    let mut app = answered();
    call(
        &mut app,
        StepId::Identity,
        "sts",
        "GetCallerIdentity",
        "caller",
        98,
    );
    call_started(
        &mut app,
        StepId::Certificates,
        "acm",
        "ListCertificates",
        "certificates covering api.example.com",
    );
    call_started(
        &mut app,
        StepId::Parameters,
        "ssm",
        "GetParametersByPath",
        "/medplum/staging/",
    );
    tick(&mut app, 2_100);
    snap("12_previewing", &mut app);
}

pub fn preview_fixture() -> Preview {
    let arn = |id: &str| format!("arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{id}");
    let cert = |purpose: &str, domain: &str, action| CertPlan {
        purpose: purpose.into(),
        domain: domain.into(),
        region: "us-east-1".into(),
        action,
    };
    let param = |key: &str, new: &str, action, secret| ParameterChange {
        name: format!("/medplum/staging/{key}"),
        action,
        secret,
        old: None,
        new: new.into(),
        kind: "SecureString".into(),
    };
    let line = |key: &str, value: serde_json::Value| ConfigLine {
        key: key.into(),
        value,
        change: LineChange::Added,
    };
    Preview {
        account: Some(ACCOUNT.into()),
        caller_arn: Some(format!("arn:aws:sts::{ACCOUNT}:user/admin")),
        certificates: vec![
            cert("api", "api.example.com", CertAction::Request),
            cert(
                "app",
                "app.example.com",
                CertAction::Reuse {
                    arn: arn("4f1c2b9e-0d6a-4e55-9a1b-7c2d3e4f5a6b"),
                },
            ),
            cert("storage", "storage.example.com", CertAction::Request),
        ],
        signing_key: KeyPlan::Generate,
        email: Some(EmailPlan {
            identity: "support@example.com".into(),
            exists: false,
            verified: false,
        }),
        logging_bucket: Some(BucketPlan {
            name: "medplum-staging-logs-123456789012".into(),
            exists: false,
        }),
        parameters: vec![
            param("port", "8103", ParameterAction::Unchanged, false),
            param(
                "baseUrl",
                "https://api.example.com/",
                ParameterAction::Add,
                false,
            ),
            param(
                "appBaseUrl",
                "https://app.example.com/",
                ParameterAction::Add,
                false,
            ),
            ParameterChange {
                old: Some("help@example.com".into()),
                ..param(
                    "supportEmail",
                    "support@example.com",
                    ParameterAction::Change,
                    false,
                )
            },
            param("signingKey", "****", ParameterAction::Add, true),
            param("signingKeyPassphrase", "****", ParameterAction::Add, true),
        ],
        config_path: PathBuf::from("/srv/medplum/medplum.staging.config.json"),
        config_exists: false,
        config: vec![
            line("name", "staging".into()),
            line("stackName", "MedplumStaging".into()),
            line("accountNumber", ACCOUNT.into()),
            line(
                "apiSslCertArn",
                crate::steps::preview::NEW_CERTIFICATE.into(),
            ),
            line("maxAzs", 2.into()),
        ],
        notes: vec!["apiSslCertArn is filled in after ACM answers the request".into()],
    }
}

#[test]
fn review() {
    let mut app = answered();
    send(&mut app, Msg::Preview(Ok(preview_fixture())));
    snap("13_review", &mut app);
    app.scroll = 14;
    snap("14_review_scrolled", &mut app);
}

#[test]
fn review_when_aws_cannot_be_read() {
    let mut app = answered();
    send(
        &mut app,
        Msg::Preview(Err(crate::guided::Failure {
            message: "sts:GetCallerIdentity failed: no AWS credentials were found".into(),
            hint: Some("set AWS credentials: `aws configure`, or AWS_PROFILE".into()),
        })),
    );
    snap("15_review_error", &mut app);
}

fn running() -> App {
    let mut app = answered();
    send(&mut app, Msg::Preview(Ok(preview_fixture())));
    key(&mut app, KeyCode::Enter);
    tick(&mut app, 3_000);
    for step in [StepId::Identity, StepId::SigningKey] {
        send(&mut app, Msg::Engine(Event::StepStarted { step }));
    }
    send(
        &mut app,
        Msg::Engine(Event::StepStarted {
            step: StepId::Certificates,
        }),
    );
    tick(&mut app, 3_420);
    send(
        &mut app,
        Msg::Engine(Event::StepFinished {
            step: StepId::Identity,
            outcome: Outcome::Done,
            summary: "done".into(),
        }),
    );
    let record = |name: &str, written| DnsRecord {
        name: name.into(),
        kind: "CNAME".into(),
        value: "_3f2a.xlfgrmvvlj.acm-validations.aws.".into(),
        written,
    };
    for (purpose, status, written) in [
        ("api", "PENDING_VALIDATION", true),
        ("app", "ISSUED", true),
        ("storage", "PENDING_VALIDATION", false),
    ] {
        send(
            &mut app,
            Msg::Engine(Event::Certificate {
                step: StepId::Certificates,
                purpose: purpose.into(),
                domain: format!("{purpose}.example.com"),
                arn: format!("arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{purpose}"),
                region: "us-east-1".into(),
                status: status.into(),
                records: vec![record(&format!("_8b1c.{purpose}.example.com."), written)],
            }),
        );
    }
    call(
        &mut app,
        StepId::SigningKey,
        "ssm",
        "PutParameter",
        "/medplum/staging/signingKey",
        61,
    );
    call_started(
        &mut app,
        StepId::SigningKey,
        "cloudfront",
        "CreatePublicKey",
        "MedplumStagingSigningKey",
    );
    call_started(
        &mut app,
        StepId::Certificates,
        "acm",
        "DescribeCertificate",
        "api.example.com",
    );
    tick(&mut app, 15_800);
    app
}

#[test]
fn run_in_progress() {
    let mut app = running();
    snap("16_running", &mut app);
    app.scroll = 8;
    snap("17_running_certificates", &mut app);
}

#[test]
fn failed_call_with_hint_and_retry_or_skip() {
    let mut app = running();
    // The stage ends before the run reports: every other step of it finished.
    for step in [
        StepId::Certificates,
        StepId::SigningKey,
        StepId::LoggingBucket,
    ] {
        send(
            &mut app,
            Msg::Engine(Event::StepFinished {
                step,
                outcome: Outcome::Done,
                summary: "done".into(),
            }),
        );
    }
    send(
        &mut app,
        Msg::Engine(Event::AwsCall {
            step: StepId::Email,
            service: "ses".into(),
            operation: "CreateEmailIdentity".into(),
            region: "us-east-1".into(),
            resource: "support@example.com".into(),
            status: CallStatus::Failed,
            elapsed_ms: Some(88),
            error: Some("User is not authorized to perform ses:CreateEmailIdentity".into()),
        }),
    );
    send(
        &mut app,
        Msg::Engine(Event::StepFailed {
            step: StepId::Email,
            error: "ses:CreateEmailIdentity failed: User is not authorized to perform ses:CreateEmailIdentity".into(),
            hint: Some("the credentials in use may not call ses:CreateEmailIdentity; grant that action to this identity, then run the same command again to resume".into()),
        }),
    );
    send(
        &mut app,
        Msg::RunDone(Ok(RunReport {
            failed: vec![(StepId::Email, "denied".into())],
            ..Default::default()
        })),
    );
    snap("18_failed_retry_skip", &mut app);
}

#[test]
fn finished() {
    let mut app = running();
    for step in StepId::ALL {
        let outcome = match step {
            StepId::LoggingBucket | StepId::BotLayer => Outcome::Skipped,
            _ => Outcome::Done,
        };
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
        Msg::Engine(Event::FileWritten {
            step: StepId::ConfigFile,
            path: "/srv/medplum/medplum.staging.config.json".into(),
        }),
    );
    send(
        &mut app,
        Msg::RunDone(Ok(RunReport {
            ok: true,
            ..Default::default()
        })),
    );
    snap("19_finished", &mut app);
}

#[test]
fn resumed_install() {
    let mut draft = Draft::default();
    draft.set(FieldId::DomainName, "example.com".into());
    let resume = Resume {
        env: "staging".into(),
        sources: vec!["the journal".into(), "medplum.staging.config.json".into()],
        statuses: [
            (StepId::Identity, StepStatus::Done),
            (StepId::Certificates, StepStatus::Done),
            (StepId::SigningKey, StepStatus::Done),
            (StepId::Email, StepStatus::Failed),
        ]
        .into_iter()
        .collect(),
    };
    let mut app = App::new(draft, Known::default(), Some(resume));
    app.color = false;
    update::init(&mut app);
    send(&mut app, Msg::Caller(Ok(caller())));
    send(&mut app, Msg::Preview(Ok(preview_fixture())));
    snap("20_resumed_review", &mut app);
}

#[test]
fn too_small() {
    let app = started();
    insta::assert_snapshot!("21_too_small_70x20", render(&app, 70, 20));
}

#[test]
fn no_color_changes_no_text() {
    let mut app = started();
    let plain = render(&app, 80, 24);
    app.color = true;
    assert_eq!(render(&app, 80, 24), plain);
}
