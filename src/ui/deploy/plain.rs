//! `--output plain` for deploys: one line per resource transition on stderr, a heartbeat every
//! 30 s naming what is still running (CI systems kill jobs that stay silent), and a recap of
//! failures at the end, first failure first.

use std::io::Write;

use super::DeployRenderer;
use crate::deploy::changeset::ChangeAction;
use crate::deploy::clock::{elapsed, elapsed_padded};
use crate::deploy::event::{AppEvent, DeployEvent, FailureRecap};
use crate::deploy::progress::{DeployState, RowState, Transition, status_words, verb};
use crate::printer::style::Style;

/// How often the heartbeat speaks while resources are in progress.
pub const HEARTBEAT_MS: i64 = 30_000;

/// The failure recap: every failed resource with CloudFormation's full reason, first failure
/// first. Written at the end of plain logs, and after the full-screen view closes.
pub fn write_recap(w: &mut dyn Write, failures: &[FailureRecap], s: Style) {
    if failures.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "\n{}",
        s.red(&s.bold("Failed resources (first failure first):"))
    );
    for f in failures {
        let _ = writeln!(
            w,
            "  {} {}/{} ({}): {}\n      {}",
            s.red("✗"),
            f.stack,
            f.logical_id,
            f.resource_type,
            f.status,
            f.reason
        );
    }
}

pub struct PlainDeploy<E: Write + Send> {
    err: E,
    style: Style,
    state: DeployState,
    last_heartbeat: i64,
    last_warning: Option<String>,
    /// The download's last tenth shown: a line per tenth, not per chunk.
    download_tenth: Option<u64>,
}

impl<E: Write + Send> PlainDeploy<E> {
    pub fn new(err: E, style: Style) -> Self {
        Self {
            err,
            style,
            state: DeployState::new(),
            last_heartbeat: 0,
            last_warning: None,
            download_tenth: None,
        }
    }

    fn counter(&self, stack: &str) -> String {
        let (done, total) = self
            .state
            .stack(stack)
            .map(|s| s.counter())
            .unwrap_or((0, 0));
        let w = total.to_string().len();
        format!("[{done:>w$}/{total}]")
    }

    fn transition(&mut self, t: &Transition) {
        let s = self.style;
        let counter = self.counter(&t.stack);
        let took = t
            .elapsed_ms
            .map(|ms| format!(" after {}", elapsed(0, ms)))
            .unwrap_or_default();
        let rb = if t.rollback {
            s.yellow(" (rollback)")
        } else {
            String::new()
        };
        let line = match t.to {
            RowState::InProgress => format!(
                "{} {} ({}): {}...{rb}",
                s.cyan("▸"),
                t.logical_id,
                t.resource_type,
                verb(&t.status)
            ),
            RowState::Done => format!(
                "{} {}: {}{took}{rb}",
                if t.rollback {
                    s.yellow("↺")
                } else {
                    s.green("✓")
                },
                t.logical_id,
                status_words(&t.status)
            ),
            RowState::Failed => format!(
                "{} {}: {}{took}: {}",
                s.red("✗"),
                t.logical_id,
                s.red(&status_words(&t.status)),
                t.reason.as_deref().unwrap_or("no reason given")
            ),
            RowState::Cancelled => format!(
                "{} {}: {}",
                s.dim("–"),
                t.logical_id,
                s.dim(t.reason.as_deref().unwrap_or("cancelled"))
            ),
            RowState::Pending => return,
        };
        let _ = writeln!(self.err, "{} {line}", s.dim(&counter));
    }

