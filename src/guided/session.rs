//! [`Session`], the [`Guide`] the binary builds: AWS clients loaded once per region, the
//! look-ups through [`crate::steps::lookup`], the preview through [`crate::steps::preview`] and
//! the run through the engine's [`Runner`]. This module only builds contexts and turns errors
//! into plain messages with hints; every call goes through the steps and the engine.
//!
//! A session is cheap to clone and safe to share between tasks: the TUI runs each piece off its
//! event loop, line mode awaits them in turn.

use crate::error::Diagnostic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::Guide;
use crate::answers::Answers;
use crate::aws::{AwsClients, AwsSettings};
use crate::config::US_EAST_1;
use crate::config::zones::Zone;
use crate::engine::{
    Cancel, Ctx, EventSink, Journal, Outputs, RunReport, Runner, StepError, StepId,
};
use crate::steps::lookup::{self, Caller, CertSummary};
use crate::steps::preview::{self, Preview};

pub use crate::engine::journal::ANSWERS_KEY;

/// What the command line says to a guided install.
#[derive(Debug, Clone, Default)]
pub struct GuidedOptions {
    pub dir: PathBuf,
    /// `--env`: the environment to start with (and resume).
    pub env: Option<String>,
    /// `--region`: the default region.
    pub region: Option<String>,
    pub aws: AwsSettings,
    /// `--save-answers FILE`.
    pub save_answers: Option<PathBuf>,
    /// `--dry-run`: ask, then plan; no AWS call at all.
    pub dry_run: bool,
}

/// A failure to show: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    fn of(e: &StepError) -> Self {
        Self {
            message: e.to_string(),
            hint: e.hint(),
        }
    }
    fn aws(e: crate::aws::AwsError) -> Self {
        Self {
            hint: e.hint(),
            message: e.to_string(),
        }
    }
}

#[derive(Clone)]
pub struct Session {
    opts: GuidedOptions,
    events: EventSink,
    cancel: Cancel,
    clients: Arc<tokio::sync::Mutex<BTreeMap<String, AwsClients>>>,
    /// The run's context, kept across retries so later steps see what earlier ones produced.
    run: Arc<Mutex<Option<Ctx>>>,
}

impl Session {
    pub fn new(opts: GuidedOptions, events: EventSink) -> Self {
        Self {
            opts,
            events,
            cancel: Cancel::new(),
            clients: Arc::default(),
            run: Arc::default(),
        }
    }

    /// Clients whose default region is `region`, loaded once per region.
    async fn clients(&self, region: &str) -> AwsClients {
        let mut map = self.clients.lock().await;
        if let Some(c) = map.get(region) {
            return c.clone();
        }
        let c = AwsClients::load(&self.opts.aws, region).await;
        map.insert(region.to_string(), c.clone());
        c
    }

    fn lookup_region(&self) -> String {
        self.opts.region.clone().unwrap_or_else(|| US_EAST_1.into())
    }
}

#[async_trait]
impl Guide for Session {
    fn options(&self) -> &GuidedOptions {
        &self.opts
    }

    fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    async fn caller(&self) -> Result<Caller, Failure> {
        let aws = self.clients(&self.lookup_region()).await;
        lookup::caller(&aws, &self.events, &self.cancel)
            .await
            .map_err(Failure::aws)
    }

    async fn zones(&self) -> Result<Vec<Zone>, Failure> {
        let aws = self.clients(&self.lookup_region()).await;
        lookup::hosted_zones(&aws, &self.events, &self.cancel)
            .await
            .map_err(Failure::aws)
    }

    async fn certificates(&self, region: &str) -> Result<Vec<CertSummary>, Failure> {
        let aws = self.clients(region).await;
        lookup::issued_certificates(&aws, &self.events, &self.cancel, region)
            .await
            .map_err(Failure::aws)
    }

