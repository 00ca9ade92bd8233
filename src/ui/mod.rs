//! Front ends: they render engine events and collect answers; they never call AWS.
//!
//! One rule decides where text goes: chrome, progress and prompts on stderr; the data a command
//! was asked for (a dry run's plan, a summary, JSON events) on stdout.

pub mod deploy;
pub mod handoff;
pub mod json;
pub mod log;
pub mod plain;
pub mod prompt;
pub mod style;
pub mod terminal;
pub mod tui;
pub mod wizard;

use crate::engine::Event;

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// Full-screen terminal UI.
    Tui,
    /// Readable lines.
    Plain,
    /// One JSON object per event, on stdout.
    Json,
}

/// Something that shows events as they come.
pub trait Renderer: Send {
    fn render(&mut self, event: &Event);
    /// Called once after the last event.
    fn finish(&mut self) {}
}
