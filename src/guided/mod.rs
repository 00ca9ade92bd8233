//! The guided install's AWS work, for both of its front ends (the TUI and line mode): the
//! read-only look-ups that fill choices (caller identity, hosted zones, issued certificates),
//! the preview the review shows, and the run itself.
//!
//! The front ends reach it only through the [`Guide`] trait, the way they reach the steps only
//! through engine events: they ask, and the answer (or an [`Event`](crate::engine::Event) on
//! the sink the session was built with) comes back. So `ui/` never holds an AWS client, and a
//! front end can be driven by a test double. [`Session`] is the implementation over the steps
//! and the engine that the binary builds.

pub mod session;

use async_trait::async_trait;

pub use session::{ANSWERS_KEY, Failure, GuidedOptions, Session, save_answers};

use crate::answers::Answers;
use crate::config::zones::Zone;
use crate::engine::{Cancel, RunReport, StepId};
use crate::steps::lookup::{Caller, CertSummary};
use crate::steps::preview::Preview;

/// What a front end of the guided install asks of the library. Each call is independent and may
/// run in its own task; progress (the AWS calls made, step events) goes to the session's event
/// sink while the call runs.
#[async_trait]
pub trait Guide: Send + Sync {
    /// What the command line said.
    fn options(&self) -> &GuidedOptions;

    /// Cancels the run at its next safe point (Ctrl-C in either front end).
    fn cancel(&self) -> &Cancel;

    /// Whether look-ups may call AWS (not in a dry run).
    fn online(&self) -> bool {
        !self.options().dry_run
    }

    /// The account and principal the credentials belong to.
    async fn caller(&self) -> Result<Caller, Failure>;

    /// The account's public hosted zones.
    async fn zones(&self) -> Result<Vec<Zone>, Failure>;

    /// The issued certificates of `region`.
    async fn certificates(&self, region: &str) -> Result<Vec<CertSummary>, Failure>;

    /// What a run with `answers` would do, read from AWS and the journal; writes nothing.
    async fn preview(&self, answers: Answers) -> Result<Preview, Failure>;

    /// Runs the steps (all, or `only`) with the confirmed answers, recording `answers_text` in
    /// the journal so a later run resumes with them. A retry after a failure calls this again.
    async fn run(
        &self,
        answers: Answers,
        answers_text: &str,
        only: Option<Vec<StepId>>,
    ) -> Result<RunReport, Failure>;

    /// Lets go of the run (and the journal's lock), so the deploy that follows can open the
    /// journal itself.
    fn release(&self);
}
