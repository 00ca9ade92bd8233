//! `medplum-init diff` and `medplum-init deploy`: read `medplum.<env>.config.json`, get the
//! templates, plan change sets, show the diff, and (deploy) confirm, execute, follow progress
//! and record the result in the journal.
//!
//! Outcomes: done (or, for diff, no changes); changes (diff, exit 3); failed (a rollback, an AWS
//! error, a diff on a busy stack, `--timeout` reached); invalid (no config, no terminal to
//! confirm on without --yes, stored data at risk without --allow-data-risk); interrupted.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::aws::AwsClients;
use crate::cli::{AwsArgs, DeployArgs, DiffArgs, OutputArgs, StackArgs, TargetArgs};
use crate::config::infra::{ConfigDocument, InfraConfig};
use crate::deploy::StackTemplate;
use crate::deploy::clock::SystemClock;
use crate::deploy::deployer::{Backends, DeployOptions, DeployReport, Deployer, Plan};
use crate::deploy::event::{DeploySink, FailureRecap};
use crate::deploy::summary::{self, Facts};
use crate::deploy::templates;
use crate::engine::{Cancel, Journal};
use crate::error::Diagnostic;
use crate::printer::{OutputMode, Printer};
use crate::ui::FrontEnd;
use crate::ui::handoff::{DeployHandoff, DeployRequest};

pub fn diff(args: DiffArgs, cx: &Cx) -> Outcome {
    let args = Stacks {
        target: args.target,
        stacks: args.stacks,
        deploy: None,
    };
    run_blocking(cx, super::drive::<StacksCommand>(args, cx))
}

pub fn deploy(args: DeployArgs, cx: &Cx) -> Outcome {
    run_blocking(cx, super::drive::<StacksCommand>(Stacks::from(args), cx))
}

/// The deploy after an install: the same as `medplum-init deploy --dir DIR --env ENV` (with
/// `--yes` when `yes`), inside the install's runtime.
pub async fn deploy_environment(cx: &Cx, dir: PathBuf, env: String, yes: bool) -> Outcome {
    let args =
        DeployArgs::for_environment(dir, env, yes, AwsArgs::default(), OutputArgs::default());
    super::drive::<StacksCommand>(Stacks::from(args), cx).await
}

/// The stacks alone (never the web app), with `--yes`: the deploys inside a signing key rotation,
/// which the rotation's own confirmation covers. A plan that risks data is still refused.
pub async fn deploy_stacks(cx: &Cx, dir: PathBuf, env: String) -> Outcome {
    let mut args =
        DeployArgs::for_environment(dir, env, true, AwsArgs::default(), OutputArgs::default());
    args.skip_app = true;
    super::drive::<StacksCommand>(Stacks::from(args), cx).await
}

/// The deploy engine behind the guided install's "deploy now".
pub struct EngineDeploy {
    pub aws: AwsArgs,
    pub output: OutputArgs,
    pub frontend: Arc<dyn FrontEnd>,
}

#[async_trait::async_trait]
impl DeployHandoff for EngineDeploy {
    fn available(&self) -> bool {
        true
    }

    fn later_command(&self, req: &DeployRequest) -> String {
        req.deploy_command()
    }

    async fn deploy_now(&self, req: &DeployRequest) -> Outcome {
        let cx = Cx::new(&self.output, &self.aws, self.frontend.clone());
        // "Deploy now" chose to deploy; the change sets are still confirmed after the diff.
        deploy_environment(&cx, req.dir.clone(), req.env.clone(), false).await
    }
}

/// The arguments of either command: `deploy` is `Some` for a deploy.
pub struct Stacks {
    target: TargetArgs,
    stacks: StackArgs,
    deploy: Option<DeployOnly>,
}

struct DeployOnly {
    yes: bool,
    allow_data_risk: bool,
    timeout: std::time::Duration,
    diagnose_after: std::time::Duration,
    /// The web app after the stacks, unless `--skip-app`.
    app: Option<crate::cli::AppSourceArgs>,
}

