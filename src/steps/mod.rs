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

use crate::engine::Step;

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
