//! The one error contract: every error type of the library says what happened (its `Display`),
//! what to do about it ([`Diagnostic::hint`]) and how the process ends
//! ([`Diagnostic::outcome`]). Commands turn any of them into a [`CommandError`]; the printer
//! shows every one in the same format, whichever command hit it.

use crate::outcome::Outcome;

/// What every library error type implements.
pub trait Diagnostic: std::error::Error {
    /// What to do about it, if there is something to say.
    fn hint(&self) -> Option<String> {
        None
    }

    /// How a command that stops on this error ends: [`Outcome::Failed`] (exit 1) unless the
    /// error is the user's input or local files ([`Outcome::Invalid`], exit 2) or an interrupt.
    fn outcome(&self) -> Outcome {
        Outcome::Failed
    }

    /// The process's exit code for this error: always through [`Outcome::exit_code`].
    fn exit_code(&self) -> u8 {
        self.outcome().exit_code()
    }

    /// Extra fields of the JSON error object (`--output json`), e.g. the list of invalid answers.
    fn json_details(&self) -> Option<serde_json::Value> {
        None
    }
}

/// An error a command stops on, taken from any [`Diagnostic`]: its message, hint and outcome are
/// fixed when it is made, so the printer needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    pub outcome: Outcome,
    /// Boxed: errors travel in `Result`s, which stay small.
    pub details: Option<Box<serde_json::Value>>,
}

impl CommandError {
    pub fn from_diagnostic(e: &(impl Diagnostic + ?Sized)) -> Self {
        Self {
            message: e.to_string(),
            hint: e.hint(),
            outcome: e.outcome(),
            details: e.json_details().map(Box::new),
        }
    }

    /// A usage error: the command line or a local file is not usable; nothing was changed.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            outcome: Outcome::Invalid,
            details: None,
        }
    }

    /// A failure (exit 1), with an optional hint.
    pub fn failed(message: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            message: message.into(),
            hint,
            outcome: Outcome::Failed,
            details: None,
        }
    }

    /// The same error, its message prefixed with what was being done (`path: ...`).
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Interrupted (exit 130): the command stopped at a safe point.
    pub fn interrupted() -> Self {
        Self {
            message: "interrupted".into(),
            hint: None,
            outcome: Outcome::Interrupted,
            details: None,
        }
    }

    /// The same error with `more` said after its hint (or as the hint when it had none).
    pub fn with_hint_suffix(mut self, more: &str) -> Self {
        self.hint = Some(match self.hint.take() {
            Some(h) => format!("{h}; {more}"),
            None => more.to_string(),
        });
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.outcome.exit_code()
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

impl Diagnostic for CommandError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
    fn outcome(&self) -> Outcome {
        self.outcome
    }
    fn json_details(&self) -> Option<serde_json::Value> {
        self.details.as_deref().cloned()
    }
}

/// `?` on any library error inside a command.
macro_rules! from_diagnostic {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CommandError {
            fn from(e: $t) -> Self {
                CommandError::from_diagnostic(&e)
            }
        }
    )*};
}

from_diagnostic!(
    crate::answers::AnswersInvalid,
    crate::app::AppError,
    crate::aws::AwsError,
    crate::config::infra::ConfigFileError,
    crate::crypto::keypair::KeyError,
    crate::crypto::pending::PendingError,
    crate::deploy::SynthError,
    crate::deploy::context::ContextError,
    crate::deploy::error::DeployError,
    crate::deploy::templates::TemplatesError,
    crate::engine::JournalError,
    crate::engine::StepError,
    crate::steps::recall::RecallError,
);