    async fn preview(&self, answers: Answers) -> Result<Preview, Failure> {
        let env = answers.env().to_string();
        let journal = Journal::read_only(&self.opts.dir, &env).map_err(|e| Failure {
            hint: e.hint(),
            message: e.to_string(),
        })?;
        let aws = self.clients(answers.region()).await;
        let ctx = Ctx {
            answers: Arc::new(answers),
            dir: self.opts.dir.clone(),
            journal,
            aws: Some(aws),
            events: self.events.clone(),
            outputs: Outputs::default(),
            dry_run: false,
            yes: false,
            cancel: self.cancel.clone(),
        };
        preview::preview(&ctx).await.map_err(|e| Failure::of(&e))
    }

    /// The first call opens the journal (taking the environment's lock) and records
    /// `answers_text` in it, so a later run starts with the same answers; retries reuse that
    /// context, so later steps see what earlier ones produced.
    async fn run(
        &self,
        answers: Answers,
        answers_text: &str,
        only: Option<Vec<StepId>>,
    ) -> Result<RunReport, Failure> {
        let existing = self.run.lock().expect("run lock").clone();
        let ctx = match existing {
            Some(ctx) => ctx,
            None => {
                let env = answers.env().to_string();
                let journal = if self.opts.dry_run {
                    Journal::read_only(&self.opts.dir, &env)
                } else {
                    Journal::open(&self.opts.dir, &env)
                }
                .map_err(|e| Failure {
                    hint: e.hint(),
                    message: e.to_string(),
                })?;
                journal
                    .set_extra(ANSWERS_KEY, &answers_text.to_string())
                    .map_err(|e| Failure {
                        hint: e.hint(),
                        message: e.to_string(),
                    })?;
                let aws = if self.opts.dry_run {
                    None
                } else {
                    Some(self.clients(answers.region()).await)
                };
                let ctx = Ctx {
                    answers: Arc::new(answers),
                    dir: self.opts.dir.clone(),
                    journal,
                    aws,
                    events: self.events.clone(),
                    outputs: Outputs::default(),
                    dry_run: self.opts.dry_run,
                    yes: true,
                    cancel: self.cancel.clone(),
                };
                *self.run.lock().expect("run lock") = Some(ctx.clone());
                ctx
            }
        };
        for w in &ctx.answers.warnings {
            self.events.emit(crate::engine::Event::Warning {
                step: None,
                message: format!("{}: {}", w.key, w.problem),
                hint: Some(w.fix.clone()),
            });
        }
        let mut runner = Runner::new(crate::steps::all());
        if let Some(ids) = only {
            runner = runner.only(ids);
        }
        Ok(runner.run(&ctx).await)
    }

    /// Dropping the context drops the journal's lock.
    fn release(&self) {
        self.run.lock().expect("run lock").take();
    }
}

/// Writes `--save-answers`. The text holds no secrets: the front ends pass the draft's saveable
/// TOML, which leaves them out.
pub fn save_answers(path: &Path, text: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::Overrides;
    use crate::engine::EventSink;

    #[tokio::test]
    async fn release_frees_the_journal_for_the_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let opts = GuidedOptions {
            dir: dir.path().to_path_buf(),
            dry_run: false,
            ..Default::default()
        };
        let s = Session::new(opts, EventSink::discard());
        let text = "name = \"x\"\ndomainName = \"example.com\"\n[server]\nsupportEmail = \"a@example.com\"\n";
        let a = Answers::from_toml(text, "t", &Overrides::default()).unwrap();
        // Cancelled before it starts: the run opens the journal (and its lock), then stops.
        s.cancel.cancel();
        let report = s.run(a, text, Some(vec![])).await.unwrap();
        assert!(report.interrupted);
        assert!(matches!(
            Journal::open(dir.path(), "x"),
            Err(crate::engine::JournalError::Locked { .. })
        ));
        s.release();
        assert!(Journal::open(dir.path(), "x").is_ok());
    }
}
