//! Runs steps in stages: independent steps of a stage run concurrently; a failure stops the run
//! after its stage, with everything done so far recorded in the journal.

use crate::error::Diagnostic;
use std::sync::Arc;

use futures_util::future::join_all;

use super::ctx::Ctx;
use super::event::{Event, Outcome, StepId};
use super::journal::StepStatus;
use super::step::{Step, StepError};

/// The stages of a first install. Certificates, the key, SES, the logging bucket and the bot
/// layer do not depend on each other; the config file needs their results; the parameters come
/// last because they carry the signing key id and the URLs.
pub const STAGES: &[&[StepId]] = &[
    &[StepId::Identity],
    &[
        StepId::Certificates,
        StepId::SigningKey,
        StepId::Email,
        StepId::LoggingBucket,
        StepId::BotLayer,
    ],
    &[StepId::ConfigFile],
    &[StepId::Parameters],
];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub ok: bool,
    pub interrupted: bool,
    /// The answers or local state were unusable (exit code 2).
    pub invalid: bool,
    pub failed: Vec<(StepId, String)>,
    /// The first step failure, as a command reports it: `<step> failed: <error>`, its hint and
    /// outcome.
    pub first_failure: Option<crate::error::CommandError>,
    /// Steps that stopped short of writing, waiting for `--yes`.
    pub awaiting_confirmation: Vec<StepId>,
}

impl RunReport {
    /// How the run ended: interrupted, invalid (exit 2), failed, else done.
    pub fn outcome(&self) -> crate::outcome::Outcome {
        use crate::outcome::Outcome;
        if self.interrupted {
            Outcome::Interrupted
        } else if self.invalid {
            Outcome::Invalid
        } else if !self.ok {
            Outcome::Failed
        } else {
            Outcome::Done
        }
    }
}

pub struct Runner {
    steps: Vec<Arc<dyn Step>>,
    only: Option<Vec<StepId>>,
}

impl Runner {
    pub fn new(steps: Vec<Arc<dyn Step>>) -> Self {
        Self { steps, only: None }
    }

    /// Runs only these steps (re-running single steps); the others are left as they are.
    pub fn only(mut self, ids: Vec<StepId>) -> Self {
        self.only = Some(ids);
        self
    }

