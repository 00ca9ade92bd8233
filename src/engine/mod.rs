//! The step engine: steps that validate, plan, apply and verify; the runner that orders them;
//! the journal that makes a re-run resume; the run's event and debug logs; and the events every
//! front end renders.
//!
//! Nothing in here draws, prints or prompts.

pub mod cancel;
pub mod ctx;
pub mod event;
pub mod journal;
pub mod log;
pub mod runner;
pub mod step;
pub mod time;

pub use cancel::Cancel;
pub use ctx::{Ctx, Outputs};
pub use event::{
    CallStatus, Event, EventSink, Outcome, ParameterAction, ParameterChange, PlannedCall, StepId,
};
pub use journal::{Journal, JournalError, StepStatus};
pub use runner::{RunReport, Runner};
pub use step::{Step, StepError};
