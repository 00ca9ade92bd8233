//! `--output plain`: a readable log. Progress goes to stderr; the plan of a dry run, the
//! parameter summary and the final summary go to stdout, so `> plan.txt` keeps just the data.

use std::io::Write;

use super::Renderer;
use crate::engine::event::DnsRecord;
use crate::engine::{CallStatus, Event, Outcome, ParameterAction, StepId};
use crate::printer::style::Style;

pub struct PlainRenderer<O: Write + Send, E: Write + Send> {
    out: O,
    err: E,
    style: Style,
    /// The step whose plan header was printed last.
    plan_step: Option<StepId>,
    dry_run: bool,
}

impl<O: Write + Send, E: Write + Send> PlainRenderer<O, E> {
    pub fn new(out: O, err: E, style: Style) -> Self {
        Self {
            out,
            err,
            style,
            plan_step: None,
            dry_run: false,
        }
    }

    fn records(&mut self, records: &[DnsRecord]) {
        for r in records {
            let mark = if r.written {
                self.style.green("written to Route53")
            } else {
                self.style.yellow("add it to your DNS")
            };
            let _ = writeln!(self.out, "    {} {} {}  ({mark})", r.name, r.kind, r.value);
        }
    }
}

impl<O: Write + Send, E: Write + Send> Renderer for PlainRenderer<O, E> {
    fn render(&mut self, event: &Event) {
        let s = self.style;
        match event {
            Event::RunStarted {
                env,
                dry_run,
                steps,
            } => {
                self.dry_run = *dry_run;
                let mode = if *dry_run {
                    " (dry run: no AWS calls)"
                } else {
                    ""
                };
                let _ = writeln!(
                    self.err,
                    "{} {}{mode}: {} steps",
                    s.bold("medplum-init"),
                    env,
                    steps.len()
                );
                if *dry_run {
                    let _ = writeln!(
                        self.out,
                        "Planned AWS calls for environment {env} (nothing was called):"
                    );
                }
            }
            Event::StepStarted { step } => {
                let _ = writeln!(self.err, "{} {}", s.cyan("▸"), step.title());
            }
            Event::Planned { step, call } => {
                if self.plan_step != Some(*step) {
                    self.plan_step = Some(*step);
                    let _ = writeln!(self.out, "\n{}", s.bold(step.title()));
                }
                let kind = if call.write {
                    s.yellow("write")
                } else {
                    s.dim("read ")
                };
                let when = call
                    .condition
                    .as_ref()
                    .map(|c| format!("  ({c})"))
                    .unwrap_or_default();
                let op = format!("{}:{}", call.service, call.operation);
                let _ = writeln!(
                    self.out,
                    "  {kind}  {op:<36} {:<14} {}{}",
                    call.region,
                    call.resource,
                    s.dim(&when)
                );
            }
            Event::AwsCall {
                service,
                operation,
                region,
                resource,
                status,
                elapsed_ms,
                error,
                ..
            } => match status {
                CallStatus::Started => {}
                CallStatus::Ok => {
                    let ms = elapsed_ms.map(|m| format!(" {m} ms")).unwrap_or_default();
                    let _ = writeln!(
                        self.err,
                        "  {} {service}:{operation} {region} {resource}{}",
                        s.dim("·"),
                        s.dim(&ms)
                    );
                }
                CallStatus::Failed => {
                    let _ = writeln!(
                        self.err,
                        "  {} {service}:{operation} {region} {resource}: {}",
                        s.red("✗"),
                        error.as_deref().unwrap_or("failed")
                    );
                }
            },
            Event::Progress { message, .. } => {
                let _ = writeln!(self.err, "  {message}");
            }
            Event::Warning { message, hint, .. } => {
                let _ = writeln!(self.err, "  {} {message}", s.yellow("warning:"));
                if let Some(h) = hint {
                    let _ = writeln!(self.err, "    {}", s.dim(&format!("hint: {h}")));
                }
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
                let _ = writeln!(
                    self.out,
                    "certificate {purpose} {domain} ({region}): {status}\n    {arn}"
                );
                self.records(records);
            }
            Event::DnsRecords { records, .. } => {
                let _ = writeln!(self.out, "DNS records:");
                self.records(records);
            }
            Event::ParameterChanges { changes, .. } => {
                let adds = changes
                    .iter()
                    .filter(|c| c.action == ParameterAction::Add)
                    .count();
                let mods = changes
                    .iter()
                    .filter(|c| c.action == ParameterAction::Change)
                    .count();
                let same = changes.len() - adds - mods;
                let _ = writeln!(
                    self.out,
                    "Parameter Store: {adds} to add, {mods} to change, {same} unchanged"
                );
                for c in changes {
                    let line = match c.action {
                        ParameterAction::Add => {
                            format!("  {} {} = {}", s.green("+"), c.name, c.new)
                        }
                        ParameterAction::Change => format!(
                            "  {} {} = {} (was {})",
                            s.yellow("~"),
                            c.name,
                            c.new,
                            c.old.as_deref().unwrap_or("?")
                        ),
                        ParameterAction::Unchanged => {
                            format!("  {} {}", s.dim("="), s.dim(&c.name))
                        }
                    };
                    let _ = writeln!(self.out, "{line}");
                }
            }
            Event::FileWritten { path, .. } => {
                let _ = writeln!(self.out, "wrote {path}");
            }
            Event::StepFinished {
                step,
                outcome,
                summary,
            } => {
                let mark = match outcome {
                    Outcome::Done | Outcome::Planned => s.green("✓"),
                    Outcome::Unchanged => s.green("="),
                    Outcome::Skipped => s.dim("-"),
                    Outcome::AwaitingConfirmation => s.yellow("?"),
                };
                let _ = writeln!(self.err, "{mark} {}: {summary}", step.title());
            }
            Event::StepFailed { step, error, hint } => {
                let _ = writeln!(self.err, "{} {}: {error}", s.red("✗"), step.title());
                if let Some(h) = hint {
                    let _ = writeln!(self.err, "    {}", s.dim(&format!("hint: {h}")));
                }
            }
            Event::RunFinished {
                ok,
                interrupted,
                summary,
            } => {
                // A failed run's summary is the command's error, printed after this in the
                // one error format; here only what an interrupt or a success has to say.
                if *ok || *interrupted {
                    for line in summary {
                        let _ = writeln!(self.err, "{line}");
                    }
                }
                let word = if *ok {
                    s.green("finished")
                } else {
                    s.red("stopped")
                };
                let _ = writeln!(self.err, "{} {word}", s.bold("medplum-init"));
            }
        }
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}
