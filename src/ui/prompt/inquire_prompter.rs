//! The [`Prompter`] a person uses: inquire prompts on stderr, with the answers file's checks
//! inline, the default in parentheses, `?` for the long help and Esc to go back a section.
//!
//! inquire blocks its thread while it waits for keys, so each prompt runs inside
//! `block_in_place`: the runtime keeps its other workers for the tasks in flight.

use inquire::error::InquireError;
use inquire::validator::Validation;

use super::{PromptError, Prompter, Question};
use crate::config::validators::Check;
use crate::printer::style::Style;
use crate::printer::{OutputMode, Printer};
use crate::ui::wizard::Opt;

pub struct InquirePrompter {
    style: Style,
    printer: Printer,
}

impl InquirePrompter {
    pub fn new() -> Self {
        let printer = Printer::new(OutputMode::Plain);
        Self {
            style: printer.err_style(),
            printer,
        }
    }

    fn help(&self, q: &Question) {
        self.printer
            .status(&self.style.dim(&format!("  {}", q.help)));
    }
}

impl Default for InquirePrompter {
    fn default() -> Self {
        Self::new()
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn map(e: InquireError) -> PromptError {
    match e {
        InquireError::OperationCanceled => PromptError::Back,
        InquireError::OperationInterrupted => PromptError::Interrupted,
        other => PromptError::Failed(other.to_string()),
    }
}

const HELP_HINT: &str = "? for help · Esc goes back a section";

impl Prompter for InquirePrompter {
    fn text(&mut self, q: &Question, check: &dyn Fn(&str) -> Check) -> Result<String, PromptError> {
        let default = q.default.clone();
        loop {
            let message = format!("{}:", q.label);
            let validator = |s: &str| {
                if s.trim() == "?" {
                    return Ok(Validation::Valid);
                }
                let value = if s.is_empty() { default.as_str() } else { s };
                Ok(match check(value) {
                    Ok(()) => Validation::Valid,
                    Err((p, f)) => Validation::Invalid(format!("{p}: {f}").into()),
                })
            };
            let mut prompt = inquire::Text::new(&message)
                .with_help_message(HELP_HINT)
                .with_validator(validator);
            if !default.is_empty() {
                prompt = prompt.with_default(&default);
            }
            let answer = blocking(|| prompt.prompt()).map_err(map)?;
            if answer.trim() == "?" {
                self.help(q);
                continue;
            }
            return Ok(if answer.is_empty() {
                default.clone()
            } else {
                answer
            });
        }
    }

    fn select(
        &mut self,
        q: &Question,
        options: &[Opt],
        default: usize,
    ) -> Result<usize, PromptError> {
        let width = options
            .iter()
            .map(|o| o.label.chars().count())
            .max()
            .unwrap_or(0);
        let mut items: Vec<String> = options
            .iter()
            .map(|o| {
                if o.hint.is_empty() {
                    o.label.clone()
                } else {
                    format!("{:width$}  {}", o.label, self.style.dim(&o.hint))
                }
            })
            .collect();
        let explain = items.len();
        items.push("? explain these choices".into());
        loop {
            let message = format!("{}:", q.label);
            let prompt = inquire::Select::new(&message, items.clone())
                .with_starting_cursor(default.min(explain))
                .with_page_size(8)
                .with_help_message("↑↓ move · type to filter · Enter picks · Esc goes back");
            let picked = blocking(|| prompt.raw_prompt()).map_err(map)?;
            if picked.index == explain {
                self.help(q);
                continue;
            }
            return Ok(picked.index);
        }
    }

    fn confirm(&mut self, q: &Question, default: bool) -> Result<bool, PromptError> {
        let d = if default { "y" } else { "n" };
        loop {
            let message = format!("{} (y/n):", q.label);
            let prompt = inquire::Text::new(&message)
                .with_default(d)
                .with_help_message(HELP_HINT)
                .with_validator(|s: &str| {
                    Ok(match s.trim().to_ascii_lowercase().as_str() {
                        "" | "y" | "yes" | "n" | "no" | "?" => Validation::Valid,
                        _ => Validation::Invalid("answer y or n".into()),
                    })
                });
            let answer = blocking(|| prompt.prompt()).map_err(map)?;
            match answer.trim().to_ascii_lowercase().as_str() {
                "?" => self.help(q),
                "" => return Ok(default),
                a => return Ok(a.starts_with('y')),
            }
        }
    }

    fn say(&mut self, text: &str) {
        let heading = text.starts_with("\n── ");
        if heading {
            self.printer.status(&self.style.bold(text));
        } else if text.starts_with('✗') || text.starts_with("error") {
            self.printer.status(&self.style.red(text));
        } else if text.starts_with('!') {
            self.printer.status(&self.style.yellow(text));
        } else {
            self.printer.status(text);
        }
    }
}
