//! `medplum-init [init]`: with `--answers`, a headless run (load answers, run the steps, render
//! events); without, on a terminal, the guided install (full-screen TUI or line prompts); with
//! neither, a list of what a headless run needs.

use std::io::IsTerminal;
use std::sync::Arc;

use medplum_init::answers::{Answers, AnswersInvalid, Overrides};
use medplum_init::aws::{AwsClients, AwsSettings};
use medplum_init::config::infra::config_path;
use medplum_init::engine::{Cancel, Ctx, EventSink, Journal, Outputs, Runner};
use medplum_init::exit;
use medplum_init::ui::handoff::DeployHandoff;
use medplum_init::ui::json::JsonRenderer;
use medplum_init::ui::plain::PlainRenderer;
use medplum_init::ui::prompt::{self, inquire_prompter::InquirePrompter};
use medplum_init::ui::style::Style;
use medplum_init::ui::tui;
use medplum_init::ui::wizard::session::{GuidedOptions, Session};
use medplum_init::ui::{OutputMode, Renderer};

use crate::cli::{Global, InitArgs};

pub fn run(g: &Global, args: &InitArgs) -> u8 {
    crate::block_on(run_async(g, args))
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn report_invalid(e: &AnswersInvalid, mode: OutputMode) {
    if mode == OutputMode::Json {
        let (errors, more) = e.reported();
        let v = serde_json::json!({ "event": "invalid_answers", "source": e.origin, "errors": errors, "more": more });
        println!("{v}");
    }
    let style = Style::for_stderr();
    eprint!("{} {e}", style.red("error:"));
    eprintln!("nothing was written and no AWS call was made.");
}

async fn run_async(g: &Global, args: &InitArgs) -> u8 {
    let mode = g.output.unwrap_or(if interactive() {
        OutputMode::Tui
    } else {
        OutputMode::Plain
    });
    let overrides = Overrides {
        env: g.env.clone(),
        region: g.region.clone(),
    };
    let answers = match &g.answers {
        Some(path) => match Answers::load(path, &overrides) {
            Ok(a) => a,
            Err(e) => {
                report_invalid(&e, mode);
                return exit::USAGE;
            }
        },
        None if interactive() => {
            if mode == OutputMode::Json {
                eprintln!(
                    "error: --output json needs --answers: the guided install asks questions"
                );
                return exit::USAGE;
            }
            return guided(g, mode).await;
        }
        None => {
            eprintln!(
                "error: no answers. Without a terminal medplum-init never prompts; it needs at least:\n  \
                 name                  the environment name, e.g. \"staging\"\n  \
                 domainName            the base domain, e.g. \"example.com\"\n  \
                 [server] supportEmail the address Medplum sends email from\n\
                 Write them to a file (start from `medplum-init answers-template > answers.toml`) and pass --answers answers.toml."
            );
            return exit::USAGE;
        }
    };
    // Headless runs render plainly even on a terminal unless asked otherwise: the TUI is for the
    // guided install.
    let mode = if mode == OutputMode::Tui {
        OutputMode::Plain
    } else {
        mode
    };

    let journal = if g.dry_run {
        Journal::read_only(&g.dir, answers.env())
    } else {
        Journal::open(&g.dir, answers.env())
    };
    let journal = match journal {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("  hint: {h}");
            }
            return if e.is_usage() {
                exit::USAGE
            } else {
                exit::FAILURE
            };
        }
    };
    let aws = if g.dry_run {
        None
    } else {
        let settings = AwsSettings {
            profile: g.profile.clone(),
            region: g.region.clone(),
            endpoint_url: g.endpoint_url.clone(),
            timeouts: g.aws_timeouts(),
        };
        Some(AwsClients::load(&settings, answers.region()).await)
    };

    let (events, mut rx) = EventSink::channel();
    let mut renderer: Box<dyn Renderer> = match mode {
        OutputMode::Json => Box::new(JsonRenderer::new(std::io::stdout())),
        _ => Box::new(PlainRenderer::new(
            std::io::stdout(),
            std::io::stderr(),
            Style::for_stderr(),
        )),
    };
    if !g.dry_run {
        let sdir = medplum_init::engine::journal::state_dir(&g.dir, answers.env());
        medplum_init::ui::log::init_tracing(&sdir);
        match medplum_init::ui::log::EventLog::open(&sdir) {
            Ok(log) => {
                renderer = Box::new(medplum_init::ui::log::Tee(vec![renderer, Box::new(log)]))
            }
            Err(e) => eprintln!(
                "warning: cannot write the event log in {}: {e}",
                sdir.display()
            ),
        }
    }
    for w in &answers.warnings {
        events.emit(medplum_init::engine::Event::Warning {
            step: None,
            message: format!("{}: {}", w.key, w.problem),
            hint: Some(w.fix.clone()),
        });
    }
    let render = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            renderer.render(&ev);
        }
        renderer.finish();
    });

    let cancel = Cancel::new();
    let signals = tokio::spawn(watch_interrupts(cancel.clone()));
    let dir = g.dir.clone();
    let env = answers.env().to_string();
    let deploy_after = answers.deploy;
    let ctx = Ctx {
        answers: Arc::new(answers),
        dir: g.dir.clone(),
        journal,
        aws,
        events,
        outputs: Outputs::default(),
        dry_run: g.dry_run,
        yes: g.yes,
        cancel: cancel.clone(),
    };
    let mut runner = Runner::new(medplum_init::steps::all());
    if !args.only.is_empty() {
        runner = runner.only(args.only.clone());
    }
    let report = runner.run(&ctx).await;
    drop(ctx);
    let _ = render.await;
    signals.abort();

    if mode != OutputMode::Json && report.ok {
        let path = config_path(&dir, &env);
        if g.dry_run {
            let review = medplum_init::engine::journal::dry_run_dir(&dir, &env)
                .join(medplum_init::config::infra::config_file_name(&env));
            eprintln!(
                "dry run: wrote {} for review; {} and everything in AWS were left as they are",
                review.display(),
                path.display()
            );
        } else if !report.awaiting_confirmation.is_empty() {
            eprintln!(
                "review the parameter changes above, then run the same command with --yes to write them"
            );
        } else {
            eprintln!(
                "prerequisites are in place; the CDK config is {}",
                path.display()
            );
        }
    }
    // `[deploy] enabled = true`: the answers file is the consent, as `[parameters] apply` is for
    // the parameters; the deploy still shows its diff first.
    if deploy_after && report.ok && !g.dry_run && report.awaiting_confirmation.is_empty() {
        let mut g = g.clone();
        g.yes = true;
        return crate::deploy_cmd::deploy_environment(&g, &dir, &env).await;
    }
    report.exit_code()
}