impl From<DeployArgs> for Stacks {
    fn from(a: DeployArgs) -> Self {
        Self {
            target: a.target,
            stacks: a.stacks,
            deploy: Some(DeployOnly {
                yes: a.yes,
                allow_data_risk: a.allow_data_risk,
                timeout: a.timeout,
                diagnose_after: a.diagnose_after,
                app: (!a.skip_app).then_some(a.app),
            }),
        }
    }
}

pub struct StacksCommand {
    args: Stacks,
    loc: Location,
    config_file: PathBuf,
    doc: ConfigDocument,
    options: DeployOptions,
    cancel: Cancel,
    signals: Option<tokio::task::JoinHandle<()>>,
    /// Set by `plan`.
    aws: Option<AwsClients>,
    config: Option<InfraConfig>,
    backends: Option<Backends>,
    /// A deploy holds the journal (its lock: one deploy per environment at a time).
    journal: Option<Journal>,
    /// Set by `apply`: the deploy as journaled, and the web app's publish (its last stage,
    /// run while the deploy's renderer still shows progress).
    recorded: Option<Result<summary::DeployRecord, crate::engine::journal::JournalError>>,
    app: Option<Result<super::app::AppRecord, CommandError>>,
}

/// What the last stage returns: the deploy's journal record and the web app's publish.
type StageOut = (
    Result<summary::DeployRecord, crate::engine::journal::JournalError>,
    Option<Result<super::app::AppRecord, CommandError>>,
);

pub enum Applied {
    Diff {
        changes: bool,
    },
    Deploy(DeployReport),
    /// The user left the progress screen while CloudFormation works on.
    Left,
}

impl StacksCommand {
    fn is_deploy(&self) -> bool {
        self.args.deploy.is_some()
    }

    fn backends(&self) -> &Backends {
        self.backends.as_ref().expect("planned")
    }

    /// After the stacks: the deploy journaled, then (when they are deployed and the app is not
    /// skipped) the web app published, its progress sent to `events`. Journaled first, so a
    /// publish interrupted or killed leaves the deploy recorded.
    async fn last_stage(
        &self,
        report: &DeployReport,
        events: &DeploySink,
        watch: Option<Printer>,
    ) -> StageOut {
        let (aws, config) = (
            self.aws.as_ref().expect("planned"),
            self.config.as_ref().expect("planned"),
        );
        let journal = self.journal.as_ref().expect("a deploy holds the journal");
        let recorded = summary::record(journal, config, report);
        // Also when the stacks had no changes: a second deploy then finds the app published
        // and uploads nothing.
        let source = self.args.deploy.as_ref().and_then(|d| d.app.as_ref());
        let app = match source {
            Some(source) if report.ok => Some(
                super::app::stage(
                    events,
                    watch,
                    aws,
                    &self.doc,
                    config,
                    source,
                    journal,
                    &self.cancel,
                )
                .await,
            ),
            _ => None,
        };
        (recorded, app)
    }

    /// Deletes the plan's change sets (and the empty stacks of CREATE change sets).
    async fn discard(&self, cx: &Cx, plan: Plan) {
        let d = Deployer::new(self.backends(), &SystemClock, DeploySink::discard());
        if let Err(e) = d.discard(&plan).await {
            let mut e = CommandError::from(e);
            e.message = format!("could not delete a change set: {}", e.message);
            cx.printer.error(&e);
        }
    }

    fn stop_watching(&mut self) {
        if let Some(s) = self.signals.take() {
            s.abort();
        }
    }

    fn watch(&mut self, cx: &Cx) {
        self.stop_watching();
        self.signals = Some(tokio::spawn(super::watch_interrupts(
            self.cancel.clone(),
            cx.printer,
            "interrupted: stopping the deploy (Ctrl-C again to leave; CloudFormation continues on its own)".into(),
            LEFT.into(),
        )));
    }
}

const LEFT: &str = "left while CloudFormation is still working: it continues on its own. Run `medplum-init deploy` again later to see where it stands.";

impl Command for StacksCommand {
    type Args = Stacks;
    type Plan = Plan;
    type Applied = Applied;

