//! The embedded deploy engine: Medplum's AWS infrastructure from its CDK config file, with
//! CloudFormation alone (no Node, no CDK).
//!
//! The template side:
//! * [`synth`] turns a resolved [`InfraConfig`] plus [`Lookups`] (hosted zone IDs, availability
//!   zones) into the CloudFormation templates `@medplum/cdk` would synthesize, with the same
//!   logical IDs, so a stack deployed by the official CDK can be taken over in place. It is pure:
//!   no I/O, no clock, no randomness.
//! * [`context`] reads and writes the lookups in the CDK's own `cdk.context.json` format, does the
//!   online lookups (Route53) when the file lacks them, and resolves external secrets from SSM.
//!
//! The runtime side: change sets and their diff ([`changeset`]), the private staging bucket for
//! large templates ([`staging`]), the stack-event monitor ([`monitor`]) behind a clock and an
//! events source ([`clock`], [`cfn`]), planning from each stack's settled state ([`plan`]), the
//! deployer that runs stacks in order and handles Ctrl-C ([`deployer`]), safe execution with
//! request tokens ([`execute`]), waits for deletes ([`settle`]), the progress model the panes draw ([`progress`]) and the typed events every
//! renderer reads ([`event`]). Nothing in here draws, prints or prompts.
//!
//! Deviations from the CDK's output are deliberate and listed in `docs/deploy-engine.md`; the
//! parity test holds the same list in code.

pub mod app_progress;
pub mod cfn;
pub mod changeset;
pub mod clock;
pub mod context;
pub mod deployer;
pub mod destroy;
pub mod diagnose;
mod diagnose_ecs;
pub mod environments;
pub mod error;
pub mod event;
pub mod execute;
pub mod guard;
pub mod leftovers;
pub mod monitor;
pub mod plan;
pub mod progress;
pub mod remains;
pub mod settle;
pub mod staging;
pub mod summary;
pub mod synth;
pub mod templates;
#[cfg(test)]
pub(crate) mod testkit;
pub mod vpc;

use serde_json::Value;

use crate::config::infra::InfraConfig;
pub use context::Lookups;

/// One CloudFormation stack to deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct StackTemplate {
    /// Stack name: `stackName`, or `stackName-us-east-1` for the CloudFront stack.
    pub name: String,
    /// Region the stack is deployed in.
    pub region: String,
    /// The template body.
    pub template: Value,
    /// Stack-level tags (`medplum:environment=<name>`), which Medplum's CLI finds stacks by.
    pub tags: Vec<(String, String)>,
    /// Template parameters filled from outputs of stacks deployed before this one. Stacks come
    /// out of [`synth`] in deploy order, so every input names an earlier stack.
    pub inputs: Vec<StackInput>,
}

/// A parameter of one stack whose value is an output of an earlier stack (CloudFormation exports
/// do not cross regions, so the deployer passes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInput {
    /// Parameter name in this stack's template.
    pub parameter: String,
    /// Name of the stack that produces the value.
    pub from_stack: String,
    /// Output key in that stack.
    pub output: String,
}

impl StackTemplate {
    /// The template as pretty JSON with a trailing newline, as written to disk and uploaded.
    pub fn body(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.template).expect("JSON values serialise");
        s.push('\n');
        s
    }
}

/// Why a config cannot be turned into templates. Every variant names what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// A key medplum-init cannot honour (it would need CDK assets, Docker or lookups it does not
    /// do). Never silently dropped.
    #[error("config key '{key}' is not supported by medplum-init's deploy engine: {reason}")]
    Unsupported {
        key: String,
        reason: String,
        hint: String,
    },
    /// A key with a value the stack cannot be built from.
    #[error("config key '{key}': {message}")]
    Invalid {
        key: String,
        message: String,
        hint: String,
    },
    /// DNS records are wanted but the hosted zone ID is unknown.
    #[error("the Route53 hosted zone for {domain} is unknown")]
    MissingHostedZone { domain: String, hint: String },
    /// `vpcId` is set but its lookup is not in `cdk.context.json`.
    #[error("vpcId {vpc_id}: the VPC's subnets are unknown (not looked up yet)")]
    MissingVpc { vpc_id: String, hint: String },
    /// The availability zones of the region are needed but unknown.
    #[error("the availability zones of {region} are unknown and maxAzs is {max_azs}")]
    MissingAvailabilityZones {
        region: String,
        max_azs: u32,
        hint: String,
    },
}

impl crate::error::Diagnostic for SynthError {
    /// A config that cannot be built from is the user's to change.
    fn outcome(&self) -> crate::outcome::Outcome {
        crate::outcome::Outcome::Invalid
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Unsupported { hint, .. }
            | Self::Invalid { hint, .. }
            | Self::MissingHostedZone { hint, .. }
            | Self::MissingVpc { hint, .. }
            | Self::MissingAvailabilityZones { hint, .. } => Some(hint.clone()),
        }
    }
}

impl SynthError {
    /// The config key at fault, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Unsupported { key, .. } | Self::Invalid { key, .. } => Some(key),
            Self::MissingHostedZone { .. } => Some("hostedZoneName"),
            Self::MissingVpc { .. } => Some("vpcId"),
            Self::MissingAvailabilityZones { .. } => Some("maxAzs"),
        }
    }
}

/// The templates for `config`: the primary stack in `config.region`, then, when that is not
/// us-east-1, the `-us-east-1` stack holding what CloudFront needs there. Pure.
pub fn synth(config: &InfraConfig, lookups: &Lookups) -> Result<Vec<StackTemplate>, SynthError> {
    synth::build(config, lookups)
}
