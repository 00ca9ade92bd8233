//! The `Step` trait and the errors a step can end with.

use async_trait::async_trait;

use super::ctx::Ctx;
use super::event::{Outcome, PlannedCall, StepId};
use super::journal::JournalError;
use crate::aws::AwsError;
use crate::config::infra::ConfigFileError;
use crate::crypto::KeyError;
use crate::error::Diagnostic;
use crate::outcome::Outcome as Ending;

/// One prerequisite step. Steps never print or prompt: they emit events through `ctx.events`.
///
/// * `validate`: offline checks beyond the answers themselves (files exist, journal agrees).
///   The runner validates every step before the first AWS call.
/// * `plan`: offline; the AWS calls `apply` may make. A dry run prints this.
/// * `dry_run`: the local work a dry run still does (writing the config file, say).
/// * `apply`: does the work, idempotently: look up before create, compare before write, record
///   intent in the journal before any call that creates something.
/// * `verify`: checks that AWS now matches what `apply` meant.
#[async_trait]
pub trait Step: Send + Sync {
    fn id(&self) -> StepId;

    fn validate(&self, _ctx: &Ctx) -> Result<(), StepError> {
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall>;

    async fn dry_run(&self, _ctx: &Ctx) -> Result<Outcome, StepError> {
        Ok(Outcome::Planned)
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError>;

    async fn verify(&self, _ctx: &Ctx) -> Result<(), StepError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A failed call. An abandoned one (Ctrl-C) converts to [`StepError::Cancelled`] instead.
    #[error(transparent)]
    Aws(AwsError),
    /// The answers or local files are not usable; exit code 2.
    #[error("{problem}")]
    Invalid { problem: String, fix: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what} did not finish within {minutes} minutes")]
    Timeout { what: String, minutes: u64 },
    #[error("interrupted")]
    Cancelled,
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },
}

impl From<AwsError> for StepError {
    fn from(e: AwsError) -> Self {
        if e.is_cancelled() {
            StepError::Cancelled
        } else {
            StepError::Aws(e)
        }
    }
}

impl StepError {
    pub fn failed(message: impl Into<String>, hint: Option<String>) -> Self {
        StepError::Failed {
            message: message.into(),
            hint,
        }
    }

    pub fn invalid(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        StepError::Invalid {
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub fn is_invalid(&self) -> bool {
        match self {
            StepError::Invalid { .. } => true,
            StepError::Journal(e) => e.outcome() == Ending::Invalid,
            // A refused local file (a link at our own path) is the user's to fix, like answers.
            StepError::Config(ConfigFileError::Read { source, .. }) => {
                source.kind() == std::io::ErrorKind::PermissionDenied
            }
            _ => false,
        }
    }
}

impl Diagnostic for StepError {
    fn outcome(&self) -> Ending {
        if matches!(self, StepError::Cancelled) {
            Ending::Interrupted
        } else if self.is_invalid() {
            Ending::Invalid
        } else {
            Ending::Failed
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            StepError::Aws(e) => e.hint(),
            StepError::Invalid { fix, .. } => Some(fix.clone()),
            StepError::Journal(e) => e.hint(),
            StepError::Timeout { .. } => {
                Some("run the same command again later to resume waiting".into())
            }
            StepError::Failed { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}
