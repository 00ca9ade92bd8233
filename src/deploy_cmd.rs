//! `medplum-init diff` and `medplum-init deploy`: read `medplum.<env>.config.json`, get the
//! templates, plan change sets, show the diff, and (deploy) confirm, execute, follow progress
//! and record the result in the journal.
//!
//! Exit codes: 0 done (or, for diff, no changes); 3 diff found changes; 1 failure (a rollback,
//! an AWS error, a diff on a busy stack, `--timeout` reached); 2 usage (no config, no terminal
//! to confirm on without --yes, stored data at risk without --allow-data-risk, a malformed
//! option); 130 Ctrl-C.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use medplum_init::aws::{AwsClients, AwsSettings};
use medplum_init::config::infra::{ConfigDocument, InfraConfig, config_path};
use medplum_init::deploy::StackTemplate;
use medplum_init::deploy::clock::SystemClock;
use medplum_init::deploy::deployer::{Backends, DeployOptions, DeployReport, Deployer, Plan};
use medplum_init::deploy::error::DeployError;
use medplum_init::deploy::event::{DeployEvent, DeploySink, FailureRecap};
use medplum_init::deploy::summary::{self, Facts};
use medplum_init::deploy::templates;
use medplum_init::engine::{Cancel, Journal};
use medplum_init::exit;
use medplum_init::ui::OutputMode;
use medplum_init::ui::deploy::json::JsonDeploy;
use medplum_init::ui::deploy::plain::{PlainDeploy, write_recap};
use medplum_init::ui::deploy::{DeployRenderer, diff as diff_view, tui};
use medplum_init::ui::style::Style;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::cli::{DeployArgs, DeployCmdArgs, Global};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Diff,
    Deploy {
        allow_data_risk: bool,
        timeout: Duration,
        diagnose_after: Duration,
    },
}

/// The defaults of `deploy`'s `--timeout` and `--diagnose-after`, for the install's deploy.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90 * 60);
const DEFAULT_DIAGNOSE_AFTER: Duration = Duration::from_secs(5 * 60);

pub fn diff(g: &Global, args: &DeployArgs) -> u8 {
    crate::block_on(run(g, args, Mode::Diff))
}

pub fn deploy(g: &Global, args: &DeployCmdArgs) -> u8 {
    crate::block_on(run(
        g,
        &args.stacks,
        Mode::Deploy {
            allow_data_risk: args.allow_data_risk,
            timeout: args.timeout,
            diagnose_after: args.diagnose_after,
        },
    ))
}

/// The deploy after an install: the same as `medplum-init deploy --dir DIR --env ENV`, inside
/// the install's runtime.
pub async fn deploy_environment(g: &Global, dir: &Path, env: &str) -> u8 {
    let mut g = g.clone();
    g.dir = dir.to_path_buf();
    g.env = Some(env.to_string());
    // Never allowed from the install: a risky plan there is a surprise, and the refusal says to
    // run `medplum-init deploy --allow-data-risk` after reading the diff.
    let mode = Mode::Deploy {
        allow_data_risk: false,
        timeout: DEFAULT_TIMEOUT,
        diagnose_after: DEFAULT_DIAGNOSE_AFTER,
    };
    run(&g, &DeployArgs::default(), mode).await
}

/// The deploy engine behind the guided install's "deploy now".
pub struct EngineDeploy {
    pub global: Global,
}

#[async_trait::async_trait]
impl medplum_init::ui::handoff::DeployHandoff for EngineDeploy {
    fn available(&self) -> bool {
        true
    }

    fn later_command(&self, req: &medplum_init::ui::handoff::DeployRequest) -> String {
        format!(
            "medplum-init deploy --dir {} --env {}",
            req.dir.display(),
            req.env
        )
    }

