//! `medplum-init status`: the environment's health (see [`crate::status`]), a line per check
//! on stdout, or the report as one JSON object with `--output json`; exit 0 when every check is
//! healthy (warnings allowed), 1 otherwise. Changes nothing.

use std::collections::BTreeMap;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::app::JOURNAL_KEY;
use crate::aws::AwsClients;
use crate::cli::StatusArgs;
use crate::config::infra::ConfigDocument;
use crate::engine::{Journal, StepId};
use crate::status::{Report, Verdict, facts, verdicts};

pub fn run(args: StatusArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<Status>(args, cx))
}

pub struct Status {
    loc: Location,
    doc: ConfigDocument,
}

impl Command for Status {
    type Args = StatusArgs;
    type Plan = ();
    type Applied = Report;

    fn resolve(args: StatusArgs, _cx: &Cx) -> Result<Self, CommandError> {
        Ok(Self {
            loc: Location::existing(&args.target)?,
            doc: ConfigDocument::default(),
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        let file = self.loc.config_file().expect("existing() names a config");
        self.doc = super::synth::read_config(&file)?;
        Ok(())
    }

    async fn plan(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        Ok(())
    }

    /// Reading changes nothing: nothing to confirm.
    async fn confirm(&mut self, _cx: &Cx, plan: ()) -> Result<Confirmed<()>, CommandError> {
        Ok(Confirmed::Go(plan))
    }

    async fn apply(&mut self, cx: &Cx, _plan: ()) -> Result<Report, CommandError> {
        let region = super::config_region(&self.doc, cx);
        let aws = AwsClients::load(&cx.aws, &region).await;
        let config = crate::deploy::context::resolve_config(&self.doc, Some(&aws)).await?;
        let env = config.name.clone();
        // Without the lock: a deploy may be running, and status writes nothing.
        let journal = Journal::read_only(&self.loc.dir, &env)?;
        let written: BTreeMap<String, i64> = journal
            .data::<crate::steps::parameters::Record>(StepId::Parameters)?
            .map(|r| r.written)
            .unwrap_or_default();
        let app = journal.extra(JOURNAL_KEY);
        let rotation = journal.extra_record(crate::rotate::JOURNAL_KEY)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let facts = facts::gather(&aws, &config, &env, written, app, rotation, now).await;
        Ok(Report {
            env,
            checks: verdicts::all(&facts, &config),
        })
    }

    async fn report(&mut self, cx: &Cx, r: Report) -> Outcome {
        let verdict = r.verdict();
        if cx.printer.is_json() {
            cx.printer.json(&serde_json::json!({
                "event": "status",
                "env": r.env,
                "verdict": verdict,
                "healthy": !verdict.fails(),
                "checks": r.checks,
            }));
        } else {
            let _ = cx.printer.data(&r.text());
        }
        if verdict.fails() {
            Outcome::Failed
        } else {
            debug_assert!(verdict <= Verdict::Warning);
            Outcome::Done
        }
    }
}
