//! `medplum-init step <STEP>` (and `init --only STEP` without `--answers`): re-runs steps of an
//! installed environment. The answers come back from the journal and the config file
//! ([`crate::steps::recall`]) unless `--answers` gives new ones; the plan is read off a preview
//! (AWS reads only) and shown first; the steps run on confirm or `--yes`. The identity check
//! runs with them (it reads the caller's account, and stops a run in the wrong account); no
//! other step runs. `deploy` and `app` hand over to those commands.

use super::init::{StepRun, run_steps};
use super::{Command, CommandError, Confirmed, Cx, Location, Outcome, run_blocking};
use crate::answers::{Answers, Overrides};
use crate::aws::AwsClients;
use crate::cli::{AppArgs, StepArgs, StepName, TargetArgs};
use crate::engine::{Cancel, Ctx, EventSink, Journal, Outputs, RunReport, StepId};
use crate::steps::recall::{self, seed_outputs};
use crate::steps::step_plan::{self, StepPlan};

pub fn run(args: StepArgs, cx: &Cx) -> Outcome {
    match args.step.prerequisite() {
        Some(id) => {
            let req = Request {
                target: args.target,
                steps: vec![id],
                answers: args.answers,
                yes: args.yes,
                dry_run: args.dry_run,
            };
            run_blocking(cx, super::drive::<Steps>(req, cx))
        }
        None => handover(args, cx),
    }
}

/// `init --only STEP...` without `--answers`: the same as `step`, for several steps at once.
pub fn run_only(args: crate::cli::InitArgs, cx: &Cx) -> Outcome {
    let req = Request {
        target: args.target,
        steps: args.only,
        answers: None,
        yes: args.yes,
        dry_run: args.dry_run,
    };
    run_blocking(cx, super::drive::<Steps>(req, cx))
}

/// `step deploy` and `step app` are those commands, on the same environment.
fn handover(args: StepArgs, cx: &Cx) -> Outcome {
    if args.answers.is_some() {
        cx.printer.error(&CommandError::usage(
            format!(
                "step {}: --answers does not apply: it reads the config file",
                name(args.step)
            ),
            "change the config through `medplum-init step config --answers FILE` first",
        ));
        return Outcome::Invalid;
    }
    match args.step {
        StepName::Deploy => {
            let loc = match Location::existing(&args.target) {
                Ok(l) => l,
                Err(e) => {
                    cx.printer.error(&e);
                    return e.outcome;
                }
            };
            if args.dry_run {
                cx.printer.error(&CommandError::usage(
                    "step deploy has no --dry-run",
                    "`medplum-init diff` shows what a deploy would change",
                ));
                return Outcome::Invalid;
            }
            let env = loc.env.clone().expect("existing() names the environment");
            run_blocking(
                cx,
                super::deploy::deploy_environment(cx, loc.dir, env, args.yes),
            )
        }
        _ => super::app::run(
            AppArgs {
                target: args.target,
                app: Default::default(),
                dry_run: args.dry_run,
                aws: args.aws,
                output: args.output,
            },
            cx,
        ),
    }
}

