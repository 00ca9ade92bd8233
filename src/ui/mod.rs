//! Front ends: they render engine events and collect answers; they never call AWS.
//!
//! One rule decides where text goes: chrome, progress and prompts on stderr; the data a command
//! was asked for (a dry run's plan, a summary, JSON events) on stdout.

pub mod deploy;
pub mod frontend;
pub mod handoff;
pub mod json;
pub mod plain;
pub mod prompt;
pub mod terminal;
pub mod tui;
pub mod wizard;

use crate::engine::Event;

/// Something that shows events as they come.
pub trait Renderer: Send {
    fn render(&mut self, event: &Event);
    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// How the deploy progress screen ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenEnd {
    /// Ctrl-C twice: the user left while CloudFormation is still working.
    pub quit: bool,
}

/// Everything a command needs from a front end, so commands name no concrete renderer, screen or
/// prompt. The binary passes [`frontend::Terminal`]; tests may pass their own.
#[async_trait::async_trait(?Send)]
pub trait FrontEnd: Send + Sync {
    /// A renderer of the install's engine events: plain lines or JSON, after the printer's mode.
    fn install_renderer(&self, printer: &crate::printer::Printer) -> Box<dyn Renderer>;

    /// A renderer of deploy events: plain lines or JSON, after the printer's mode.
    fn deploy_renderer(&self, printer: &crate::printer::Printer)
    -> Box<dyn deploy::DeployRenderer>;

    /// The diff of a plan, as text for stdout.
    fn diff_text(
        &self,
        diffs: &[crate::deploy::changeset::StackDiff],
        style: crate::printer::Style,
    ) -> String;

    /// The recap of failed resources, with CloudFormation's reasons, for stderr.
    fn failure_recap(
        &self,
        failures: &[crate::deploy::event::FailureRecap],
        style: crate::printer::Style,
    ) -> String;

    /// Starts the full-screen deploy progress on its own task.
    fn spawn_deploy_screen(
        &self,
        events: tokio::sync::mpsc::UnboundedReceiver<crate::deploy::event::DeployEvent>,
        cancel: crate::engine::Cancel,
    ) -> tokio::task::JoinHandle<std::io::Result<ScreenEnd>>;

    /// A yes/no question on the terminal; `Err` when it was interrupted.
    fn confirm(&self, question: &str, help: &str, default: bool) -> Result<bool, String>;

    /// A line of text typed on the terminal (destroy's "type the environment name"); `Err`
    /// when it was interrupted.
    fn ask_text(&self, question: &str, help: &str) -> Result<String, String>;

    /// The guided install, full screen or line by line, after `mode` and the terminal's size.
    async fn guided(
        &self,
        options: crate::guided::GuidedOptions,
        mode: crate::printer::OutputMode,
        handoff: std::sync::Arc<dyn handoff::DeployHandoff>,
    ) -> crate::outcome::Outcome;
}
