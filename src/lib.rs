//! medplum-init: from an empty AWS account to a running, self-hosted Medplum.
//!
//! The library holds everything but the command line: the answers model ([`answers`]), Medplum's
//! config formats ([`config`]), key material ([`crypto`]), AWS access ([`aws`]), the step engine
//! ([`engine`]) and its steps ([`steps`]), the guided install's AWS work ([`guided`]), and the
//! front ends that render engine events ([`ui`]). Steps and the engine never draw or prompt;
//! front ends never call AWS (the guided install's reach it through [`guided::Guide`]).

pub mod answers;
pub mod app;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod exit;
pub mod fsutil;
pub mod guided;
pub mod outcome;
pub mod printer;
pub mod rotate;
pub mod status;
pub mod steps;
pub mod ui;