    async fn deploy_now(&self, req: &medplum_init::ui::handoff::DeployRequest) -> u8 {
        deploy_environment(&self.global, &req.dir, &req.env).await
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn fail(message: impl std::fmt::Display, hint: Option<String>) {
    let s = Style::for_stderr();
    eprintln!("{} {message}", s.red("error:"));
    if let Some(h) = hint {
        eprintln!("  {}", s.dim(&format!("hint: {h}")));
    }
}

/// The environment: `--env`, or the only `medplum.<env>.config.json` in the folder.
fn environment(g: &Global) -> Result<String, String> {
    if let Some(env) = &g.env {
        return Ok(env.clone());
    }
    let mut found: Vec<String> = std::fs::read_dir(&g.dir)
        .map_err(|e| format!("cannot read {}: {e}", g.dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix("medplum.")?
                .strip_suffix(".config.json")
                .filter(|env| !env.contains('.'))
                .map(str::to_string)
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "no medplum.<env>.config.json in {}; run the guided install first, or pass --dir",
            g.dir.display()
        )),
        _ => Err(format!(
            "{} holds configs for {}; choose one with --env",
            g.dir.display(),
            found.join(", ")
        )),
    }
}

/// Reads the config and resolves its external secrets from Parameter Store, as the CDK does at
/// every synth.
async fn load_config(
    dir: &Path,
    env: &str,
    settings: &AwsSettings,
) -> Result<(InfraConfig, AwsClients), (String, Option<String>)> {
    let path = config_path(dir, env);
    let doc = match ConfigDocument::read(&path) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err((
                format!("{} does not exist", path.display()),
                Some(
                    "run `medplum-init` (the guided install) first, or pass --dir and --env".into(),
                ),
            ));
        }
        Err(e) => return Err((e.to_string(), None)),
    };
    let region = doc
        .get_str("region")
        .map(str::to_string)
        .or_else(|| settings.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let aws = AwsClients::load(settings, &region).await;
    let config = medplum_init::deploy::context::resolve_config(&doc, Some(&aws))
        .await
        .map_err(|e| (format!("{}: {e}", path.display()), e.hint()))?;
    Ok((config, aws))
}

