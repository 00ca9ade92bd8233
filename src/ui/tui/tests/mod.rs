//! Tests of the TUI without a terminal: the state machine driven by messages (`behaviour`), and
//! every screen drawn on a `TestBackend` at 80×24 and 120×40 (`screens`, insta snapshots).
//! Time is passed in, so spinners and elapsed times are the same on every run.

mod behaviour;
mod screens;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, CALLER, Lookup, ZONES};
use super::update::{self, Cmd, Msg};
use crate::config::zones::Zone;
use crate::engine::{CallStatus, Event, StepId};
use crate::steps::lookup::{Caller, CertSummary};
use crate::ui::wizard::{Draft, Known};

pub const ACCOUNT: &str = "123456789012";

pub fn caller() -> Caller {
    Caller {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:sts::{ACCOUNT}:user/admin"),
    }
}

pub fn zone() -> Zone {
    Zone {
        id: "Z0719283746ABCDEFGHIJ".into(),
        name: "example.com".into(),
    }
}

pub fn wildcard_cert() -> CertSummary {
    CertSummary {
        arn: format!(
            "arn:aws:acm:us-east-1:{ACCOUNT}:certificate/4f1c2b9e-0d6a-4e55-9a1b-7c2d3e4f5a6b"
        ),
        region: "us-east-1".into(),
        names: vec!["example.com".into(), "*.example.com".into()],
        not_after: Some(1_900_000_000),
    }
}

/// A fresh app whose look-ups have answered, as after the first second of a real start.
pub fn started() -> App {
    let mut app = App::new(Draft::default(), Known::default(), None);
    app.color = false;
    for cmd in update::init(&mut app) {
        assert!(
            matches!(cmd, Cmd::LookupCaller | Cmd::LookupZones),
            "{cmd:?}"
        );
    }
    call(
        &mut app,
        StepId::Identity,
        "sts",
        "GetCallerIdentity",
        "caller",
        212,
    );
    call(
        &mut app,
        StepId::Certificates,
        "route53",
        "ListHostedZones",
        "hosted zones",
        187,
    );
    send(&mut app, Msg::Caller(Ok(caller())));
    send(&mut app, Msg::Zones(Ok(vec![zone()])));
    assert_eq!(app.lookup(CALLER), Some(&Lookup::Done));
    assert_eq!(app.lookup(ZONES), Some(&Lookup::Done));
    tick(&mut app, 1_300);
    app
}

pub fn send(app: &mut App, msg: Msg) -> Vec<Cmd> {
    update::update(app, msg)
}

pub fn tick(app: &mut App, ms: u64) {
    send(app, Msg::Tick(Duration::from_millis(ms)));
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    send(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(app: &mut App, c: char) -> Vec<Cmd> {
    send(
        app,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

pub fn typing(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// An AWS call that started and finished after `ms`.
pub fn call(app: &mut App, step: StepId, service: &str, op: &str, resource: &str, ms: u64) {
    for (status, elapsed) in [(CallStatus::Started, None), (CallStatus::Ok, Some(ms))] {
        send(
            app,
            Msg::Engine(Event::AwsCall {
                step,
                service: service.into(),
                operation: op.into(),
                region: "us-east-1".into(),
                resource: resource.into(),
                status,
                elapsed_ms: elapsed,
                error: None,
            }),
        );
    }
}

/// An AWS call still in flight.
pub fn call_started(app: &mut App, step: StepId, service: &str, op: &str, resource: &str) {
    send(
        app,
        Msg::Engine(Event::AwsCall {
            step,
            service: service.into(),
            operation: op.into(),
            region: "us-east-1".into(),
            resource: resource.into(),
            status: CallStatus::Started,
            elapsed_ms: None,
            error: None,
        }),
    );
}
