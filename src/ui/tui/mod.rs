//! The guided install as a full-screen terminal UI.
//!
//! One event loop merges key presses (crossterm's event stream), a 10 Hz tick for spinners and
//! elapsed times, the engine's events, the answers of the tasks it started (look-ups, preview,
//! run) and SIGINT/SIGTERM. Each message goes through [`update::update`], which returns the
//! commands to start; [`draw::draw`] renders the state after every batch. All AWS work runs in
//! tasks through the [`Guide`], never on the loop.

pub mod app;
pub mod done;
pub mod draw;
pub mod events;
pub mod review;
pub mod screens;
pub mod update;
pub mod widgets;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use self::app::{App, Exit, Level};
use self::update::{Cmd, Msg};
use crate::engine::Event;
use crate::error::CommandError;
use crate::guided::{Guide, save_answers};
use crate::outcome::Outcome;
use crate::printer::style::wants_color;
use crate::printer::{OutputMode, Printer};
use crate::ui::handoff::DeployHandoff;
use crate::ui::terminal::TerminalGuard;
use crate::ui::wizard::{Draft, Known, deploy_request, resume};

/// Builds the starting state: an earlier run's answers and step states when the folder has
/// them, `--region` as the region's default.
pub fn initial_app(session: &dyn Guide, deploy_available: bool) -> App {
    let opts = session.options();
    let env = resume::discover_env(&opts.dir, opts.env.as_deref());
    let (draft, found, notes) = match &env {
        Some(e) => resume::load(&opts.dir, e),
        None => (Draft::default(), None, Vec::new()),
    };
    let known = Known {
        default_region: opts.region.clone(),
        ..Known::default()
    };
    let mut app = App::new(draft, known, found);
    app.dry_run = opts.dry_run;
    app.deploy_available = deploy_available;
    for n in notes {
        app.note(Level::Warn, n, None);
    }
    app
}

/// Runs the guided install full screen; returns the exit code.
pub async fn run(
    session: Arc<dyn Guide>,
    events: mpsc::UnboundedReceiver<Event>,
    handoff: Arc<dyn DeployHandoff>,
) -> Outcome {
    let mut app = initial_app(session.as_ref(), handoff.available());
    app.color = wants_color(true);
    let mut guard = match TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            printer().error(&CommandError::failed(
                format!("cannot start the terminal UI: {e}"),
                Some("run with --output plain".into()),
            ));
            return Outcome::Failed;
        }
    };
    if let Ok(size) = guard.terminal.size() {
        app.size = (size.width, size.height);
    }
    let result = event_loop(&mut guard, &mut app, &session, events).await;
    drop(guard);
    let exit = match result {
        Ok(exit) => exit,
        Err(e) => {
            printer().error(&CommandError::failed(
                format!("the terminal failed: {e}"),
                Some("run with --output plain".into()),
            ));
            return Outcome::Failed;
        }
    };
    after(&app, session.as_ref(), exit, handoff.as_ref()).await
}

async fn event_loop(
    guard: &mut TerminalGuard,
    app: &mut App,
    session: &Arc<dyn Guide>,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> std::io::Result<Exit> {
    let (tx, mut done) = mpsc::unbounded_channel::<Msg>();
    let mut input = EventStream::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let (mut sigint, mut sigterm) = signals()?;
    let mut cmds = update::init(app);
    loop {
        for c in cmds.drain(..) {
            exec(c, app, session, &tx);
        }
        if let Some(exit) = app.exit {
            return Ok(exit);
        }
        guard.terminal.draw(|f| draw::draw(app, f))?;
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
                Some(Ok(TermEvent::Paste(s))) => Msg::Paste(s),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => return Err(std::io::Error::other("the terminal closed")),
            },
            _ = ticker.tick() => Msg::Tick(started.elapsed()),
            Some(e) = events.recv() => Msg::Engine(e),
            Some(m) = done.recv() => m,
            _ = sigint.recv() => Msg::Interrupt,
            _ = sigterm.recv() => Msg::Interrupt,
        };
        cmds = update::update(app, msg);
        // Engine events come in bursts; take what is there before drawing again.
        while let Ok(e) = events.try_recv() {
            cmds.extend(update::update(app, Msg::Engine(e)));
        }
    }
}

