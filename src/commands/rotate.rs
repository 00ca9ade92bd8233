//! `medplum-init rotate signing-key`: replaces the CloudFront signing key with no downtime, in
//! the five stages of [`crate::rotate`], resumable from the journal at each. The two deploys go
//! through the deploy engine (`deploy` without the web app), between them the key's writes and
//! the servers' restart; then the grace period, waited out (Ctrl-C leaves the rotation to
//! `--finish` later) or, with `--finish`, checked as passed.
//!
//! A second `rotate` while one is in progress resumes it. The journal's lock is held for each
//! stage of the command's own and released for the deploys, which take it themselves.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::answers::Overrides;
use crate::aws::AwsClients;
use crate::cli::RotateArgs;
use crate::config::infra::{ConfigDocument, RETIRING_SIGNING_KEY, config_path};
use crate::engine::{Cancel, Ctx, EventSink, Journal, Outputs, StepId};
use crate::printer::OutputMode;
use crate::rotate::{Rotation, Stage, key, now_ms, restart};
use crate::steps::recall;
use crate::steps::signing_key::KeyRecord;

pub fn run(args: RotateArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<Rotate>(args, cx))
}

pub struct Rotate {
    args: RotateArgs,
    loc: Location,
    env: String,
    cancel: Cancel,
}

/// What the rotation starts from.
pub struct Plan {
    /// The rotation in progress, or `None` to start one.
    existing: Option<Rotation>,
    old_key_id: String,
    stack: String,
}

impl Command for Rotate {
    type Args = RotateArgs;
    type Plan = Plan;
    type Applied = Outcome;

