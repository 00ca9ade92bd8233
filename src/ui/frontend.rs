//! The terminal front end: the concrete renderers, screens and prompts behind
//! [`FrontEnd`](super::FrontEnd), chosen by output mode and terminal size.

use std::sync::Arc;

use super::deploy::json::JsonDeploy;
use super::deploy::plain::{PlainDeploy, write_recap};
use super::deploy::{DeployRenderer, diff, screen};
use super::handoff::DeployHandoff;
use super::json::JsonRenderer;
use super::plain::PlainRenderer;
use super::prompt::{self, inquire_prompter::InquirePrompter};
use super::{FrontEnd, Renderer, ScreenEnd, tui};
use crate::deploy::changeset::StackDiff;
use crate::deploy::event::{DeployEvent, FailureRecap};
use crate::engine::{Cancel, EventSink};
use crate::guided::{Guide, GuidedOptions, Session};
use crate::outcome::Outcome;
use crate::printer::{OutputMode, Printer, Style};

/// The process's own terminal: stdout, stderr, crossterm and inquire.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal;

#[async_trait::async_trait(?Send)]
impl FrontEnd for Terminal {
    fn install_renderer(&self, printer: &Printer) -> Box<dyn Renderer> {
        match printer.mode() {
            OutputMode::Json => Box::new(JsonRenderer::new(printer.stdout())),
            _ => Box::new(PlainRenderer::new(
                printer.stdout(),
                printer.stderr(),
                printer.err_style(),
            )),
        }
    }

    fn deploy_renderer(&self, printer: &Printer) -> Box<dyn DeployRenderer> {
        match printer.mode() {
            OutputMode::Json => Box::new(JsonDeploy::new(printer.stdout())),
            _ => Box::new(PlainDeploy::new(printer.stderr(), printer.err_style())),
        }
    }

    fn diff_text(&self, diffs: &[StackDiff], style: Style) -> String {
        diff::render(diffs, style)
    }

    fn failure_recap(&self, failures: &[FailureRecap], style: Style) -> String {
        let mut text = Vec::new();
        write_recap(&mut text, failures, style);
        String::from_utf8_lossy(&text).into_owned()
    }

    fn spawn_deploy_screen(
        &self,
        events: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
        cancel: Cancel,
    ) -> tokio::task::JoinHandle<std::io::Result<ScreenEnd>> {
        tokio::spawn(async move {
            screen::run(events, cancel)
                .await
                .map(|end| ScreenEnd { quit: end.quit })
        })
    }

    fn confirm(&self, question: &str, help: &str, default: bool) -> Result<bool, String> {
        inquire::Confirm::new(question)
            .with_default(default)
            .with_help_message(help)
            .prompt()
            .map_err(|e| e.to_string())
    }

    fn ask_text(&self, question: &str, help: &str) -> Result<String, String> {
        inquire::Text::new(question)
            .with_help_message(help)
            .prompt()
            .map_err(|e| e.to_string())
    }

    async fn guided(
        &self,
        options: GuidedOptions,
        mode: OutputMode,
        handoff: Arc<dyn DeployHandoff>,
    ) -> Outcome {
        let printer = Printer::new(mode);
        let (sink, rx) = EventSink::channel();
        let session: Arc<dyn Guide> = Arc::new(Session::new(options, sink));
        let (w, h) = crossterm::terminal::size().unwrap_or((0, 0));
        let (min_w, min_h) = tui::app::MIN_SIZE;
        let small = w < min_w || h < min_h;
        if mode == OutputMode::Tui && !small {
            return tui::run(session, rx, handoff).await;
        }
        if mode == OutputMode::Tui {
            printer.status(&format!(
                "the terminal is {w}×{h}, smaller than the {min_w}×{min_h} the full screen needs: asking line by line"
            ));
        }
        let mut renderer =
            PlainRenderer::new(printer.stdout(), printer.stderr(), printer.err_style());
        prompt::run(
            session,
            rx,
            &mut InquirePrompter::new(),
            &mut renderer,
            handoff,
        )
        .await
    }
}