async fn run(g: &Global, args: &DeployArgs, mode: Mode) -> u8 {
    let output = g.output.unwrap_or(if interactive() {
        OutputMode::Tui
    } else {
        OutputMode::Plain
    });
    let env = match environment(g) {
        Ok(e) => e,
        Err(m) => {
            fail(m, None);
            return exit::USAGE;
        }
    };
    let settings = AwsSettings {
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
        timeouts: g.aws_timeouts(),
    };
    let (config, aws) = match load_config(&g.dir, &env, &settings).await {
        Ok(c) => c,
        Err((m, hint)) => {
            fail(m, hint);
            return exit::USAGE;
        }
    };
    let stacks: Vec<StackTemplate> = match &args.templates {
        Some(dir) => templates::load_dir(dir, &config),
        None => templates::synthesize(&config, &aws, &g.dir).await,
    }
    .unwrap_or_else(|e| {
        fail(&e, e.hint());
        Vec::new()
    });
    if stacks.is_empty() {
        return exit::USAGE;
    }
    // One deploy per environment at a time (the journal's lock); a diff writes nothing.
    let journal = match mode {
        Mode::Deploy { .. } => match Journal::open(&g.dir, &env) {
            Ok(j) => Some(j),
            Err(e) => {
                fail(&e, e.hint());
                return exit::FAILURE;
            }
        },
        Mode::Diff => None,
    };

    let cancel = Cancel::new();
    let signals = tokio::spawn(watch_interrupts(cancel.clone()));
    let backends = Backends::from_aws(&aws, &stacks);
    let clock = SystemClock;

    // Plan: change sets per stack. Notes (staging) and, in JSON, the change sets themselves.
    let (sink, rx) = DeploySink::channel();
    let printer = tokio::spawn(render(rx, renderer(output)));
    if output != OutputMode::Json {
        eprintln!("{}", Style::for_stderr().dim("Creating change sets…"));
    }
    let options = match mode {
        // A diff never waits on a busy stack: it says so and exits 1.
        Mode::Diff => DeployOptions {
            role_arn: args.role_arn.clone(),
            max_poll_failures: g.max_poll_failures,
            ..DeployOptions::default()
        },
        Mode::Deploy {
            allow_data_risk,
            timeout,
            diagnose_after,
        } => DeployOptions {
            allow_data_risk,
            attach_busy: true,
            role_arn: args.role_arn.clone(),
            timeout,
            diagnose_after,
            max_poll_failures: g.max_poll_failures,
        },
    };
    let planner = Deployer::new(&backends, &clock, sink)
        .with_options(options.clone())
        .with_cancel(cancel.clone());
    let planned = planner.plan(&stacks).await;
    drop(planner);
    let _ = printer.await;
    let plan = match planned {
        Ok(p) => p,
        Err(e) => {
            signals.abort();
            fail(&e, e.hint());
            return if matches!(e, DeployError::Interrupted { .. }) {
                exit::INTERRUPTED
            } else {
                exit::FAILURE
            };
        }
    };
    if output != OutputMode::Json {
        let text = diff_view::render(&plan.diffs(), Style::for_stdout());
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    let discard = |plan: Plan| discard_plan(&backends, plan);
    if mode == Mode::Diff {
        let changes = plan.has_changes();
        discard(plan).await;
        signals.abort();
        return if cancel.is_cancelled() {
            exit::INTERRUPTED
        } else if changes {
            exit::CHANGES
        } else {
            exit::OK
        };
    }
    if cancel.is_cancelled() {
        discard(plan).await;
        return exit::INTERRUPTED;
    }
    let allowed = options.allow_data_risk;
    let mut blocking: Vec<String> = plan
        .blocking_risks()
        .iter()
        .map(|r| r.logical_id.clone())
        .collect();
    blocking.sort();
    blocking.dedup();
    // Not a question on a terminal: one Enter would be enough, and the flag is a decision taken
    // on purpose, the same with or without --yes.
    if !blocking.is_empty() && !allowed {
        discard(plan).await;
        signals.abort();
        fail(
            format!(
                "not deploying: the plan puts stored data at risk ({}; marked ! above)",
                blocking.join(", ")
            ),
            Some(
                "keep the config values named above, or, having made a backup, run \
                 `medplum-init deploy --allow-data-risk`"
                    .into(),
            ),
        );
        return exit::USAGE;
    }
    if plan.has_changes() && !g.yes {
        if !interactive() {
            discard(plan).await;
            fail(
                "not deploying: there is no terminal to confirm on",
                Some(
                    "review the plan above, then run the same command with --yes to deploy it"
                        .into(),
                ),
            );
            return exit::USAGE;
        }
        signals.abort();
        let answer = inquire::Confirm::new("Deploy these changes?")
            .with_default(false)
            .with_help_message("CloudFormation executes the change sets above")
            .prompt();
        match answer {
            Ok(true) => {}
            Ok(false) => {
                discard(plan).await;
                eprintln!("Nothing was deployed; the change sets were deleted.");
                return exit::OK;
            }
            Err(_) => {
                discard(plan).await;
                return exit::INTERRUPTED;
            }
        }
    }
    signals.abort();

    let (sink, rx) = DeploySink::channel();
    let report = if output == OutputMode::Tui && plan.has_changes() {
        let screen = tokio::spawn(tui::run(rx, cancel.clone()));
        let deployer = Deployer::new(&backends, &clock, sink).with_options(options.clone());
        let apply = async move { deployer.apply(plan, &cancel).await };
        tokio::pin!(apply);
        let mut screen = screen;
        tokio::select! {
            report = &mut apply => {
                let end = screen.await;
                if let Ok(Ok(end)) = &end
                    && end.quit
                {
                    return quit();
                }
                report
            }
            end = &mut screen => {
                match end {
                    Ok(Ok(end)) if end.quit => return quit(),
                    Ok(Err(e)) => eprintln!("the progress screen failed ({e}); the deploy goes on"),
                    _ => {}
                }
                apply.await
            }
        }
    } else {
        let signals = tokio::spawn(watch_interrupts(cancel.clone()));
        let printer = tokio::spawn(render(rx, renderer(output)));
        let report = Deployer::new(&backends, &clock, sink)
            .with_options(options.clone())
            .apply(plan, &cancel)
            .await;
        let _ = printer.await;
        signals.abort();
        report
    };
    let journal = journal.expect("a deploy holds the journal");
    finish(&aws, &journal, &config, &report, output).await
}

/// Deletes the plan's change sets (and the empty stacks of CREATE change sets).
async fn discard_plan(backends: &Backends, plan: Plan) {
    let d = Deployer::new(backends, &SystemClock, DeploySink::discard());
    if let Err(e) = d.discard(&plan).await {
        fail(format!("could not delete a change set: {e}"), e.hint());
    }
}

fn renderer(output: OutputMode) -> Box<dyn DeployRenderer> {
    match output {
        OutputMode::Json => Box::new(JsonDeploy::new(std::io::stdout())),
        _ => Box::new(PlainDeploy::new(std::io::stderr(), Style::for_stderr())),
    }
}

async fn render(mut rx: UnboundedReceiver<DeployEvent>, mut r: Box<dyn DeployRenderer>) {
    while let Some(ev) = rx.recv().await {
        r.render(&ev);
    }
    r.finish();
}

fn quit() -> u8 {
    eprintln!(
        "left while CloudFormation is still working: it continues on its own. Run `medplum-init deploy` again later to see where it stands."
    );
    exit::INTERRUPTED
}

/// First Ctrl-C: cancel the deploy (the deployer asks CloudFormation and keeps watching).
/// Second: leave at once.
async fn watch_interrupts(cancel: Cancel) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    eprintln!(
        "\ninterrupted: stopping the deploy (Ctrl-C again to leave; CloudFormation continues on its own)"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(quit() as i32);
    }
}

