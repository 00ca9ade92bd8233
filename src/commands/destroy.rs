//! `medplum-init destroy --env NAME`: shows everything the delete removes and everything that
//! remains ([`crate::deploy::destroy`], [`crate::deploy::remains`]), has the environment's name
//! typed (through the front end) or given as `--confirm NAME`, deletes the us-east-1 stack and
//! then the primary with the deploy's progress renderers, optionally purges what medplum-init
//! made outside the stacks, and reports what went and what is left.
//!
//! Outcomes: done (also when there was nothing left to delete: a re-run is a no-op); failed
//! (DELETE_FAILED, with the resources and reasons; an AWS error); invalid (`--yes` without
//! `--confirm`, a `--confirm` naming another environment, no terminal to ask on); interrupted
//! (Ctrl-C: CloudFormation goes on deleting and a re-run follows it).

use std::path::PathBuf;

use serde_json::json;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::aws::AwsClients;
use crate::cli::DestroyArgs;
use crate::config::US_EAST_1;
use crate::config::infra::ConfigDocument;
use crate::deploy::cfn::SdkCloudFormation;
use crate::deploy::clock::SystemClock;
use crate::deploy::destroy::{self, DestroyError, StackEnd, StackPlan};
use crate::deploy::event::DeploySink;
use crate::deploy::remains::{self, Purged, Recorded, Remaining};
use crate::engine::journal::state_dir;
use crate::engine::{Cancel, Journal};
use crate::printer::{OutputMode, Printer};

pub fn run(args: DestroyArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<Destroy>(args, cx))
}

pub struct Destroy {
    args: DestroyArgs,
    loc: Location,
    env: String,
    /// The primary region: the config's, else `--region`, else us-east-1.
    region: String,
    recorded: Recorded,
    cancel: Cancel,
    aws: Option<AwsClients>,
}

/// What `plan` found.
pub struct DestroyPlan {
    stacks: Vec<StackPlan>,
    remains: Vec<Remaining>,
}

impl DestroyPlan {
    fn is_empty(&self, purge: bool) -> bool {
        self.stacks.is_empty() && !(purge && self.remains.iter().any(|r| r.purge))
    }
}

pub struct Applied {
    plan: DestroyPlan,
    deleted: Vec<(String, String, StackEnd)>,
    purged: Vec<Purged>,
    /// The state folder `--purge` removed (none when there was none).
    state_removed: Option<PathBuf>,
    remains: Vec<Remaining>,
}

impl Command for Destroy {
    type Args = DestroyArgs;
    type Plan = DestroyPlan;
    type Applied = Applied;

    fn resolve(args: DestroyArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::given(&args.target)?;
        let Some(env) = loc.env.clone() else {
            return Err(CommandError::usage(
                "destroy needs the environment named: --env NAME (or --config FILE)",
                "`medplum-init list` shows the environments of the account",
            ));
        };
        Ok(Self {
            args,
            loc,
            env,
            region: US_EAST_1.into(),
            recorded: Recorded::default(),
            cancel: Cancel::new(),
            aws: None,
        })
    }

    /// The consent is checked before any AWS call: a headless run needs `--confirm NAME`, and
    /// it must name this environment.
    fn validate(&mut self, cx: &Cx) -> Result<(), CommandError> {
        match &self.args.confirm {
            Some(name) if name != &self.env => {
                return Err(CommandError::usage(
                    format!(
                        "--confirm {name} does not name the environment being destroyed ({})",
                        self.env
                    ),
                    format!("to destroy {0}, pass --confirm {0}", self.env),
                ));
            }
            None if self.args.yes && !self.args.plan => {
                return Err(CommandError::usage(
                    "--yes alone does not destroy an environment",
                    format!(
                        "type the name again: --confirm {} (or run without --yes on a terminal and type it when asked)",
                        self.env
                    ),
                ));
            }
            None if !cx.interactive && !self.args.plan => {
                return Err(CommandError::usage(
                    "not destroying: there is no terminal to confirm on",
                    format!(
                        "review the plan with `medplum-init destroy --env {0} --plan`, then run with --confirm {0}",
                        self.env
                    ),
                ));
            }
            _ => {}
        }
        let doc = match self.loc.config_file() {
            Some(f) => ConfigDocument::read(&f)?,
            None => None,
        };
        self.region = doc
            .as_ref()
            .and_then(|d| d.get_str("region").map(str::to_string))
            .or_else(|| cx.aws.region.clone())
            .unwrap_or_else(|| US_EAST_1.into());
        crate::config::validators::region(&self.region)
            .map_err(|(problem, fix)| CommandError::usage(format!("region: {problem}"), fix))?;
        let journal = Journal::read_only(&self.loc.dir, &self.env)?;
        self.recorded = Recorded::read(&journal, &self.env)?;
        Ok(())
    }

