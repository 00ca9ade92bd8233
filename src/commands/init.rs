//! `medplum-init [init]`: with `--answers`, a headless run (load and validate the answers, run
//! the steps, render their events); without, on a terminal, the guided install (full screen or
//! line prompts, the front end's choice); with neither, a list of what a headless run needs.
//! `[deploy] enabled = true` in the answers hands off to the deploy at the end.

use std::sync::Arc;

use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::answers::{Answers, Overrides};
use crate::aws::AwsClients;
use crate::cli::InitArgs;
use crate::config::infra::{config_file_name, config_path};
use crate::engine::journal::{dry_run_dir, state_dir};
use crate::engine::log::{EventLog, Tee, init_tracing};
use crate::engine::{Cancel, Ctx, Event, EventSink, Journal, Outputs, RunReport, Runner};
use crate::guided::GuidedOptions;
use crate::printer::OutputMode;

/// What a headless run needs and the guided install asks for.
const NEEDED: &str = "no answers. Without a terminal medplum-init never prompts; it needs at least:\n  \
    name                  the environment name, e.g. \"staging\"\n  \
    domainName            the base domain, e.g. \"example.com\"\n  \
    [server] supportEmail the address Medplum sends email from";

pub fn run(args: InitArgs, cx: &Cx) -> Outcome {
    // Re-running steps of an installed environment: the answers are already there.
    if args.answers.is_none() && !args.only.is_empty() {
        return super::step::run_only(args, cx);
    }
    run_blocking(cx, super::drive::<Init>(args, cx))
}

pub struct Init {
    args: InitArgs,
    loc: Location,
    answers: Option<Answers>,
}

pub enum Plan {
    /// The guided install: the front end asks, then runs the same steps.
    Guided,
    Headless(Box<Headless>),
}

pub enum Applied {
    Guided(Outcome),
    Headless {
        report: RunReport,
        env: String,
        deploy_after: bool,
    },
}

pub struct Headless {
    answers: Answers,
    journal: Journal,
    aws: Option<AwsClients>,
}

impl Init {
    fn overrides(&self, cx: &Cx) -> Overrides {
        Overrides {
            env: self.loc.env.clone(),
            region: cx.aws.region.clone(),
        }
    }
}

impl Command for Init {
    type Args = InitArgs;
    type Plan = Plan;
    type Applied = Applied;

    fn resolve(args: InitArgs, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::given(&args.target)?;
        if let Some(file) = &args.target.config
            && super::env_of_file_name(file).is_none()
        {
            return Err(CommandError::usage(
                format!(
                    "--config {}: not a medplum.<env>.config.json",
                    file.display()
                ),
                "the install writes the config under the name Medplum's tools look for: pass --env NAME and --dir DIR instead",
            ));
        }
        Ok(Self {
            args,
            loc,
            answers: None,
        })
    }

    fn validate(&mut self, cx: &Cx) -> Result<(), CommandError> {
        match &self.args.answers {
            Some(path) => {
                self.answers = Some(Answers::load(path, &self.overrides(cx))?);
                Ok(())
            }
            None if cx.interactive && cx.printer.is_json() => Err(CommandError::usage(
                "--output json needs --answers: the guided install asks questions",
                "pass --answers FILE, or leave out --output json",
            )),
            None if cx.interactive => Ok(()),
            None => Err(CommandError::usage(
                NEEDED,
                "write them to a file (start from `medplum-init answers-template > answers.toml`) and pass --answers answers.toml",
            )),
        }
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Plan, CommandError> {
        let Some(answers) = self.answers.take() else {
            return Ok(Plan::Guided);
        };
        let dry_run = self.args.dry_run;
        let journal = if dry_run {
            Journal::read_only(&self.loc.dir, answers.env())?
        } else {
            Journal::open(&self.loc.dir, answers.env())?
        };
        let aws = if dry_run {
            None
        } else {
            Some(AwsClients::load(&cx.aws, answers.region()).await)
        };
        Ok(Plan::Headless(Box::new(Headless {
            answers,
            journal,
            aws,
        })))
    }

    /// The steps confirm their own writes: the parameters wait for `--yes` (or the answers'
    /// `[parameters] apply`), and say so in the report.
    async fn confirm(&mut self, _cx: &Cx, plan: Plan) -> Result<Confirmed<Plan>, CommandError> {
        Ok(Confirmed::Go(plan))
    }

    async fn apply(&mut self, cx: &Cx, plan: Plan) -> Result<Self::Applied, CommandError> {
        match plan {
            Plan::Guided => {
                let outcome = cx
                    .frontend
                    .guided(self.guided_options(cx), cx.mode(), self.handoff(cx))
                    .await;
                Ok(Applied::Guided(outcome))
            }
            Plan::Headless(h) => Ok(self.headless(cx, *h).await),
        }
    }

    async fn report(&mut self, cx: &Cx, applied: Self::Applied) -> Outcome {
        let (report, env, deploy_after) = match applied {
            Applied::Guided(outcome) => return outcome,
            Applied::Headless {
                report,
                env,
                deploy_after,
            } => (report, env, deploy_after),
        };
        let dir = &self.loc.dir;
        if !cx.printer.is_json() && report.ok {
            let path = config_path(dir, &env);
            if self.args.dry_run {
                let review = dry_run_dir(dir, &env).join(config_file_name(&env));
                cx.printer.status(&format!(
                    "dry run: wrote {} for review; {} and everything in AWS were left as they are",
                    review.display(),
                    path.display()
                ));
            } else if !report.awaiting_confirmation.is_empty() {
                cx.printer.status(
                    "review the parameter changes above, then run the same command with --yes to write them",
                );
            } else {
                cx.printer.status(&format!(
                    "prerequisites are in place; the CDK config is {}",
                    path.display()
                ));
            }
        }
        // A failed step ends the command like any other failure: the error, in the one format.
        if !report.ok
            && !report.interrupted
            && let Some(e) = &report.first_failure
        {
            cx.printer.error(e);
        }
        // `[deploy] enabled = true`: the answers file is the consent, as `[parameters] apply` is
        // for the parameters; the deploy still shows its diff first.
        if deploy_after
            && report.ok
            && !self.args.dry_run
            && report.awaiting_confirmation.is_empty()
        {
            return super::deploy::deploy_environment(cx, dir.clone(), env, true).await;
        }
        report.outcome()
    }
}

impl Init {
    fn guided_options(&self, cx: &Cx) -> GuidedOptions {
        GuidedOptions {
            dir: self.loc.dir.clone(),
            env: self.loc.env.clone(),
            region: cx.aws.region.clone(),
            aws: cx.aws.clone(),
            save_answers: self.args.save_answers.clone(),
            dry_run: self.args.dry_run,
        }
    }