/// The guided install: the full-screen TUI, or line prompts with `--output plain` or on a
/// terminal smaller than the TUI needs.
async fn guided(g: &Global, mode: OutputMode) -> u8 {
    let opts = GuidedOptions {
        dir: g.dir.clone(),
        env: g.env.clone(),
        region: g.region.clone(),
        aws: AwsSettings {
            profile: g.profile.clone(),
            region: g.region.clone(),
            endpoint_url: g.endpoint_url.clone(),
            timeouts: g.aws_timeouts(),
        },
        save_answers: g.save_answers.clone(),
        dry_run: g.dry_run,
    };
    let (sink, rx) = EventSink::channel();
    let session = Session::new(opts, sink);
    let handoff: Arc<dyn DeployHandoff> =
        Arc::new(crate::deploy_cmd::EngineDeploy { global: g.clone() });
    let (w, h) = crossterm::terminal::size().unwrap_or((0, 0));
    let (min_w, min_h) = tui::app::MIN_SIZE;
    let small = w < min_w || h < min_h;
    if mode == OutputMode::Tui && !small {
        return tui::run(session, rx, handoff).await;
    }
    if mode == OutputMode::Tui {
        eprintln!(
            "the terminal is {w}×{h}, smaller than the {min_w}×{min_h} the full screen needs: asking line by line"
        );
    }
    let mut renderer =
        PlainRenderer::new(std::io::stdout(), std::io::stderr(), Style::for_stderr());
    prompt::run(
        session,
        rx,
        &mut InquirePrompter::new(),
        &mut renderer,
        handoff,
    )
    .await
}

/// First Ctrl-C: stop at the next safe point (the journal stays consistent). Second: leave now.
async fn watch_interrupts(cancel: Cancel) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    eprintln!("\ninterrupted: stopping at the next safe point (Ctrl-C again to quit at once)");
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("quitting now; run the same command again to resume");
        std::process::exit(exit::INTERRUPTED as i32);
    }
}