    /// The web app's publish, a line per step (the download a line per tenth).
    fn app(&mut self, e: &AppEvent) {
        let s = self.style;
        let line = match e {
            AppEvent::Fetching {
                package,
                version,
                source,
            } => {
                self.download_tenth = None;
                let what = match version {
                    Some(v) => format!("{package} {v}"),
                    None => package.clone(),
                };
                s.bold(&format!("Publishing the web app: {what} from {source}"))
            }
            AppEvent::Download {
                received,
                total: Some(total),
            } if *total > 0 => {
                let tenth = received * 10 / total;
                if self.download_tenth.is_some_and(|t| t >= tenth) {
                    return;
                }
                self.download_tenth = Some(tenth);
                s.dim(&format!(
                    "  {:>3}%  {:.1} of {:.1} MB",
                    tenth * 10,
                    *received as f64 / 1e6,
                    *total as f64 / 1e6
                ))
            }
            AppEvent::Download { .. } => return,
            AppEvent::Planned {
                version,
                bucket,
                uploads,
                unchanged,
                deletes,
            } => format!(
                "  {version} to s3://{bucket}/: {uploads} to upload, {unchanged} unchanged, \
                 {deletes} to remove"
            ),
            AppEvent::Uploaded { key, done, total } => {
                s.dim(&format!("  uploaded {done}/{total} {key}"))
            }
            AppEvent::Removed { key } => s.dim(&format!("  removed {key}")),
            AppEvent::Invalidation { id, status } => {
                s.dim(&format!("  invalidation {id}: {status}"))
            }
            // What serves where, and the error, the command says itself (stdout, the error
            // contract); here only the step's end.
            AppEvent::Finished { ok: true, .. } => {
                format!("{} {}", s.green("✓"), s.bold("web app published"))
            }
            AppEvent::Finished { ok: false, .. } => {
                format!("{} {}", s.red("✗"), s.red("web app not published"))
            }
        };
        let _ = writeln!(self.err, "{line}");
    }

    fn heartbeat(&mut self) {
        let now = self.state.now_ms;
        if now - self.last_heartbeat < HEARTBEAT_MS {
            return;
        }
        self.last_heartbeat = now;
        let Some(stack) = self.state.current_stack() else {
            return;
        };
        let running: Vec<String> = stack
            .rows
            .iter()
            .filter(|r| r.state == RowState::InProgress)
            .map(|r| {
                format!(
                    "  {} still {} {}... [{} elapsed]",
                    self.style.dim("…"),
                    verb(&r.status),
                    r.logical_id,
                    elapsed_padded(r.started_ms.unwrap_or(now), now)
                )
            })
            .collect();
        for line in running {
            let _ = writeln!(self.err, "{line}");
        }
    }
}

