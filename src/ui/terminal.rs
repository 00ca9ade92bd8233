//! Entering the full-screen mode and, whatever happens, leaving it, for both full screens (the
//! guided install's [`crate::ui::tui`] and the deploy's [`crate::ui::deploy::screen`]): raw
//! mode, the alternate screen, bracketed paste and the hidden cursor are undone on a normal exit,
//! on an error (the guard's `Drop`) and on a panic (a hook installed once, before the terminal is
//! first touched, which restores first and then lets the previous hook print the message on a
//! readable screen).
//!
//! Full screens draw on stderr: stdout stays free for what the command prints at the end.

use std::io::{Stderr, stderr};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the terminal is in full-screen mode now; the panic hook restores only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Leaves full-screen mode if it is on. Safe to call more than once, from any thread.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        // Errors are ignored on purpose: there is nowhere better to report them, and each
        // step must still be tried.
        let _ = disable_raw_mode();
        let _ = execute!(stderr(), DisableBracketedPaste, LeaveAlternateScreen, Show);
    }
}

/// The full-screen terminal; dropping it restores the terminal.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stderr>>,
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(stderr(), EnterAlternateScreen, EnableBracketedPaste, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stderr())) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