    fn resolve(args: Stacks, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::existing(&args.target)?;
        let config_file = loc.config_file().expect("existing() names a config");
        let options = match &args.deploy {
            // A diff never waits on a busy stack: it says so and exits 1.
            None => DeployOptions {
                role_arn: args.stacks.role_arn.clone(),
                max_poll_failures: args.stacks.max_poll_failures,
                ..DeployOptions::default()
            },
            Some(d) => DeployOptions {
                allow_data_risk: d.allow_data_risk,
                attach_busy: true,
                role_arn: args.stacks.role_arn.clone(),
                timeout: d.timeout,
                diagnose_after: d.diagnose_after,
                max_poll_failures: args.stacks.max_poll_failures,
            },
        };
        Ok(Self {
            args,
            loc,
            config_file,
            doc: ConfigDocument::default(),
            options,
            cancel: Cancel::new(),
            signals: None,
            aws: None,
            config: None,
            backends: None,
            journal: None,
            recorded: None,
            app: None,
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        self.doc = super::synth::read_config(&self.config_file)?;
        if let Some(app) = self.args.deploy.as_ref().and_then(|d| d.app.as_ref()) {
            super::app::check_source(app)?;
        }
        if let Some(dir) = &self.args.stacks.templates
            && !dir.is_dir()
        {
            return Err(CommandError::usage(
                format!("--templates {}: not a folder", dir.display()),
                "point --templates at the folder `medplum-init synth --out DIR` wrote",
            ));
        }
        Ok(())
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Plan, CommandError> {
        let region = super::config_region(&self.doc, cx);
        let aws = AwsClients::load(&cx.aws, &region).await;
        // External secrets come from Parameter Store, as the CDK reads them at every synth.
        let config = crate::deploy::context::resolve_config(&self.doc, Some(&aws))
            .await
            .map_err(|e| CommandError::from(e).context(self.config_file.display()))?;
        let stacks: Vec<StackTemplate> = match &self.args.stacks.templates {
            Some(dir) => templates::load_dir(dir, &config)?,
            None => templates::synthesize(&config, &aws, &self.loc.dir).await?,
        };
        if self.is_deploy() {
            let env = config.name.clone();
            self.journal = Some(Journal::open(&self.loc.dir, &env)?);
        }
        self.watch(cx);
        self.backends = Some(Backends::from_aws(&aws, &stacks));
        self.aws = Some(aws);
        self.config = Some(config);

        let (sink, printer) = super::deploy_events(cx);
        if !cx.printer.is_json() {
            cx.printer
                .status(&cx.printer.err_style().dim("Creating change sets…"));
        }
        let planner = Deployer::new(self.backends(), &SystemClock, sink)
            .with_options(self.options.clone())
            .with_cancel(self.cancel.clone());
        let planned = planner.plan(&stacks).await;
        drop(planner);
        let _ = printer.await;
        let plan = match planned {
            Ok(p) => p,
            Err(e) => {
                self.stop_watching();
                return Err(e.into());
            }
        };
        if !cx.printer.is_json() {
            let text = cx.frontend.diff_text(&plan.diffs(), cx.printer.out_style());
            let _ = cx.printer.data(&text);
        }
        Ok(plan)
    }

    async fn confirm(&mut self, cx: &Cx, plan: Plan) -> Result<Confirmed<Plan>, CommandError> {
        let Some(d) = &self.args.deploy else {
            return Ok(Confirmed::Go(plan));
        };
        let yes = d.yes;
        if self.cancel.is_cancelled() {
            self.discard(cx, plan).await;
            return Ok(Confirmed::Stop(Outcome::Interrupted));
        }
        let mut blocking: Vec<String> = plan
            .blocking_risks()
            .iter()
            .map(|r| r.logical_id.clone())
            .collect();
        blocking.sort();
        blocking.dedup();
        // Not a question on a terminal: one Enter would be enough, and the flag is a decision
        // taken on purpose, the same with or without --yes.
        if !blocking.is_empty() && !self.options.allow_data_risk {
            self.discard(cx, plan).await;
            self.stop_watching();
            return Err(CommandError::usage(
                format!(
                    "not deploying: the plan puts stored data at risk ({}; marked ! above)",
                    blocking.join(", ")
                ),
                "keep the config values named above, or, having made a backup, run `medplum-init deploy --allow-data-risk`",
            ));
        }
        if !plan.has_changes() || yes {
            return Ok(Confirmed::Go(plan));
        }
        if !cx.interactive {
            self.discard(cx, plan).await;
            self.stop_watching();
            return Err(CommandError::usage(
                "not deploying: there is no terminal to confirm on",
                "review the plan above, then run the same command with --yes to deploy it",
            ));
        }
        // The question takes Ctrl-C itself.
        self.stop_watching();
        match cx.frontend.confirm(
            "Deploy these changes?",
            "CloudFormation executes the change sets above",
            false,
        ) {
            Ok(true) => Ok(Confirmed::Go(plan)),
            Ok(false) => {
                self.discard(cx, plan).await;
                cx.printer
                    .status("Nothing was deployed; the change sets were deleted.");
                Ok(Confirmed::Stop(Outcome::Done))
            }
            Err(_) => {
                self.discard(cx, plan).await;
                Ok(Confirmed::Stop(Outcome::Interrupted))
            }
        }
    }

    async fn apply(&mut self, cx: &Cx, plan: Plan) -> Result<Applied, CommandError> {
        if !self.is_deploy() {
            let changes = plan.has_changes();
            self.discard(cx, plan).await;
            self.stop_watching();
            return Ok(Applied::Diff { changes });
        }
        let full_screen = cx.mode() == OutputMode::Tui && plan.has_changes();
        // The progress screen takes Ctrl-C itself; plain progress gets the watcher.
        if full_screen {
            self.stop_watching();
        } else {
            self.watch(cx);
        }
        let (sink, rx) = DeploySink::channel();
        let app_events = sink.clone();
        let cancel = self.cancel.clone();
        let deployer =
            Deployer::new(self.backends(), &SystemClock, sink).with_options(self.options.clone());
        if full_screen {
            // The deployer and the app stage hold the events' senders: the screen's channel
            // closes when the last stage ends, so the web app's publish shows in the panes.
            let this = &*self;
            let apply = async move {
                let report = deployer.apply(plan, &cancel).await;
                drop(deployer);
                let stage = this.last_stage(&report, &app_events, None).await;
                drop(app_events);
                (report, stage)
            };
            let screen_cancel = self.cancel.clone();
            let Some((report, stage)) =
                super::with_deploy_screen(cx, rx, screen_cancel, "the deploy", apply).await
            else {
                return Ok(Applied::Left);
            };
            (self.recorded, self.app) = (Some(stage.0), stage.1);
            return Ok(Applied::Deploy(report));
        }
        let printer = super::render_deploy_events(cx, rx);
        let report = deployer.apply(plan, &cancel).await;
        drop(deployer);
        // The publish catches Ctrl-C with its own words.
        self.stop_watching();
        let (recorded, app) = self
            .last_stage(&report, &app_events, Some(cx.printer))
            .await;
        // The renderer ends once the last sender is gone.
        drop(app_events);
        let _ = printer.await;
        (self.recorded, self.app) = (Some(recorded), app);
        Ok(Applied::Deploy(report))
    }

    async fn report(&mut self, cx: &Cx, applied: Applied) -> Outcome {
        match applied {
            Applied::Diff { .. } if self.cancel.is_cancelled() => Outcome::Interrupted,
            Applied::Diff { changes: true } => Outcome::Changes,
            Applied::Diff { changes: false } => Outcome::Done,
            Applied::Left => {
                cx.printer.status(LEFT);
                Outcome::Interrupted
            }
            Applied::Deploy(report) => self.finish(cx, &report).await,
        }
    }
}

impl StacksCommand {
    async fn finish(&mut self, cx: &Cx, report: &DeployReport) -> Outcome {
        let (aws, config) = (
            self.aws.as_ref().expect("planned"),
            self.config.as_ref().expect("planned"),
        );
        let recorded = self
            .recorded
            .take()
            .expect("apply records every deploy it runs");
        if let Err(e) = &recorded {
            let mut e = CommandError::from_diagnostic(e);
            e.message = format!("could not record the deploy: {}", e.message);
            cx.printer.error(&e);
        }
        if let Some(e) = &report.error {
            cx.printer.error(e);
        }
        if cx.mode() == OutputMode::Tui && !report.failures.is_empty() {
            // The screen is gone; the recap stays in the scrollback.
            let recap = cx
                .frontend
                .failure_recap(&report.failures, cx.printer.err_style());
            cx.printer.status(recap.trim_end_matches('\n'));
        }
        // The last stage ran in `apply`, while its progress could be shown.
        let mut app_failed = None;
        let app = match self.app.take() {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                cx.printer.error(&e);
                app_failed = Some(e.outcome);
                None
            }
            None => None,
        };
        let changed = report.stacks.iter().any(|r| r.changed);
        let steps = if report.ok && changed {
            summary::next_steps(
                config,
                Facts {
                    ses_sandbox: summary::ses_sandbox(aws).await,
                    app_published: app.is_some(),
                },
            )
        } else {
            Vec::new()
        };
        if cx.printer.is_json() {
            cx.printer.json(&serde_json::json!({
                "event": "deploy_summary",
                "ok": report.ok,
                "cancelled": report.cancelled,
                "app_url": summary::app_url(config),
                "api_url": summary::api_url(config),
                "stacks": recorded.as_ref().map(|r| r.stacks.clone()).unwrap_or_default(),
                "app": app.as_ref().map(|r| serde_json::json!({
                    "version": r.version,
                    "uploaded": r.uploaded,
                    "unchanged": r.unchanged,
                    "deleted": r.deleted,
                    "invalidation": r.invalidation,
                })),
                "next_steps": steps,
            }));
        } else if report.ok {
            print_success(&cx.printer, config, report, app.as_ref(), &steps);
        } else {
            print_failure(&cx.printer, report.cancelled, &report.failures);
        }
        if let Some(outcome) = app_failed {
            outcome
        } else if report.ok {
            Outcome::Done
        } else if report.cancelled {
            Outcome::Interrupted
        } else if let Some(e) = &report.error {
            e.outcome()
        } else {
            Outcome::Failed
        }
    }
}

fn print_success(
    p: &Printer,
    config: &InfraConfig,
    report: &DeployReport,
    app: Option<&super::app::AppRecord>,
    steps: &[String],
) {
    let s = p.out_style();
    let mut out = String::new();
    let changed = report.stacks.iter().any(|r| r.changed);
    let head = if changed {
        "Deployed."
    } else {
        "No changes: the stacks already match the templates."
    };
    out.push_str(&format!("\n{}\n", s.green(&s.bold(head))));
    match app {
        Some(r) => out.push_str(&format!(
            "  app  {} ({} {})\n",
            summary::app_url(config),
            crate::app::PACKAGE,
            r.version
        )),
        None => out.push_str(&format!("  app  {}\n", summary::app_url(config))),
    }
    out.push_str(&format!("  api  {}\n", summary::api_url(config)));
    for r in &report.stacks {
        out.push_str(&format!(
            "  {} {} ({}): {}\n",
            s.dim("stack"),
            r.name,
            r.region,
            r.status
        ));
        for (k, v) in &r.outputs {
            out.push_str(&format!("    {k} = {v}\n"));
        }
    }
    if !steps.is_empty() {
        out.push_str(&format!("\n{}\n", s.bold("What is left for you:")));
        for (i, step) in steps.iter().enumerate() {
            out.push_str(&format!("  {}. {step}\n", i + 1));
        }
    }
    let _ = p.data(&out);
}

fn print_failure(p: &Printer, cancelled: bool, failures: &[FailureRecap]) {
    let s = p.err_style();
    if cancelled {
        p.status(&s.yellow("The deploy was cancelled; CloudFormation undid what it had started."));
    } else if failures.is_empty() {
        p.status(&s.red("The deploy failed."));
    } else {
        p.status(&s.red(&format!("The deploy failed: {}", failures[0].reason)));
    }
    p.status("Fix the cause, then run the same command again: finished stacks are not redeployed.");
}