impl<E: Write + Send> DeployRenderer for PlainDeploy<E> {
    fn render(&mut self, event: &DeployEvent) {
        let s = self.style;
        let transition = self.state.apply(event);
        match event {
            DeployEvent::StackStarted {
                stack,
                region,
                resources,
                at,
                ..
            } => {
                self.last_heartbeat = at.0;
                let count = |a: ChangeAction| resources.iter().filter(|r| r.action == a).count();
                let _ = writeln!(
                    self.err,
                    "{} {stack} ({region}): {} to add, {} to change, {} to remove",
                    s.bold("Deploying"),
                    count(ChangeAction::Add),
                    count(ChangeAction::Modify),
                    count(ChangeAction::Remove),
                );
            }
            DeployEvent::DeleteStarted {
                stack, region, at, ..
            } => {
                self.last_heartbeat = at.0;
                let _ = writeln!(
                    self.err,
                    "{} {stack} ({region}): DeleteStack accepted",
                    s.bold("Deleting"),
                );
            }
            DeployEvent::Attaching {
                stack,
                region,
                status,
                at,
                ..
            } => {
                self.last_heartbeat = at.0;
                // `destroy` follows a delete already running; a deploy plans once it ends.
                let then = if status.starts_with("DELETE") {
                    ""
                } else {
                    ", then planning"
                };
                let _ = writeln!(
                    self.err,
                    "{} {stack} ({region}): an operation is already running ({status}); following it until it ends{then}",
                    s.bold("Attaching to"),
                );
            }
            DeployEvent::Resource {
                stack,
                logical_id,
                status,
                reason,
                ..
            } if transition.is_none() && logical_id == stack => {
                if status == "REVIEW_IN_PROGRESS" {
                    return; // the change set's creation, not the deploy
                }
                let text = format!("{stack}: {}", status.replace('_', " "));
                let text = match reason {
                    Some(r) if r != "User Initiated" => format!("{text}: {r}"),
                    _ => text,
                };
                let painted = if status.contains("ROLLBACK") || status.contains("FAILED") {
                    s.yellow(&text)
                } else {
                    s.dim(&text)
                };
                let _ = writeln!(self.err, "  {painted}");
            }
            DeployEvent::Resource { .. } => {
                if let Some(t) = &transition {
                    self.transition(t);
                }
            }
            DeployEvent::ServiceDiagnosis {
                stack,
                logical_id,
                in_progress_ms,
                events,
                stopped_tasks,
                ..
            } => {
                let _ = writeln!(
                    self.err,
                    "  {} {stack}/{logical_id} still in progress after {}; ECS says:",
                    s.yellow("?"),
                    elapsed(0, *in_progress_ms),
                );
                for t in stopped_tasks {
                    let _ = writeln!(self.err, "      stopped task: {t}");
                }
                for e in events {
                    let _ = writeln!(self.err, "      {}", s.dim(e));
                }
            }
            DeployEvent::Tick { .. } => self.heartbeat(),
            DeployEvent::Note { message, .. } => {
                let _ = writeln!(self.err, "  {} {message}", s.dim("·"));
            }
            DeployEvent::PollWarning { message, .. } => {
                if self.last_warning.as_ref() != Some(message) {
                    let _ = writeln!(self.err, "  {} {message}", s.yellow("warning:"));
                    self.last_warning = Some(message.clone());
                }
            }
            DeployEvent::Cancelling { message, .. } => {
                let _ = writeln!(self.err, "{} {message}", s.yellow("!"));
            }
            DeployEvent::StackFinished {
                stack, status, ok, ..
            } => {
                self.last_warning = None;
                let took = self
                    .state
                    .stack(stack)
                    .and_then(|st| Some(elapsed(st.started_ms?, st.finished_ms?)))
                    .map(|e| format!(" after {e}"))
                    .unwrap_or_default();
                let line = format!("{stack}: {status}{took}");
                let _ = writeln!(
                    self.err,
                    "{} {}",
                    if *ok { s.green("✓") } else { s.red("✗") },
                    if *ok { s.bold(&line) } else { s.red(&line) }
                );
            }
            DeployEvent::App(e) => self.app(e),
            DeployEvent::Finished { failures, .. } => write_recap(&mut self.err, failures, s),
            DeployEvent::ChangeSet { .. } => {}
        }
    }

