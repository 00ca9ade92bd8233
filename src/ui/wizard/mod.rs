//! The guided install's questions, shared by the terminal UI and the line prompts: the sections
//! and their fields ([`fields`]), the answers given so far ([`draft`]), what the help pane says
//! ([`help`]), picking up an earlier run ([`resume`]), the review of a preview ([`review`]) and
//! the styled text both draw with ([`text`]). The AWS work both front ends start is
//! [`crate::guided`]'s, reached through [`crate::guided::Guide`].
//!
//! A draft becomes answers only through [`crate::answers::Answers::from_toml`]: the guided
//! install writes the same TOML an answers file holds, so parsing, defaults and validation are
//! the answers file's, and `--save-answers` replays the install headless.

pub mod choices;
pub mod draft;
pub mod fields;
pub mod help;
pub mod resume;
pub mod review;
pub mod text;

use std::collections::BTreeMap;
use std::path::Path;

use crate::answers::Answers;
use crate::config::infra::config_path;
use crate::config::zones::Zone;
use crate::engine::StepId;
use crate::steps::lookup::{Caller, CertSummary};
use crate::ui::handoff::DeployRequest;

pub use draft::Draft;
pub use fields::{FieldId, Kind, Opt};

/// The sidebar's entries, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Environment,
    Domains,
    Capacity,
    Certificates,
    SigningKey,
    Email,
    Logging,
    Parameters,
    Review,
    Deploy,
}

impl Section {
    pub const ALL: [Section; 10] = [
        Section::Environment,
        Section::Domains,
        Section::Capacity,
        Section::Certificates,
        Section::SigningKey,
        Section::Email,
        Section::Logging,
        Section::Parameters,
        Section::Review,
        Section::Deploy,
    ];

    /// The sections that ask questions.
    pub const QUESTIONS: [Section; 8] = [
        Section::Environment,
        Section::Domains,
        Section::Capacity,
        Section::Certificates,
        Section::SigningKey,
        Section::Email,
        Section::Logging,
        Section::Parameters,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Environment => "Environment",
            Section::Domains => "Domains",
            Section::Capacity => "Capacity",
            Section::Certificates => "Certificates",
            Section::SigningKey => "Signing key",
            Section::Email => "Email",
            Section::Logging => "Logging",
            Section::Parameters => "Parameters",
            Section::Review => "Review",
            Section::Deploy => "Deploy",
        }
    }

    pub fn index(self) -> usize {
        Section::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn next(self) -> Option<Section> {
        Section::ALL.get(self.index() + 1).copied()
    }

    pub fn prev(self) -> Option<Section> {
        self.index().checked_sub(1).map(|i| Section::ALL[i])
    }

    pub fn is_question(self) -> bool {
        Section::QUESTIONS.contains(&self)
    }

    /// The engine steps whose progress this entry shows once the run starts.
    pub fn engine_steps(self) -> &'static [StepId] {
        match self {
            Section::Environment => &[StepId::Identity],
            Section::Certificates => &[StepId::Certificates],
            Section::SigningKey => &[StepId::SigningKey],
            Section::Email => &[StepId::Email],
            Section::Logging => &[StepId::LoggingBucket],
            Section::Parameters => &[StepId::Parameters],
            // Domains and capacity end up in the config file.
            Section::Domains | Section::Capacity | Section::Review => &[StepId::ConfigFile],
            Section::Deploy => &[],
        }
    }
}

/// What the read-only look-ups found, for defaults and choices. Empty until they answer; a
/// failed look-up leaves its part empty and the questions fall back to typing.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub caller: Option<Caller>,
    pub zones: Option<Vec<Zone>>,
    /// Issued certificates by region.
    pub certificates: BTreeMap<String, Vec<CertSummary>>,
    /// `--region`, the default for the region question.
    pub default_region: Option<String>,
}

impl Known {
    /// The zone that holds `domain` (the longest match), if the account has one.
    pub fn zone_for(&self, domain: &str) -> Option<&Zone> {
        self.zones
            .as_ref()
            .and_then(|z| crate::config::zones::pick_zone(z, domain, None))
    }
}

/// What the deploy that follows the install needs: the environment, its folder (absolute when it
/// can be resolved, since the deploy may run from elsewhere), its config file and region.
pub fn deploy_request(dir: &Path, answers: &Answers) -> DeployRequest {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    DeployRequest {
        env: answers.env().to_string(),
        config_path: config_path(&dir, answers.env()),
        dir,
        region: answers.region().to_string(),
    }
}
