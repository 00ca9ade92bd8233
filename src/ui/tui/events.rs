//! How the engine's events and the run's result change the state: step rows with their
//! elapsed times, AWS calls paired start-to-end in the activity pane, certificate status as it
//! changes, and where the run goes next (done, failed with retry/skip, or interrupted).

use std::time::Duration;

use super::app::{Activity, App, CallRow, CertRow, Exit, Level, Phase, StepRun};
use crate::engine::{CallStatus, Event, RunReport};
use crate::guided::Failure;
use crate::outcome::Outcome;

pub fn run_done(app: &mut App, r: Result<RunReport, Failure>) {
    match r {
        Err(f) => {
            app.failure = Some((None, f));
            app.phase = Phase::Failed;
        }
        Ok(report) => {
            let interrupted = report.interrupted || app.cancelling;
            let ok = report.ok;
            app.report = Some(report);
            if interrupted {
                app.exit = Some(Exit::Code(Outcome::Interrupted));
            } else if ok {
                super::update::finish(app);
            } else {
                if app.failure.is_none() {
                    app.failure = Some((
                        None,
                        Failure {
                            message: "the run stopped".into(),
                            hint: None,
                        },
                    ));
                }
                app.phase = Phase::Failed;
            }
        }
    }
}

pub fn engine(app: &mut App, e: Event) {
    let now = app.now;
    match e {
        Event::RunStarted { .. } | Event::RunFinished { .. } => {}
        Event::StepStarted { step } => {
            app.steps.insert(step, StepRun::Running { since: now });
        }
        Event::AwsCall {
            step,
            service,
            operation,
            region,
            resource,
            status,
            elapsed_ms,
            error,
        } => {
            let row = CallRow {
                step,
                service,
                operation,
                region,
                resource,
                status,
                started: now,
                elapsed_ms,
                error,
            };
            if status != CallStatus::Started
                && let Some(Activity::Call(open)) = app.activity.iter_mut().rev().find(|a| {
                    matches!(a, Activity::Call(c) if c.status == CallStatus::Started
                        && c.step == row.step && c.operation == row.operation
                        && c.resource == row.resource && c.region == row.region)
                })
            {
                open.status = row.status;
                open.elapsed_ms = row.elapsed_ms;
                open.error = row.error;
                return;
            }
            app.push(Activity::Call(row));
        }
        Event::Progress { message, .. } => app.note(Level::Info, message, None),
        Event::Warning { message, hint, .. } => app.note(Level::Warn, message, hint),
        Event::Planned { step, call } => {
            let kind = if call.write { "write" } else { "read" };
            app.note(
                Level::Info,
                format!(
                    "{}: would {kind} {}:{} {} {}",
                    step.title(),
                    call.service,
                    call.operation,
                    call.region,
                    call.resource
                ),
                call.condition,
            );
        }
        Event::Certificate {
            purpose,
            domain,
            arn,
            region,
            status,
            records,
            ..
        } => {
            let row = CertRow {
                purpose,
                domain,
                region,
                arn,
                status,
                records,
                updated: now,
            };
            match app.certs.iter_mut().find(|c| c.purpose == row.purpose) {
                Some(c) => *c = row,
                None => app.certs.push(row),
            }
            // Stable order whatever finishes first: api, app, storage.
            let rank = |p: &str| ["api", "app", "storage"].iter().position(|x| *x == p);
            app.certs.sort_by_key(|c| rank(&c.purpose));
        }
        Event::DnsRecords { records, .. } => {
            for r in records {
                let where_ = if r.written {
                    "written to Route53"
                } else {
                    "add it to your DNS"
                };
                app.note(
                    Level::Info,
                    format!("{} {} {} ({where_})", r.name, r.kind, r.value),
                    None,
                );
            }
        }
        Event::ParameterChanges { changes, .. } => app.changes = changes,
        Event::FileWritten { path, .. } => {
            app.note(Level::Info, format!("wrote {path}"), None);
            app.files.push(path);
        }
        Event::StepFinished {
            step,
            outcome,
            summary,
        } => {
            let took = match app.steps.get(&step) {
                Some(StepRun::Running { since }) => now.saturating_sub(*since),
                _ => Duration::ZERO,
            };
            app.steps.insert(
                step,
                StepRun::Finished {
                    outcome,
                    summary,
                    took,
                },
            );
        }
        Event::StepFailed { step, error, hint } => {
            app.note(
                Level::Error,
                format!("{}: {error}", step.title()),
                hint.clone(),
            );
            if app.failure.is_none() {
                app.failure = Some((
                    Some(step),
                    Failure {
                        message: error.clone(),
                        hint: hint.clone(),
                    },
                ));
            }
            app.steps.insert(step, StepRun::Failed { error, hint });
        }
    }
}
