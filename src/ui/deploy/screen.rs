//! The full-screen deploy view: the progress pane on the alternate screen of stderr (data stays
//! on stdout), redrawn on every event and ten times a second for the spinner and timers.
//!
//! Ctrl-C arrives as a key in raw mode (and as SIGINT when sent from outside): the first asks
//! the engine to cancel (through [`Cancel`]) and the screen shows it happening; the second
//! leaves at once, and the caller exits 130 saying CloudFormation continues on its own. The
//! terminal is restored on every path out, panics included, by the guard both full screens use
//! ([`TerminalGuard`]). Pasted text is ignored.

use std::io::{self, Stderr};
use std::time::Duration;

use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc::UnboundedReceiver;

use super::pane;
use crate::deploy::clock::{Clock, SystemClock};
use crate::deploy::event::DeployEvent;
use crate::deploy::progress::DeployState;
use crate::engine::Cancel;
use crate::ui::terminal::TerminalGuard;

/// How the screen ended.
pub struct ScreenEnd {
    pub state: DeployState,
    /// Ctrl-C twice: the user left while CloudFormation is still working.
    pub quit: bool,
}

type Term = Terminal<CrosstermBackend<Stderr>>;

/// Shows the deploy until the engine drops its sink (after its last event) or the user quits.
pub async fn run(mut rx: UnboundedReceiver<DeployEvent>, cancel: Cancel) -> io::Result<ScreenEnd> {
    let mut guard = TerminalGuard::enter()?;
    let result = event_loop(&mut guard.terminal, &mut rx, &cancel).await;
    drop(guard);
    result
}

async fn event_loop(
    term: &mut Term,
    rx: &mut UnboundedReceiver<DeployEvent>,
    cancel: &Cancel,
) -> io::Result<ScreenEnd> {
    let mut state = DeployState::new();
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(Duration::from_millis(100));
    let mut presses = 0u8;
    let clock = SystemClock;
    loop {
        let mut interrupt = false;
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => {
                    state.apply(&ev);
                }
                None => return Ok(ScreenEnd { state, quit: false }),
            },
            key = keys.next() => {
                if let Some(Ok(Event::Key(k))) = key
                    && k.kind == KeyEventKind::Press
                    && k.code == KeyCode::Char('c')
                    && k.modifiers.contains(KeyModifiers::CONTROL)
                {
                    interrupt = true;
                }
            }
            _ = tokio::signal::ctrl_c() => interrupt = true,
            _ = frame.tick() => {
                // Timers move between CloudFormation events too.
                if state.ok.is_none() {
                    state.now_ms = state.now_ms.max(clock.now_ms());
                }
            }
        }
        if interrupt {
            presses += 1;
            if presses >= 2 {
                return Ok(ScreenEnd { state, quit: true });
            }
            cancel.cancel();
            state.warning = Some("Ctrl-C: asking CloudFormation to stop…".into());
        }
        term.draw(|f| pane::draw(&state, f, f.area()))?;
    }
}
