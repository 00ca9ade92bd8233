//! The options of the day-two commands: `status`, `step` and `rotate`, which work on an
//! environment that is already installed.

use std::path::PathBuf;

use clap::Args;

use super::{AwsArgs, OutputArgs, TargetArgs};

/// What `rotate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RotateWhat {
    /// The key Medplum signs storage URLs with (signingKey, signingKeyPassphrase, signingKeyId).
    SigningKey,
}

#[derive(Debug, Args, Clone)]
pub struct RotateArgs {
    #[arg(value_enum, value_name = "KEY")]
    pub what: RotateWhat,

    #[command(flatten)]
    pub target: TargetArgs,

    /// How long the old key stays trusted after the servers restart on the new one: Medplum's
    /// signed storage URLs last one hour.
    /// Shorter than an hour breaks URLs signed just before the restart (0s: none kept). A
    /// rotation in progress keeps the grace period it started with [default: 1h5m].
    #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
    pub grace: Option<std::time::Duration>,

    /// Complete a rotation whose grace period has passed (while medplum-init was not running).
    #[arg(long)]
    pub finish: bool,

    /// Rotate without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// A step `medplum-init step` re-runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StepName {
    /// The ACM certificates (reuse, resume or request; DNS validation records).
    Certificates,
    /// The CloudFront signing key (kept when SSM and CloudFront hold it; `rotate` replaces it).
    SigningKey,
    /// The SES identity of supportEmail.
    Email,
    /// The load balancer's log bucket.
    LoggingBucket,
    /// The bot Lambda layer.
    BotLayer,
    /// medplum.<env>.config.json.
    Config,
    /// The server config in Parameter Store, /medplum/<env>/.
    Parameters,
    /// The stacks (`medplum-init deploy`).
    Deploy,
    /// The web app (`medplum-init app`).
    App,
}

impl StepName {
    /// The engine's step, for the prerequisite steps.
    pub fn prerequisite(self) -> Option<crate::engine::StepId> {
        use crate::engine::StepId;
        Some(match self {
            StepName::Certificates => StepId::Certificates,
            StepName::SigningKey => StepId::SigningKey,
            StepName::Email => StepId::Email,
            StepName::LoggingBucket => StepId::LoggingBucket,
            StepName::BotLayer => StepId::BotLayer,
            StepName::Config => StepId::ConfigFile,
            StepName::Parameters => StepId::Parameters,
            StepName::Deploy | StepName::App => return None,
        })
    }
}

#[derive(Debug, Args, Clone)]
pub struct StepArgs {
    #[arg(value_enum, value_name = "STEP")]
    pub step: StepName,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Answers file (TOML) with changed answers [default: the answers recalled from the
    /// journal and the config file].
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Apply the plan without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Show the AWS calls the step would make, and stop: no AWS call, no file changed.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_grace(s: &str) -> Result<std::time::Duration, String> {
    if s.trim_end_matches(['s', 'm', 'h']) == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    super::parse_duration(s)
}