    async fn plan(&mut self, cx: &Cx) -> Result<DestroyPlan, CommandError> {
        let aws = AwsClients::load(&cx.aws, &self.region).await;
        let refs =
            destroy::find_stacks(&aws, &self.env, std::slice::from_ref(&self.region)).await?;
        let mut stacks = Vec::new();
        for r in refs.iter().filter(|r| r.status != "DELETE_COMPLETE") {
            stacks.push(destroy::plan_stack(&aws, r).await?);
        }
        let mut remains = remains::kept_by_stacks(&aws, &stacks).await?;
        let regions: Vec<String> = stacks.iter().map(|s| s.stack.region.clone()).collect();
        remains.extend(
            remains::outside(&aws, &self.env, &self.region, &regions, &self.recorded).await?,
        );
        self.aws = Some(aws);
        let plan = DestroyPlan { stacks, remains };
        if cx.printer.is_json() {
            cx.printer.json(&json!({
                "event": "destroy_plan",
                "env": self.env,
                "stacks": plan.stacks,
                "remains": plan.remains,
                "purge": self.args.purge,
            }));
        } else {
            let _ = cx
                .printer
                .data(&plan_text(&cx.printer, &self.env, &plan, self.args.purge));
        }
        Ok(plan)
    }

    async fn confirm(
        &mut self,
        cx: &Cx,
        plan: DestroyPlan,
    ) -> Result<Confirmed<DestroyPlan>, CommandError> {
        if plan.is_empty(self.args.purge) {
            cx.printer.status(&format!(
                "Nothing to destroy: no stack of environment {} in {} or {US_EAST_1}.",
                self.env, self.region
            ));
            return Ok(Confirmed::Stop(Outcome::Done));
        }
        if self.args.plan {
            return Ok(Confirmed::Stop(Outcome::Done));
        }
        if self.args.confirm.as_deref() == Some(self.env.as_str()) {
            return Ok(Confirmed::Go(plan));
        }
        let typed = cx.frontend.ask_text(
            &format!("Type the environment name ({}) to destroy it:", self.env),
            "everything listed above as deleted is deleted for good",
        );
        match typed {
            Ok(t) if t.trim() == self.env => Ok(Confirmed::Go(plan)),
            Ok(_) => {
                cx.printer
                    .status("That is not the environment's name: nothing was deleted.");
                Ok(Confirmed::Stop(Outcome::Done))
            }
            Err(_) => Ok(Confirmed::Stop(Outcome::Interrupted)),
        }
    }

