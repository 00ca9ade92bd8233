//! The embedded deploy engine: from synthesised templates to deployed CloudFormation stacks.
//!
//! The runtime half lives here: change sets and their diff ([`changeset`]), the private staging
//! bucket for large templates ([`staging`]), the stack-event monitor ([`monitor`]) behind a
//! clock and an events source ([`clock`], [`cfn`]), the deployer that runs stacks in order and
//! handles Ctrl-C ([`deployer`]), the progress model the panes draw ([`progress`]) and the typed
//! events every renderer reads ([`event`]). Nothing in here draws, prints or prompts.

pub mod cfn;
pub mod changeset;
pub mod clock;
pub mod deployer;
pub mod error;
pub mod event;
pub mod monitor;
pub mod progress;
pub mod staging;
pub mod summary;
pub mod templates;
#[cfg(test)]
pub(crate) mod testkit;

/// One stack to deploy: its CloudFormation name, region, template and stack tags.
#[derive(Debug, Clone, PartialEq)]
pub struct StackTemplate {
    pub name: String,
    pub region: String,
    pub template: serde_json::Value,
    pub tags: Vec<(String, String)>,
}