async fn ses_sandbox(aws: &AwsClients) -> Option<bool> {
    let out = aws.sesv2().get_account().send().await.ok()?;
    Some(!out.production_access_enabled())
}

async fn finish(
    aws: &AwsClients,
    journal: &Journal,
    config: &InfraConfig,
    report: &DeployReport,
    output: OutputMode,
) -> u8 {
    let recorded = summary::record(journal, config, report);
    if let Err(e) = &recorded {
        fail(format!("could not record the deploy: {e}"), e.hint());
    }
    if let Some(e) = &report.error {
        fail(e, e.hint());
    }
    if output == OutputMode::Tui && !report.failures.is_empty() {
        // The screen is gone; the recap stays in the scrollback.
        write_recap(
            &mut std::io::stderr(),
            &report.failures,
            Style::for_stderr(),
        );
    }
    let changed = report.stacks.iter().any(|r| r.changed);
    let steps = if report.ok && changed {
        summary::next_steps(
            config,
            Facts {
                ses_sandbox: ses_sandbox(aws).await,
            },
        )
    } else {
        Vec::new()
    };
    if output == OutputMode::Json {
        let v = serde_json::json!({
            "event": "deploy_summary",
            "ok": report.ok,
            "cancelled": report.cancelled,
            "app_url": summary::app_url(config),
            "api_url": summary::api_url(config),
            "stacks": recorded.as_ref().map(|r| r.stacks.clone()).unwrap_or_default(),
            "next_steps": steps,
        });
        println!("{v}");
    } else if report.ok {
        print_success(config, report, &steps);
    } else {
        print_failure(report.cancelled, &report.failures);
    }
    if report.ok {
        exit::OK
    } else if report.cancelled {
        exit::INTERRUPTED
    } else if matches!(report.error, Some(DeployError::DataAtRisk { .. })) {
        // The same refusal as the plan's, only later: a usage decision, not a failure.
        exit::USAGE
    } else {
        exit::FAILURE
    }
}

fn print_success(config: &InfraConfig, report: &DeployReport, steps: &[String]) {
    let s = Style::for_stdout();
    let mut out = std::io::stdout().lock();
    let changed = report.stacks.iter().any(|r| r.changed);
    let head = if changed {
        "Deployed."
    } else {
        "No changes: the stacks already match the templates."
    };
    let _ = writeln!(out, "\n{}", s.green(&s.bold(head)));
    let _ = writeln!(out, "  app  {}", summary::app_url(config));
    let _ = writeln!(out, "  api  {}", summary::api_url(config));
    for r in &report.stacks {
        let _ = writeln!(
            out,
            "  {} {} ({}): {}",
            s.dim("stack"),
            r.name,
            r.region,
            r.status
        );
        for (k, v) in &r.outputs {
            let _ = writeln!(out, "    {k} = {v}");
        }
    }
    if !steps.is_empty() {
        let _ = writeln!(out, "\n{}", s.bold("What is left for you:"));
        for (i, step) in steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {step}", i + 1);
        }
    }
}

fn print_failure(cancelled: bool, failures: &[FailureRecap]) {
    let s = Style::for_stderr();
    if cancelled {
        eprintln!(
            "{}",
            s.yellow("The deploy was cancelled; CloudFormation undid what it had started.")
        );
    } else if failures.is_empty() {
        eprintln!("{}", s.red("The deploy failed."));
    } else {
        eprintln!(
            "{}",
            s.red(&format!("The deploy failed: {}", failures[0].reason))
        );
    }
    eprintln!(
        "Fix the cause, then run the same command again: finished stacks are not redeployed."
    );
}