    async fn apply(&mut self, cx: &Cx, plan: DestroyPlan) -> Result<Applied, CommandError> {
        let aws = self.aws.clone().expect("planned");
        // One destroy or deploy per environment at a time; a folder that holds no state is
        // not made just for the lock.
        let sdir = state_dir(&self.loc.dir, &self.env);
        let _lock = if sdir.is_dir() {
            Some(Journal::open(&self.loc.dir, &self.env)?)
        } else {
            None
        };
        // The full screen reads Ctrl-C as a key and cancels itself; plain progress gets the
        // watcher.
        let full_screen = cx.mode() == OutputMode::Tui;
        let signals = (!full_screen).then(|| {
            tokio::spawn(super::watch_interrupts(
                self.cancel.clone(),
                cx.printer,
                "interrupted: no longer following the delete (CloudFormation goes on deleting; run the same command again to continue)".into(),
                LEFT.into(),
            ))
        });
        let (sink, rx) = DeploySink::channel();
        /// What the operator is told when leaving while CloudFormation deletes.
        const LEFT: &str = "left; CloudFormation goes on deleting on its own.";
        let deleting = {
            let (aws, args, cancel) = (&aws, &self.args, &self.cancel);
            let stacks = &plan.stacks;
            async move {
                let mut deleted = Vec::new();
                let mut failed = None;
                for s in stacks {
                    let cfn = SdkCloudFormation::new(aws, &s.stack.region);
                    let end = destroy::delete_stack(
                        &cfn,
                        &SystemClock,
                        &sink,
                        &s.stack,
                        args.role_arn.as_deref(),
                        cancel,
                        args.timeout,
                        args.max_poll_failures,
                    )
                    .await;
                    match end {
                        Ok(end) => {
                            deleted.push((s.stack.name.clone(), s.stack.region.clone(), end))
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                // The screen (or the log) ends once the events' sender is gone.
                drop(sink);
                (deleted, failed)
            }
        };
        let left = || CommandError {
            message: LEFT.into(),
            hint: Some("run the same command again to follow the delete to its end".into()),
            outcome: Outcome::Interrupted,
            details: None,
        };
        let (deleted, failed) = if full_screen {
            super::with_deploy_screen(cx, rx, self.cancel.clone(), "the delete", deleting)
                .await
                .ok_or_else(left)?
        } else {
            let renderer = super::render_deploy_events(cx, rx);
            let out = deleting.await;
            let _ = renderer.await;
            out
        };
        if let Some(s) = signals {
            s.abort();
        }
        if let Some(e) = failed {
            if let DestroyError::DeleteFailed { failures, .. } = &e
                && !failures.is_empty()
            {
                cx.printer
                    .status(&cx.frontend.failure_recap(failures, cx.printer.err_style()));
            }
            return Err(CommandError::from_diagnostic(&e));
        }
        let mut purged = Vec::new();
        let mut state_removed = None;
        if self.args.purge {
            purged = remains::purge(&aws, &self.env, &plan.remains).await?;
            if sdir.is_dir() {
                std::fs::remove_dir_all(&sdir).map_err(|e| {
                    CommandError::failed(
                        format!("could not remove {}: {e}", sdir.display()),
                        Some("remove the folder yourself; everything else was purged".into()),
                    )
                })?;
                state_removed = Some(sdir.clone());
            }
        }
        // What is left, read again: the buckets' contents, the parameters still there.
        let mut left = remains::kept_by_stacks(&aws, &plan.stacks).await?;
        let regions: Vec<String> = plan.stacks.iter().map(|s| s.stack.region.clone()).collect();
        left.extend(
            remains::outside(&aws, &self.env, &self.region, &regions, &self.recorded).await?,
        );
        left.retain(|r| {
            r.kind == "parameters"
                || !purged.iter().any(|p| {
                    p.kind == r.kind
                        && p.id == r.id
                        && (p.result == "deleted" || p.result == "already gone")
                })
        });
        Ok(Applied {
            plan,
            deleted,
            purged,
            state_removed,
            remains: left,
        })
    }

    async fn report(&mut self, cx: &Cx, applied: Applied) -> Outcome {
        if cx.printer.is_json() {
            cx.printer.json(&json!({
                "event": "destroy_report",
                "env": self.env,
                "deleted": applied.deleted.iter().map(|(name, region, end)| json!({
                    "stack": name, "region": region, "result": end,
                })).collect::<Vec<_>>(),
                "purged": applied.purged,
                "remains": applied.remains,
                "state_folder_removed": applied.state_removed.is_some(),
            }));
            return Outcome::Done;
        }
        let _ = cx
            .printer
            .data(&report_text(&cx.printer, &self.env, &applied));
        Outcome::Done
    }
}

/// `3 objects, 1.2 kB`: a bucket's usage.
fn usage(r: &Remaining) -> String {
    let mut parts = Vec::new();
    if let Some(o) = r.objects {
        parts.push(format!("{o} object{}", if o == 1 { "" } else { "s" }));
    }
    if let Some(b) = r.bytes {
        parts.push(size(b));
    }
    if let Some(c) = r.count {
        parts.push(format!("{c} parameter{}", if c == 1 { "" } else { "s" }));
    }
    parts.join(", ")
}

fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

fn remains_lines(out: &mut String, remains: &[Remaining], purge_marks: bool) {
    for r in remains {
        let u = usage(r);
        out.push_str(&format!(
            "  {}{} {} ({}){}: {}\n",
            if purge_marks && r.purge { "* " } else { "" },
            r.kind,
            r.id,
            r.region,
            if u.is_empty() {
                String::new()
            } else {
                format!(", {u}")
            },
            r.note
        ));
    }
}

fn plan_text(p: &Printer, env: &str, plan: &DestroyPlan, purge: bool) -> String {
    let s = p.out_style();
    let mut out = String::new();
    if !plan.stacks.is_empty() {
        out.push_str(&format!(
            "{}\n",
            s.bold(&format!("Destroying {env} deletes, in this order:"))
        ));
    }
    for sp in &plan.stacks {
        out.push_str(&format!(
            "  stack {} ({}, {}): {} resource{}\n",
            sp.stack.name,
            sp.stack.region,
            sp.stack.status,
            sp.deleted.len(),
            if sp.deleted.len() == 1 { "" } else { "s" }
        ));
        for r in &sp.deleted {
            out.push_str(&format!(
                "    {} {} {}\n",
                s.red("-"),
                r.logical_id,
                s.dim(&r.resource_type)
            ));
        }
    }
    if !plan.remains.is_empty() {
        out.push_str(&format!("{}\n", s.bold("What remains:")));
        remains_lines(&mut out, &plan.remains, purge);
        if purge && plan.remains.iter().any(|r| r.purge) {
            out.push_str("  (* removed too: --purge, made by medplum-init)\n");
        }
    }
    out
}

fn report_text(p: &Printer, env: &str, a: &Applied) -> String {
    let s = p.out_style();
    let mut out = format!("\n{}\n", s.green(&s.bold(&format!("Destroyed {env}."))));
    for (name, region, end) in &a.deleted {
        out.push_str(&format!(
            "  stack {name} ({region}): {}\n",
            match end {
                StackEnd::Deleted => "deleted",
                StackEnd::AlreadyGone => "already deleted",
            }
        ));
    }
    if a.deleted.is_empty() && !a.plan.stacks.is_empty() {
        out.push_str("  no stack deleted\n");
    }
    for pg in &a.purged {
        out.push_str(&format!(
            "  {} {} ({}): {}\n",
            pg.kind, pg.id, pg.region, pg.result
        ));
    }
    if let Some(dir) = &a.state_removed {
        out.push_str(&format!("  state folder {}: removed\n", dir.display()));
    }
    if !a.remains.is_empty() {
        out.push_str(&format!("{}\n", s.bold("What remains:")));
        remains_lines(&mut out, &a.remains, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::destroy::{Resource, StackRef};

    fn destroy_of(env: &str, cx: &Cx) -> Destroy {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "medplum-init",
            "destroy",
            "--env",
            env,
        ])
        .unwrap();
        let Some(crate::cli::Command::Destroy(args)) = cli.command else {
            panic!("destroy")
        };
        Destroy::resolve(args, cx).unwrap()
    }

    fn one_stack() -> DestroyPlan {
        DestroyPlan {
            stacks: vec![StackPlan {
                stack: StackRef {
                    name: "MedplumProd".into(),
                    region: "eu-west-1".into(),
                    status: "UPDATE_COMPLETE".into(),
                },
                deleted: vec![Resource {
                    logical_id: "Param".into(),
                    resource_type: "AWS::SSM::Parameter".into(),
                    physical_id: None,
                }],
                kept: vec![],
            }],
            remains: vec![],
        }
    }

    #[test]
    fn only_the_environments_name_typed_goes_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (typed, goes) in [
            ("prod", true),
            (" prod\n", true),
            ("staging", false),
            ("", false),
        ] {
            let mut cx = crate::commands::tests::typing(Some(typed));
            cx.interactive = true;
            let mut d = destroy_of("prod", &cx);
            let answer = rt.block_on(d.confirm(&cx, one_stack())).unwrap();
            match answer {
                Confirmed::Go(_) => assert!(goes, "{typed:?} went on"),
                Confirmed::Stop(outcome) => {
                    assert!(!goes, "{typed:?} stopped");
                    assert_eq!(outcome, Outcome::Done);
                }
            }
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_234), "1.2 kB");
        assert_eq!(size(5_000_000_000), "5.0 GB");
    }
}