    fn finish(&mut self) {
        let _ = self.err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::event::Time;
    use crate::deploy::testkit::{T0, as_deploy_events, failure_recording, stack_started};

    fn run(events: &[DeployEvent]) -> String {
        let mut out = Vec::new();
        {
            let mut r = PlainDeploy::new(&mut out, Style::plain());
            events.iter().for_each(|e| r.render(e));
            r.finish();
        }
        String::from_utf8(out).unwrap()
    }

    fn started(ids: &[(&str, &str)]) -> DeployEvent {
        stack_started("MedplumStagingStack", ids)
    }

    #[test]
    fn one_line_per_transition_and_a_recap_of_the_failure() {
        let mut events = vec![started(&[
            ("BackEndVPC", "AWS::EC2::VPC"),
            ("BackEndRedisCluster", "AWS::ElastiCache::ReplicationGroup"),
        ])];
        events.extend(as_deploy_events(
            "MedplumStagingStack",
            T0,
            &failure_recording(),
        ));
        events.push(DeployEvent::Finished {
            ok: false,
            cancelled: false,
            failures: {
                let mut st = DeployState::new();
                events.iter().for_each(|e| {
                    st.apply(e);
                });
                st.failure_recap()
            },
            at: Time(T0 + 400_000),
        });
        let text = run(&events);
        // "Resource creation Initiated" is a second CREATE_IN_PROGRESS: no second line.
        assert_eq!(
            text.matches("BackEndVPC (AWS::EC2::VPC): creating...")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("✓ BackEndVPC: create complete after 13s"),
            "{text}"
        );
        assert!(
            text.contains("▸ BackEndVPC (AWS::EC2::VPC): deleting... (rollback)"),
            "{text}"
        );
        assert!(
            text.contains("↺ BackEndVPC: delete complete after 1s (rollback)"),
            "{text}"
        );
        assert!(
            text.contains(
                "✗ BackEndRedisCluster: create failed after 3s: Resource handler returned message"
            ),
            "{text}"
        );
        assert!(text.contains("– BackEndDatabaseCluster: Resource creation cancelled"));
        assert!(text.contains(
            "MedplumStagingStack: ROLLBACK IN PROGRESS: The following resource(s) failed to create"
        ));
        let recap = text
            .split("Failed resources (first failure first):")
            .nth(1)
            .unwrap();
        assert!(
            recap
                .trim_start()
                .starts_with("✗ MedplumStagingStack/BackEndRedisCluster"),
            "{recap}"
        );
        assert!(
            !recap.contains("BackEndDatabaseCluster"),
            "cancellations are not causes"
        );
    }

    #[test]
    fn a_heartbeat_every_30_seconds_names_what_is_still_running() {
        let ev = |id: &str, status: &str, at: i64| DeployEvent::Resource {
            stack: "MedplumStagingStack".into(),
            logical_id: id.into(),
            resource_type: "AWS::RDS::DBCluster".into(),
            physical_id: None,
            status: status.into(),
            reason: None,
            at: Time(T0 + at),
        };
        let tick = |at: i64| DeployEvent::Tick { at: Time(T0 + at) };
        let events = vec![
            started(&[("DatabaseCluster", "AWS::RDS::DBCluster")]),
            ev("DatabaseCluster", "CREATE_IN_PROGRESS", 1_000),
            tick(10_000),
            tick(29_000),
            tick(31_000),
            tick(45_000),
            tick(62_000),
            ev("DatabaseCluster", "CREATE_COMPLETE", 80_000),
            tick(95_000),
        ];
        let text = run(&events);
        let beats: Vec<&str> = text.lines().filter(|l| l.contains("still")).collect();
        assert_eq!(
            beats,
            [
                "  … still creating DatabaseCluster... [00m30s elapsed]",
                "  … still creating DatabaseCluster... [01m01s elapsed]",
            ],
            "{text}"
        );
    }

    #[test]
    fn the_web_app_is_a_line_per_step_and_its_download_a_line_per_tenth() {
        let app = |e| DeployEvent::App(e);
        let mut events = vec![app(AppEvent::Fetching {
            package: "@medplum/app".into(),
            version: Some("5.0.10".into()),
            source: "http://127.0.0.1:9/".into(),
        })];
        // A percentage event each, as the command sends them.
        for pct in 0..=100u64 {
            events.push(app(AppEvent::Download {
                received: pct * 30_000,
                total: Some(3_000_000),
            }));
        }
        events.push(app(AppEvent::Planned {
            version: "5.0.10".into(),
            bucket: "app.example.com".into(),
            uploads: 2,
            unchanged: 5,
            deletes: 1,
        }));
        events.push(app(AppEvent::Uploaded {
            key: "assets/a.js".into(),
            done: 1,
            total: 2,
        }));
        events.push(app(AppEvent::Uploaded {
            key: "index.html".into(),
            done: 2,
            total: 2,
        }));
        events.push(app(AppEvent::Removed {
            key: "assets/old.js".into(),
        }));
        events.push(app(AppEvent::Invalidation {
            id: "I2J".into(),
            status: "Completed".into(),
        }));
        events.push(app(AppEvent::Finished {
            ok: true,
            message: "@medplum/app 5.0.10 serves at https://app.example.com/".into(),
        }));
        let text = run(&events);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| l.contains(" MB")).count(),
            11,
            "{text}"
        );
        assert_eq!(lines[1], "    0%  0.0 of 3.0 MB");
        assert_eq!(lines[11], "  100%  3.0 of 3.0 MB");
        assert_eq!(
            &lines[12..],
            [
                "  5.0.10 to s3://app.example.com/: 2 to upload, 5 unchanged, 1 to remove",
                "  uploaded 1/2 assets/a.js",
                "  uploaded 2/2 index.html",
                "  removed assets/old.js",
                "  invalidation I2J: Completed",
                "✓ web app published",
            ],
            "{text}"
        );
        assert!(lines[0].starts_with("Publishing the web app: @medplum/app 5.0.10 from"));
    }
}