fn name(step: StepName) -> String {
    clap::ValueEnum::to_possible_value(&step)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// What to re-run.
pub struct Request {
    target: TargetArgs,
    steps: Vec<StepId>,
    answers: Option<std::path::PathBuf>,
    yes: bool,
    dry_run: bool,
}

pub struct Steps {
    req: Request,
    loc: Location,
    env: String,
    /// `--answers`: the file's text, laid over the recalled answers.
    given: Option<String>,
}

pub struct Plan {
    run: StepRun,
    plans: Vec<StepPlan>,
}

impl Steps {
    fn overrides(&self, cx: &Cx) -> Overrides {
        Overrides {
            env: Some(self.env.clone()),
            region: cx.aws.region.clone(),
        }
    }

    /// The steps to run: the identity check, then the chosen ones.
    fn ids(&self) -> Vec<StepId> {
        let mut ids = vec![StepId::Identity];
        ids.extend(
            self.req
                .steps
                .iter()
                .copied()
                .filter(|s| *s != StepId::Identity),
        );
        ids
    }
}

impl Command for Steps {
    type Args = Request;
    type Plan = Plan;
    type Applied = RunReport;

    fn resolve(req: Request, _cx: &Cx) -> Result<Self, CommandError> {
        let loc = Location::existing(&req.target)?;
        let env = loc.env.clone().expect("existing() names the environment");
        Ok(Self {
            req,
            loc,
            env,
            given: None,
        })
    }

    fn validate(&mut self, _cx: &Cx) -> Result<(), CommandError> {
        if let Some(path) = &self.req.answers {
            let text = crate::answers::read_text(path)?;
            crate::answers::source::parse(&text).map_err(|errors| {
                crate::answers::AnswersInvalid::new(path.display().to_string(), errors)
            })?;
            self.given = Some(text);
        }
        Ok(())
    }

    async fn plan(&mut self, cx: &Cx) -> Result<Plan, CommandError> {
        let dry_run = self.req.dry_run;
        let dir = self.loc.dir.clone();
        let journal = if dry_run {
            Journal::read_only(&dir, &self.env)?
        } else {
            Journal::open(&dir, &self.env)?
        };
        if self.req.steps.iter().any(|s| {
            matches!(
                s,
                StepId::SigningKey | StepId::Parameters | StepId::ConfigFile
            )
        }) {
            crate::steps::refuse_during_rotation_in(&journal)?;
        }
        let outputs = Outputs::default();
        let source = self
            .req
            .answers
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let given = self.given.as_deref().map(|text| recall::Given {
            text,
            source: &source,
        });
        let r = recall::recall(&dir, &self.env, &journal, &self.overrides(cx), given)?;
        if !cx.printer.is_json() {
            cx.printer.status(&format!(
                "answers from {}{}",
                r.sources.join(", "),
                if given.is_none() {
                    "; pass --answers FILE to change them"
                } else {
                    ""
                }
            ));
        }
        seed_outputs(&outputs, &r.config);
        let answers = r.answers;
        let aws = if dry_run {
            None
        } else {
            Some(AwsClients::load(&cx.aws, answers.region()).await)
        };
        let mut plans = Vec::new();
        if let Some(aws) = &aws {
            plans = self
                .read_plan(&answers, &journal, aws.clone(), &outputs)
                .await?;
            if cx.printer.is_json() {
                cx.printer.json(&serde_json::json!({
                    "event": "step_plan",
                    "env": self.env,
                    "steps": plans,
                }));
            } else {
                let text: String = plans.iter().map(StepPlan::text).collect();
                let _ = cx.printer.data(&text);
            }
        }
        Ok(Plan {
            run: StepRun {
                answers,
                journal,
                aws,
                dry_run,
                yes: true,
                only: Some(self.ids()),
                outputs,
            },
            plans,
        })
    }

    async fn confirm(&mut self, cx: &Cx, plan: Plan) -> Result<Confirmed<Plan>, CommandError> {
        let changes = plan.plans.iter().any(|p| p.changes);
        if self.req.dry_run || !changes || self.req.yes {
            return Ok(Confirmed::Go(plan));
        }
        super::ask_to_apply(
            cx,
            plan,
            (
                "Apply these changes?",
                "only the steps named run; the others are left as they are",
            ),
            (
                "not applying: there is no terminal to confirm on",
                "review the plan above, then run the same command with --yes to apply it",
            ),
        )
    }

    async fn apply(&mut self, cx: &Cx, plan: Plan) -> Result<RunReport, CommandError> {
        Ok(run_steps(cx, &self.loc.dir, plan.run).await)
    }

    async fn report(&mut self, cx: &Cx, report: RunReport) -> Outcome {
        if !report.ok
            && !report.interrupted
            && let Some(e) = &report.first_failure
        {
            cx.printer.error(e);
        } else if report.ok && !cx.printer.is_json() {
            let names: Vec<String> = self.req.steps.iter().map(|s| s.to_string()).collect();
            cx.printer.status(&format!(
                "{} {}; every other step was left as it is",
                names.join(", "),
                if self.req.dry_run { "planned" } else { "done" }
            ));
        }
        report.outcome()
    }
}

impl Steps {
    /// The preview of a whole run (reads only), narrowed to the chosen steps.
    async fn read_plan(
        &self,
        answers: &Answers,
        journal: &Journal,
        aws: AwsClients,
        outputs: &Outputs,
    ) -> Result<Vec<StepPlan>, CommandError> {
        let seeded = Outputs::default();
        seed_outputs_like(&seeded, outputs);
        let ctx = Ctx {
            answers: std::sync::Arc::new(answers.clone()),
            dir: self.loc.dir.clone(),
            journal: journal.clone(),
            aws: Some(aws),
            events: EventSink::discard(),
            outputs: seeded,
            dry_run: false,
            yes: false,
            cancel: Cancel::new(),
        };
        let preview = crate::steps::preview::preview(&ctx).await?;
        let mut plans = Vec::new();
        for id in &self.req.steps {
            if *id == StepId::Identity {
                continue;
            }
            let bot = if *id == StepId::BotLayer {
                crate::steps::bot_layer::would_publish(&ctx).await?
            } else {
                None
            };
            plans.push(step_plan::describe(&preview, *id, bot));
        }
        Ok(plans)
    }
}

/// A copy of `from`'s values in `to`: the preview fills its own outputs with placeholders, which
/// the run must not see.
fn seed_outputs_like(to: &Outputs, from: &Outputs) {
    let values = from.get();
    to.update(|o| *o = values);
}
