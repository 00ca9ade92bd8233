//! Replays a CloudFormation event stream (as `aws cloudformation describe-stack-events` prints
//! it) through the deploy progress screen, faster than it happened: a way to look at the TUI at
//! any terminal size without an AWS account.
//!
//! `cargo run --example deploy_replay -- [FILE] [SPEEDUP]`
//! (default: tests/fixtures/deploy/create-failure-rollback.events.json, 20x). Ctrl-C once stops
//! the replay as a deploy would be cancelled; twice leaves.

use std::time::Duration;

use medplum_init::deploy::changeset::{ChangeAction, ChangeSetKind};
use medplum_init::deploy::clock::{Clock, SystemClock, parse_rfc3339};
use medplum_init::deploy::event::{DeployEvent, DeploySink, PlannedResource, Time};
use medplum_init::engine::Cancel;
use medplum_init::printer::style::Style;
use medplum_init::ui::deploy::plain::write_recap;
use medplum_init::ui::deploy::screen;
use serde_json::Value;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/deploy/create-failure-rollback.events.json".into());
    let speedup: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
    let mut events: Vec<Value> = v["StackEvents"].as_array().cloned().unwrap_or_default();
    events.reverse(); // the CLI lists newest first
    let stack = events[0]["StackName"]
        .as_str()
        .unwrap_or("Stack")
        .to_string();
    let at = |e: &Value| parse_rfc3339(e["Timestamp"].as_str().unwrap_or("")).unwrap_or(0);
    let first = at(&events[0]);

    let mut planned: Vec<PlannedResource> = Vec::new();
    for e in &events {
        let id = e["LogicalResourceId"].as_str().unwrap_or("").to_string();
        if id != stack && !planned.iter().any(|p| p.logical_id == id) {
            planned.push(PlannedResource {
                logical_id: id,
                resource_type: e["ResourceType"].as_str().unwrap_or("").into(),
                action: ChangeAction::Add,
                replaces: false,
            });
        }
    }

    let (sink, rx) = DeploySink::channel();
    let cancel = Cancel::new();
    let screen = tokio::spawn(screen::run(rx, cancel.clone()));
    let clock = SystemClock;
    let start = clock.now_ms();
    // Shadowing would keep the first sender alive and the screen open forever: drop it.
    let (tracked, state) = sink.tracked();
    drop(sink);
    let sink = tracked;
    sink.emit(DeployEvent::StackStarted {
        stack: stack.clone(),
        region: "us-east-1".into(),
        stack_id: events[0]["StackId"].as_str().unwrap_or("").into(),
        kind: ChangeSetKind::Create,
        at: Time(start),
        resources: planned,
    });
    let mut last = "CREATE_IN_PROGRESS".to_string();
    for e in &events {
        let due = start + ((at(e) - first) as f64 / speedup) as i64;
        let wait = (due - clock.now_ms()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = cancel.cancelled() => break,
        }
        let id = e["LogicalResourceId"].as_str().unwrap_or("").to_string();
        let status = e["ResourceStatus"].as_str().unwrap_or("").to_string();
        if id == stack {
            last = status.clone();
        }
        sink.emit(DeployEvent::Resource {
            stack: stack.clone(),
            logical_id: id,
            resource_type: e["ResourceType"].as_str().unwrap_or("").into(),
            physical_id: None,
            status,
            reason: e["ResourceStatusReason"].as_str().map(str::to_string),
            at: Time(due),
        });
        sink.emit(DeployEvent::Tick { at: Time(due) });
    }
    let ok = matches!(last.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE");
    sink.emit(DeployEvent::StackFinished {
        stack: stack.clone(),
        status: last,
        ok,
        reason: None,
        outputs: Default::default(),
        at: Time(clock.now_ms()),
    });
    let failures = if cancel.is_cancelled() {
        Vec::new()
    } else {
        state.lock().expect("state").failure_recap()
    };
    sink.emit(DeployEvent::Finished {
        ok,
        cancelled: cancel.is_cancelled(),
        failures: failures.clone(),
        at: Time(clock.now_ms()),
    });
    // Leave the last screen up a moment, then close it by dropping the sink.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(sink);
    let end = screen.await.expect("screen task")?;
    if end.quit {
        eprintln!("left the replay");
    }
    write_recap(&mut std::io::stderr(), &failures, Style::for_stderr());
    Ok(())
}
