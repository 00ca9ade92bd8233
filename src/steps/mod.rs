//! The prerequisite steps of a first install, one module each.

pub mod bot_layer;
pub mod certificates;
pub mod config_file;
pub mod dns;
pub mod email;
pub mod identity;
pub mod logging_bucket;
pub mod lookup;
pub mod parameters;
pub mod preview;
pub mod recall;
pub mod signing_key;
pub mod ssm;
pub mod step_plan;

use std::sync::Arc;

use crate::engine::{Ctx, Step, StepError};

/// The steps that write the signing key, its id or the config's key fields refuse to run while a
/// rotation is in progress: they would write one key's id beside the other's private half, or
/// drop the retiring key from the config before its grace period ends.
pub fn refuse_during_rotation(ctx: &Ctx) -> Result<(), StepError> {
    refuse_during_rotation_in(&ctx.journal)
}

/// [`refuse_during_rotation`] for a command that has not made its context yet.
pub fn refuse_during_rotation_in(journal: &crate::engine::Journal) -> Result<(), StepError> {
    let Some(r) = journal.extra_record::<crate::rotate::Rotation>(crate::rotate::JOURNAL_KEY)?
    else {
        return Ok(());
    };
    Err(StepError::invalid(
        format!(
            "a signing key rotation is in progress (stage {} of 5 next: {})",
            r.stage.number_of_next(),
            r.stage.next()
        ),
        "finish it first: `medplum-init rotate signing-key` resumes it (--finish after its grace period)",
    ))
}

/// Every step, in [`crate::engine::StepId::ALL`] order.
pub fn all() -> Vec<Arc<dyn Step>> {
    vec![
        Arc::new(identity::Identity),
        Arc::new(certificates::Certificates),
        Arc::new(signing_key::SigningKey),
        Arc::new(email::Email),
        Arc::new(logging_bucket::LoggingBucket),
        Arc::new(bot_layer::BotLayer),
        Arc::new(config_file::ConfigFile),
        Arc::new(parameters::Parameters),
    ]
}