#[cfg(unix)]
fn signals() -> std::io::Result<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ))
}

/// Starts a command's work in a task; its answer comes back as a message.
fn exec(cmd: Cmd, app: &mut App, session: &Arc<dyn Guide>, tx: &mpsc::UnboundedSender<Msg>) {
    let s = session.clone();
    let tx = tx.clone();
    match cmd {
        Cmd::LookupCaller => {
            tokio::spawn(async move { tx.send(Msg::Caller(s.caller().await)) });
        }
        Cmd::LookupZones => {
            tokio::spawn(async move { tx.send(Msg::Zones(s.zones().await)) });
        }
        Cmd::LookupCerts(region) => {
            tokio::spawn(async move {
                let r = s.certificates(&region).await;
                tx.send(Msg::Certs(region, r))
            });
        }
        Cmd::Preview(answers) => {
            tokio::spawn(async move { tx.send(Msg::Preview(s.preview(*answers).await)) });
        }
        Cmd::Run { confirmed, only } => {
            tokio::spawn(async move {
                let answers = (*confirmed.answers).clone();
                let r = s.run(answers, &confirmed.text, only).await;
                tx.send(Msg::RunDone(r))
            });
        }
        Cmd::SaveAnswers(text) => {
            if let Some(path) = &session.options().save_answers {
                match save_answers(path, &text) {
                    Ok(()) => app.note(
                        Level::Info,
                        format!("answers saved to {}", path.display()),
                        None,
                    ),
                    Err(e) => app.note(
                        Level::Error,
                        format!("could not save the answers to {}: {e}", path.display()),
                        None,
                    ),
                }
            }
        }
        Cmd::Cancel => session.cancel().cancel(),
    }
}

/// What the install says once its screen is gone: through the one printer.
fn printer() -> Printer {
    Printer::new(OutputMode::Tui)
}

/// After the screen is restored: the summary on stdout, then the deploy or its command.
async fn after(app: &App, session: &dyn Guide, exit: Exit, handoff: &dyn DeployHandoff) -> Outcome {
    let code = match exit {
        Exit::Code(c) => c,
        Exit::DeployNow | Exit::DeployLater => Outcome::Done,
    };
    if code == Outcome::Interrupted {
        printer().status(
            "interrupted: finished work is recorded; run medplum-init again here to resume",
        );
        return code;
    }
    let Some(confirmed) = &app.confirmed else {
        return code;
    };
    let req = deploy_request(&session.options().dir, &confirmed.answers);
    if code != Outcome::Done {
        printer().status(&format!(
            "stopped: {}; finished work is recorded, run medplum-init again here to resume",
            app.failure
                .as_ref()
                .map(|(_, f)| f.message.as_str())
                .unwrap_or("a step failed")
        ));
        return code;
    }
    if session.options().dry_run {
        printer().data_line(&format!(
            "dry run: wrote {} for review; nothing in AWS was touched",
            req.config_path.display()
        ));
        return Outcome::Done;
    }
    let out = printer();
    out.data_line(&format!(
        "medplum-init: the prerequisites of {} are in place",
        req.env
    ));
    out.data_line(&format!("config file: {}", req.config_path.display()));
    if let Some(p) = &session.options().save_answers {
        out.data_line(&format!(
            "answers: {} (replay with --answers {} --yes)",
            p.display(),
            p.display()
        ));
    }
    match exit {
        Exit::DeployNow => {
            session.release();
            handoff.deploy_now(&req).await
        }
        _ => {
            out.data_line(&format!("deploy with:\n  {}", handoff.later_command(&req)));
            Outcome::Done
        }
    }
}