    fn handoff(&self, cx: &Cx) -> Arc<dyn crate::ui::handoff::DeployHandoff> {
        Arc::new(super::deploy::EngineDeploy {
            aws: self.args.aws.clone(),
            output: self.args.output.clone(),
            frontend: cx.frontend.clone(),
        })
    }

    /// Runs the steps headless, rendering their events plainly (or as JSON) and into the event
    /// log of the state folder.
    async fn headless(&self, cx: &Cx, h: Headless) -> Applied {
        let Headless {
            answers,
            journal,
            aws,
        } = h;
        let deploy_after = answers.deploy;
        let env = answers.env().to_string();
        let run = StepRun {
            answers,
            journal,
            aws,
            dry_run: self.args.dry_run,
            yes: self.args.yes,
            only: (!self.args.only.is_empty()).then(|| self.args.only.clone()),
            outputs: Outputs::default(),
        };
        let report = run_steps(cx, &self.loc.dir, run).await;
        Applied::Headless {
            report,
            env,
            deploy_after,
        }
    }
}

/// One run of the steps, headless: what [`run_steps`] needs.
pub(super) struct StepRun {
    pub answers: Answers,
    pub journal: Journal,
    pub aws: Option<AwsClients>,
    pub dry_run: bool,
    pub yes: bool,
    /// Only these steps (the others are left as they are).
    pub only: Option<Vec<crate::engine::StepId>>,
    /// What the steps that do not run would have produced (see `steps::recall::seed_outputs`).
    pub outputs: Outputs,
}

/// Runs the steps, rendering their events plainly (or as JSON; the TUI is the guided install's)
/// and into the event log of the state folder.
pub(super) async fn run_steps(cx: &Cx, dir: &std::path::Path, run: StepRun) -> RunReport {
    let cx = if cx.mode() == OutputMode::Tui {
        cx.with_mode(OutputMode::Plain)
    } else {
        cx.clone()
    };
    let StepRun {
        answers,
        journal,
        aws,
        dry_run,
        yes,
        only,
        outputs,
    } = run;
    let (events, rx) = EventSink::channel();
    let mut renderer = cx.frontend.install_renderer(&cx.printer);
    if !dry_run {
        let sdir = state_dir(dir, answers.env());
        init_tracing(&sdir);
        match EventLog::open(&sdir) {
            Ok(log) => renderer = Box::new(Tee(vec![renderer, Box::new(log)])),
            Err(e) => cx.printer.warn(
                &format!("cannot write the event log in {}: {e}", sdir.display()),
                None,
            ),
        }
    }
    for w in &answers.warnings {
        events.emit(Event::Warning {
            step: None,
            message: format!("{}: {}", w.key, w.problem),
            hint: Some(w.fix.clone()),
        });
    }
    let render = tokio::spawn(super::pump(
        rx,
        renderer,
        |r, e| r.render(e),
        |r| r.finish(),
    ));
    let cancel = Cancel::new();
    let signals = tokio::spawn(super::watch_interrupts(
        cancel.clone(),
        cx.printer,
        "interrupted: stopping at the next safe point (Ctrl-C again to quit at once)".into(),
        "quitting now; run the same command again to resume".into(),
    ));
    let ctx = Ctx {
        answers: Arc::new(answers),
        dir: dir.to_path_buf(),
        journal,
        aws,
        events,
        outputs,
        dry_run,
        yes,
        cancel: cancel.clone(),
    };
    let mut runner = Runner::new(crate::steps::all());
    if let Some(ids) = only {
        runner = runner.only(ids);
    }
    let report = runner.run(&ctx).await;
    drop(ctx);
    let _ = render.await;
    signals.abort();
    report
}