    fn resolve(args: RotateArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::existing(&args.target)?;
        let env = loc.env.clone().expect("existing() names the environment");
        Ok(Self {
            args,
            loc,
            env,
            cancel: Cancel::new(),
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        let path = config_path(&self.loc.dir, &self.env);
        if ConfigDocument::read(&path)?.is_none() {
            return Err(CommandError::usage(
                format!("no {} here: nothing to rotate", path.display()),
                "run the install first, or pass --dir/--config to the environment's folder",
            ));
        }
        Ok(())
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Plan, CommandError> {
        let journal = Journal::read_only(&self.loc.dir, &self.env)?;
        let existing: Option<Rotation> = journal.extra_record(crate::rotate::JOURNAL_KEY)?;
        let doc = ConfigDocument::read(&config_path(&self.loc.dir, &self.env))?.unwrap_or_default();
        let stack = doc
            .get_str("stackName")
            .map(str::to_string)
            .unwrap_or_default();
        let old_key_id = match &existing {
            Some(r) => r.old_key_id.clone(),
            None => journal
                .data::<KeyRecord>(StepId::SigningKey)?
                .and_then(|k| k.key_id)
                .or_else(|| doc.get_str("signingKeyId").map(str::to_string))
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    CommandError::usage(
                        "this environment has no signing key to rotate",
                        "run `medplum-init step signing-key` first",
                    )
                })?,
        };
        if let (Some(r), Some(given)) = (&existing, self.args.grace)
            && given.as_secs() != r.grace_seconds
        {
            cx.printer.warn(
                &format!(
                    "--grace {} does not apply: the rotation in progress keeps the {} it started with",
                    crate::engine::time::format_elapsed(given),
                    crate::engine::time::format_elapsed(Duration::from_secs(r.grace_seconds))
                ),
                None,
            );
        }
        match (&existing, self.args.finish) {
            (None, true) => {
                return Err(CommandError::usage(
                    "no signing key rotation is in progress: nothing to finish",
                    "start one with `medplum-init rotate signing-key`",
                ));
            }
            (Some(r), true) => {
                let left = r.grace_left(now_ms());
                match left {
                    None => {
                        return Err(CommandError::usage(
                            format!(
                                "the rotation has not restarted the servers yet (next: stage {} of 5, {})",
                                r.stage.number_of_next(),
                                r.stage.next()
                            ),
                            "run `medplum-init rotate signing-key` to resume it",
                        ));
                    }
                    Some(d) if !d.is_zero() => {
                        return Err(CommandError::usage(
                            format!(
                                "the grace period ends at {}: URLs signed with the old key may still be in use",
                                r.may_finish_text().unwrap_or_default()
                            ),
                            "run --finish after that time, or `medplum-init rotate signing-key` to wait for it",
                        ));
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
        let text = match &existing {
            None => format!(
                "rotate signing key {old_key_id} of {}: 5 stages; the old key stays trusted {} after the servers restart",
                self.env,
                crate::engine::time::format_elapsed(self.grace())
            ),
            Some(r) => format!(
                "resume the rotation of {old_key_id} (started {}): stage {} of 5 next, {}",
                r.started,
                r.stage.number_of_next(),
                r.stage.next()
            ),
        };
        if existing.is_none() && self.grace() < crate::rotate::DEFAULT_GRACE {
            cx.printer.warn(
                &format!(
                    "a grace period of {} is shorter than the hour Medplum's signed URLs last: URLs signed with the old key just before the restart stop working when it ends",
                    crate::engine::time::format_elapsed(self.grace())
                ),
                Some("leave out --grace for the default 1h5m"),
            );
        }
        if cx.printer.is_json() {
            cx.printer.json(&serde_json::json!({
                "event": "rotation_plan",
                "env": self.env,
                "old_key_id": old_key_id,
                "stage": existing.as_ref().map(|r| r.stage.as_str()),
            }));
        } else {
            cx.printer.status(&text);
        }
        Ok(Plan {
            existing,
            old_key_id,
            stack,
        })
    }

    async fn confirm(&mut self, cx: &Cx, plan: Plan) -> Result<Confirmed<Plan>, CommandError> {
        if self.args.yes || self.args.finish {
            return Ok(Confirmed::Go(plan));
        }
        super::ask_to_apply(
            cx,
            plan,
            (
                "Rotate the signing key?",
                "two deploys and a restart of the servers; both keys verify until the end",
            ),
            (
                "not rotating: there is no terminal to confirm on",
                "run the same command with --yes",
            ),
        )
    }

    async fn apply(&mut self, cx: &Cx, plan: Plan) -> Result<Outcome, CommandError> {
        let signals = tokio::spawn(super::watch_interrupts(
            self.cancel.clone(),
            cx.printer,
            "interrupted: the rotation stops at the next safe point; both keys stay trusted (Ctrl-C again to quit at once)".into(),
            "quitting now; run `medplum-init rotate signing-key` again to resume".into(),
        ));
        let result = self.stages(cx, plan).await;
        signals.abort();
        result
    }

    async fn report(&mut self, cx: &Cx, outcome: Outcome) -> Outcome {
        if outcome == Outcome::Interrupted && !cx.printer.is_json() {
            cx.printer.status(
                "the rotation is paused; both keys are trusted. Run `medplum-init rotate signing-key` to resume (or --finish once the grace period has passed)",
            );
        }
        outcome
    }
}

/// One stage's context: the journal (locked), AWS, and a renderer of its events.
struct Session {
    ctx: Ctx,
    render: tokio::task::JoinHandle<()>,
}

impl Session {
    async fn close(self) {
        drop(self.ctx);
        let _ = self.render.await;
    }
}

impl Rotate {
    fn grace(&self) -> Duration {
        self.args.grace.unwrap_or(crate::rotate::DEFAULT_GRACE)
    }

    async fn session(&self, cx: &Cx) -> Result<Session, CommandError> {
        let journal = Journal::open(&self.loc.dir, &self.env)?;
        let overrides = Overrides {
            env: Some(self.env.clone()),
            region: cx.aws.region.clone(),
        };
        let r = recall::recall(&self.loc.dir, &self.env, &journal, &overrides, None)?;
        let aws = AwsClients::load(&cx.aws, r.answers.region()).await;
        let (events, rx) = EventSink::channel();
        let printer = if cx.mode() == OutputMode::Tui {
            crate::printer::Printer::new(OutputMode::Plain)
        } else {
            cx.printer
        };
        let renderer = cx.frontend.install_renderer(&printer);
        let render = tokio::spawn(super::pump(
            rx,
            renderer,
            |r, e| r.render(e),
            |r| r.finish(),
        ));
        Ok(Session {
            ctx: Ctx {
                answers: Arc::new(r.answers),
                dir: self.loc.dir.clone(),
                journal,
                aws: Some(aws),
                events,
                outputs: Outputs::default(),
                dry_run: false,
                yes: true,
                cancel: self.cancel.clone(),
            },
            render,
        })
    }

    fn stage_line(&self, cx: &Cx, stage: Stage) {
        if !cx.printer.is_json() {
            cx.printer.status(&format!(
                "rotation stage {} of 5: {}",
                stage.number_of_next(),
                stage.next()
            ));
        }
    }

    /// Runs the stages from where the journal says the rotation stands.
    async fn stages(&mut self, cx: &Cx, plan: Plan) -> Result<Outcome, CommandError> {
        if plan.existing.is_none() {
            let s = self.session(cx).await?;
            let old_pem = s
                .ctx
                .journal
                .data::<KeyRecord>(StepId::SigningKey)?
                .and_then(|k| k.public_key_pem);
            let r = Rotation::new(plan.old_key_id.clone(), old_pem, self.grace());
            key::save(&s.ctx, &r)?;
            s.close().await;
        }
        loop {
            if self.cancel.is_cancelled() {
                return Ok(Outcome::Interrupted);
            }
            let s = self.session(cx).await?;
            let Some(r) = key::load(&s.ctx)? else {
                s.close().await;
                return Ok(Outcome::Done);
            };
            self.stage_line(cx, r.stage);
            let done = match r.stage {
                Stage::Started => key::register(&s.ctx).await.map(|_| ()),
                Stage::Registered => {
                    let (Some(id), Some(pem)) =
                        (r.next.key_id.clone(), r.next.public_key_pem.clone())
                    else {
                        s.close().await;
                        return Err(CommandError::failed(
                            "the rotation's record lacks the new key",
                            None,
                        ));
                    };
                    self.edit_config(|doc| {
                        doc.set("signingKeyId", Value::String(id.clone()));
                        doc.set("storagePublicKey", Value::String(pem.clone()));
                        doc.set(RETIRING_SIGNING_KEY, Value::String(r.old_key_id.clone()));
                    })?;
                    s.close().await;
                    self.deploy(cx).await?;
                    let s = self.session(cx).await?;
                    let mut r = r;
                    r.stage = Stage::BothTrusted;
                    key::save(&s.ctx, &r)?;
                    s.close().await;
                    pause(Stage::BothTrusted);
                    continue;
                }
                Stage::BothTrusted => key::write(&s.ctx).await,
                Stage::Written => restart::restart(&s.ctx, &plan.stack).await,
                Stage::Restarted => {
                    s.close().await;
                    if !self.wait_for_grace(cx, &r).await {
                        return Ok(Outcome::Interrupted);
                    }
                    return self.finish(cx, &r).await;
                }
            };
            let stage_after = key::load(&s.ctx).ok().flatten().map(|r| r.stage);
            s.close().await;
            if let Err(e) = done {
                if matches!(e, crate::engine::StepError::Cancelled) {
                    return Ok(Outcome::Interrupted);
                }
                return Err(CommandError::from_diagnostic(&e).with_hint_suffix(
                    "the old key is still trusted; run `medplum-init rotate signing-key` again to resume",
                ));
            }
            if let Some(stage) = stage_after {
                pause(stage);
            }
        }
    }

    /// Waits out the grace period, saying when it ends; false when interrupted.
    async fn wait_for_grace(&self, cx: &Cx, r: &Rotation) -> bool {
        let Some(left) = r.grace_left(now_ms()) else {
            return true;
        };
        if left.is_zero() {
            return true;
        }
        if !cx.printer.is_json() {
            cx.printer.status(&format!(
                "the servers sign with the new key; the old one stays trusted until {} ({} from now) for the URLs it signed. Ctrl-C leaves this to `medplum-init rotate signing-key --finish` after that time",
                r.may_finish_text().unwrap_or_default(),
                crate::engine::time::format_elapsed(left)
            ));
        }
        let mut left = left;
        while !left.is_zero() {
            let step = left.min(Duration::from_secs(300));
            if !self.cancel.sleep(step).await {
                return false;
            }
            left = r.grace_left(now_ms()).unwrap_or_default();
            if !left.is_zero() && !cx.printer.is_json() {
                cx.printer.status(&format!(
                    "grace period: {} left",
                    crate::engine::time::format_elapsed(left)
                ));
            }
        }
        true
    }

    /// Stage 5: the new key alone in the key group, the old one deleted, the record removed.
    async fn finish(&mut self, cx: &Cx, r: &Rotation) -> Result<Outcome, CommandError> {
        self.edit_config(|doc| {
            doc.map.remove(RETIRING_SIGNING_KEY);
        })?;
        self.deploy(cx).await?;
        let s = self.session(cx).await?;
        let deleted = key::delete_old(&s.ctx, &r.old_key_id).await;
        if deleted.is_ok() {
            s.ctx.journal.remove_extra(crate::rotate::JOURNAL_KEY)?;
        }
        let new_id = r.next.key_id.clone().unwrap_or_default();
        s.close().await;
        deleted.map_err(|e| {
            CommandError::from_diagnostic(&e).with_hint_suffix(
                "the new key is the only one trusted; run `medplum-init rotate signing-key --finish` again to delete the old key",
            )
        })?;
        if cx.printer.is_json() {
            cx.printer.json(&serde_json::json!({
                "event": "rotation_finished",
                "env": self.env,
                "old_key_id": r.old_key_id,
                "new_key_id": new_id,
            }));
        } else {
            cx.printer.status(&format!(
                "rotated: CloudFront key {new_id} signs and verifies the storage URLs; {} is deleted",
                r.old_key_id
            ));
        }
        Ok(Outcome::Done)
    }

    /// Rewrites the config file with one change (the rest as it is, order kept).
    fn edit_config(&self, f: impl FnOnce(&mut ConfigDocument)) -> Result<(), CommandError> {
        let path = config_path(&self.loc.dir, &self.env);
        let mut doc = ConfigDocument::read(&path)?.unwrap_or_default();
        let before = doc.to_json();
        f(&mut doc);
        if doc.to_json() != before {
            doc.write(&path)?;
        }
        Ok(())
    }

    /// A deploy of the stacks (not the web app), confirmed already by the rotation's own.
    async fn deploy(&self, cx: &Cx) -> Result<(), CommandError> {
        match super::deploy::deploy_stacks(cx, self.loc.dir.clone(), self.env.clone()).await {
            Outcome::Done => Ok(()),
            Outcome::Interrupted => Err(CommandError::interrupted()),
            _ => Err(CommandError::failed(
                "the rotation's deploy did not finish",
                Some(
                    "both keys are still trusted; fix what the deploy said, then run `medplum-init rotate signing-key` again to resume"
                        .into(),
                ),
            )),
        }
    }
}

/// Test hook (debug builds): `MEDPLUM_INIT_TEST_PAUSE_AFTER=rotate:<stage>` stops the process
/// dead once the journal records the stage, for the kill-and-resume tests.
fn pause(stage: Stage) {
    crate::engine::ctx::test_pause("rotate", stage.as_str());
}