    fn selected(&self) -> Vec<Vec<Arc<dyn Step>>> {
        STAGES
            .iter()
            .map(|stage| {
                stage
                    .iter()
                    .filter(|id| self.only.as_ref().is_none_or(|o| o.contains(id)))
                    .filter_map(|id| self.steps.iter().find(|s| s.id() == *id).cloned())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub async fn run(&self, ctx: &Ctx) -> RunReport {
        let stages = self.selected();
        let ids: Vec<StepId> = stages.iter().flatten().map(|s| s.id()).collect();
        ctx.events.emit(Event::RunStarted {
            env: ctx.env().to_string(),
            dry_run: ctx.dry_run,
            steps: ids,
        });
        let mut report = RunReport::default();

        // Every step validates before anything touches AWS.
        for step in stages.iter().flatten() {
            if let Err(e) = step.validate(ctx) {
                report.invalid |= e.is_invalid();
                fail(ctx, step.id(), &e, &mut report);
            }
        }
        if !report.failed.is_empty() {
            return finish(ctx, report);
        }
        // Valid answers: the journal keeps them (no secrets) for a later `step` or guided run.
        if !ctx.dry_run && !ctx.answers.recorded.is_empty() {
            let recorded = ctx.answers.recorded.clone();
            if let Err(e) = ctx
                .journal
                .set_extra(super::journal::ANSWERS_KEY, &recorded)
            {
                ctx.events.emit(Event::Warning {
                    step: None,
                    message: format!("cannot record the answers in the journal: {e}"),
                    hint: None,
                });
            }
        }

        for stage in &stages {
            if ctx.cancel.is_cancelled() {
                report.interrupted = true;
                break;
            }
            let results = join_all(stage.iter().map(|step| run_one(ctx, step.as_ref()))).await;
            for (step, result) in stage.iter().zip(results) {
                match result {
                    Ok(Outcome::AwaitingConfirmation) => {
                        report.awaiting_confirmation.push(step.id())
                    }
                    Ok(_) => {}
                    Err(StepError::Cancelled) => report.interrupted = true,
                    Err(e) => {
                        report.invalid |= e.is_invalid();
                        fail(ctx, step.id(), &e, &mut report);
                    }
                }
            }
            if !report.failed.is_empty() || report.interrupted {
                break;
            }
        }
        report.interrupted |= ctx.cancel.is_cancelled();
        finish(ctx, report)
    }
}

async fn run_one(ctx: &Ctx, step: &dyn Step) -> Result<Outcome, StepError> {
    let id = step.id();
    tracing::debug!(step = %id, dry_run = ctx.dry_run, "step started");
    ctx.events.emit(Event::StepStarted { step: id });
    if ctx.dry_run {
        let mut seen = Vec::new();
        for call in step.plan(ctx) {
            // A step may name the same look-up for several resources; list it once.
            if !seen.contains(&call) {
                seen.push(call.clone());
                ctx.events.emit(Event::Planned { step: id, call });
            }
        }
        let outcome = step.dry_run(ctx).await?;
        ctx.events.emit(Event::StepFinished {
            step: id,
            outcome,
            summary: "planned".into(),
        });
        return Ok(outcome);
    }
    ctx.journal.set_status(id, StepStatus::InProgress)?;
    let outcome = match step.apply(ctx).await {
        Ok(o) => o,
        Err(e) => {
            let status = if matches!(e, StepError::Cancelled) {
                StepStatus::Pending
            } else {
                StepStatus::Failed
            };
            ctx.journal.set_status(id, status)?;
            return Err(e);
        }
    };
    if matches!(outcome, Outcome::Done | Outcome::Unchanged) {
        step.verify(ctx).await?;
    }
    let status = match outcome {
        Outcome::Skipped => StepStatus::Skipped,
        Outcome::AwaitingConfirmation => StepStatus::Pending,
        _ => StepStatus::Done,
    };
    ctx.journal.set_status(id, status)?;
    let summary = match outcome {
        Outcome::Done => "done",
        Outcome::Unchanged => "already in place",
        Outcome::Skipped => "skipped",
        Outcome::Planned => "planned",
        Outcome::AwaitingConfirmation => "waiting for confirmation (--yes)",
    };
    ctx.events.emit(Event::StepFinished {
        step: id,
        outcome,
        summary: summary.into(),
    });
    Ok(outcome)
}

fn fail(ctx: &Ctx, step: StepId, e: &StepError, report: &mut RunReport) {
    ctx.events.emit(Event::StepFailed {
        step,
        error: e.to_string(),
        hint: e.hint(),
    });
    report.failed.push((step, e.to_string()));
    if report.first_failure.is_none() {
        report.first_failure = Some(
            crate::error::CommandError::from_diagnostic(e)
                .context(format!("{} failed", step.title())),
        );
    }
}

fn finish(ctx: &Ctx, mut report: RunReport) -> RunReport {
    report.ok = report.failed.is_empty() && !report.interrupted;
    let mut summary = Vec::new();
    for (step, err) in &report.failed {
        summary.push(format!("{} failed: {err}", step.title()));
    }
    if report.interrupted {
        summary.push("interrupted; run the same command again to resume".into());
    }
    ctx.events.emit(Event::RunFinished {
        ok: report.ok,
        interrupted: report.interrupted,
        summary,
    });
    report
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::answers::{Answers, Overrides};
    use crate::engine::event::PlannedCall;
    use crate::engine::{Cancel, EventSink, Journal, Outputs};

    /// A step that records what the runner asked of it.
    struct Fake {
        id: StepId,
        log: Arc<Mutex<Vec<String>>>,
        invalid: bool,
        fail: bool,
        cancel_on_apply: Option<Cancel>,
    }

    impl Fake {
        fn new(id: StepId, log: &Arc<Mutex<Vec<String>>>) -> Self {
            Self {
                id,
                log: log.clone(),
                invalid: false,
                fail: false,
                cancel_on_apply: None,
            }
        }
        fn note(&self, what: &str) {
            self.log.lock().unwrap().push(format!("{what} {}", self.id));
        }
    }

    #[async_trait]
    impl Step for Fake {
        fn id(&self) -> StepId {
            self.id
        }
        fn validate(&self, _ctx: &Ctx) -> Result<(), StepError> {
            self.note("validate");
            if self.invalid {
                Err(StepError::invalid("bad", "fix it"))
            } else {
                Ok(())
            }
        }
        fn plan(&self, _ctx: &Ctx) -> Vec<PlannedCall> {
            self.note("plan");
            vec![PlannedCall::read("sts", "GetCallerIdentity", "us-east-1", "x"); 2]
        }
        async fn apply(&self, _ctx: &Ctx) -> Result<Outcome, StepError> {
            self.note("apply");
            if let Some(c) = &self.cancel_on_apply {
                c.cancel();
            }
            if self.fail {
                Err(StepError::failed("boom", None))
            } else {
                Ok(Outcome::Done)
            }
        }
        async fn verify(&self, _ctx: &Ctx) -> Result<(), StepError> {
            self.note("verify");
            Ok(())
        }
    }

    fn ctx(dry_run: bool) -> (Ctx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let answers = Answers::from_toml("name = \"t\"\ndomainName = \"example.com\"\n[server]\nsupportEmail = \"a@example.com\"\n", "t", &Overrides::default()).unwrap();
        let (events, rx) = EventSink::channel();
        let ctx = Ctx {
            answers: Arc::new(answers),
            dir: std::env::temp_dir(),
            journal: Journal::in_memory("t"),
            aws: None,
            events,
            outputs: Outputs::default(),
            dry_run,
            yes: false,
            cancel: Cancel::new(),
        };
        (ctx, rx)
    }

    fn steps(log: &Arc<Mutex<Vec<String>>>, tweak: impl Fn(&mut Fake)) -> Vec<Arc<dyn Step>> {
        StepId::ALL
            .into_iter()
            .map(|id| {
                let mut f = Fake::new(id, log);
                tweak(&mut f);
                Arc::new(f) as Arc<dyn Step>
            })
            .collect()
    }

    fn entries(log: &Arc<Mutex<Vec<String>>>, verb: &str) -> Vec<String> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(verb))
            .cloned()
            .collect()
    }

    #[tokio::test]
    async fn an_invalid_step_stops_everything_before_any_apply() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ctx, _rx) = ctx(false);
        let report = Runner::new(steps(&log, |f| f.invalid = f.id == StepId::Parameters))
            .run(&ctx)
            .await;
        assert!(report.invalid && !report.ok);
        assert_eq!(entries(&log, "validate").len(), 8, "every step validates");
        assert!(entries(&log, "apply").is_empty());
    }

    #[tokio::test]
    async fn a_failure_finishes_its_stage_and_stops_the_next() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ctx, _rx) = ctx(false);
        let report = Runner::new(steps(&log, |f| f.fail = f.id == StepId::Certificates))
            .run(&ctx)
            .await;
        assert_eq!(report.failed.len(), 1);
        let applied = entries(&log, "apply");
        assert!(
            applied.contains(&"apply email".to_string()),
            "the stage's other steps ran: {applied:?}"
        );
        assert!(
            !applied
                .iter()
                .any(|a| a.ends_with("config_file") || a.ends_with("parameters"))
        );
        assert_eq!(ctx.journal.status(StepId::Certificates), StepStatus::Failed);
        assert_eq!(ctx.journal.status(StepId::Email), StepStatus::Done);
        assert!(entries(&log, "verify").contains(&"verify email".to_string()));
    }

    #[tokio::test]
    async fn a_dry_run_plans_and_never_applies() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ctx, mut rx) = ctx(true);
        let report = Runner::new(steps(&log, |_| {})).run(&ctx).await;
        assert!(report.ok);
        assert!(entries(&log, "apply").is_empty());
        assert_eq!(entries(&log, "plan").len(), 8);
        drop(ctx);
        let mut planned = 0;
        while let Some(e) = rx.recv().await {
            planned += usize::from(matches!(e, Event::Planned { .. }));
        }
        assert_eq!(
            planned, 8,
            "duplicate planned calls are listed once per step"
        );
    }

    #[tokio::test]
    async fn cancellation_stops_at_the_next_stage() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ctx, _rx) = ctx(false);
        let cancel = ctx.cancel.clone();
        let report = Runner::new(steps(&log, |f| {
            if f.id == StepId::Identity {
                f.cancel_on_apply = Some(cancel.clone());
            }
        }))
        .run(&ctx)
        .await;
        assert!(report.interrupted && !report.ok);
        assert_eq!(entries(&log, "apply"), ["apply identity"]);
    }

    #[tokio::test]
    async fn only_runs_the_chosen_steps() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ctx, _rx) = ctx(false);
        let report = Runner::new(steps(&log, |_| {}))
            .only(vec![StepId::Email, StepId::Parameters])
            .run(&ctx)
            .await;
        assert!(report.ok);
        assert_eq!(entries(&log, "apply"), ["apply email", "apply parameters"]);
    }
}
