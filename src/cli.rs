//! The command line: commands and global options (clap derive). Help texts are the docs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use medplum_init::ui::OutputMode;

#[derive(Debug, Parser)]
#[command(
    name = "medplum-init",
    version,
    about = "From an empty AWS account to a running, self-hosted Medplum.",
    long_about = "From an empty AWS account to a running, self-hosted Medplum.\n\n\
        Without a command, runs the guided install. With --answers FILE it runs headless and never prompts.\n\
        Exit codes: 0 success, 1 failure, 2 usage error or invalid answers, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Answers file (TOML). Makes the run headless: it never prompts.
    #[arg(long, global = true, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Environment name (the CDK config's `name`).
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,

    /// Where medplum.<env>.config.json and the state folder .medplum-init/<env>/ live.
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Plan only: print every AWS call it would make, write the config file, call nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// AWS profile (shared config / SSO).
    #[arg(long, global = true, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// Default AWS region when the answers name none.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator such as moto).
    #[arg(long, global = true, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// How to show progress [default: tui on a terminal, plain otherwise].
    #[arg(long, global = true, value_enum)]
    pub output: Option<OutputMode>,

    /// Guided install: also write the answers given to FILE (never secrets), to replay the same
    /// install headless with `--answers FILE --yes`.
    #[arg(long, global = true, value_name = "FILE")]
    pub save_answers: Option<PathBuf>,

    /// Apply changes without asking (parameter writes, deploys).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// The longest one AWS call may take, its retries included (45s, 2m). An endpoint that
    /// never answers ends the run after this, with the call's name.
    #[arg(long, global = true, value_name = "DURATION", env = "MEDPLUM_INIT_AWS_CALL_TIMEOUT",
          value_parser = parse_timeout, default_value = "60s")]
    pub aws_call_timeout: std::time::Duration,

    /// The longest one attempt of an AWS call may take before the SDK retries it (10s, 1m).
    #[arg(long, global = true, value_name = "DURATION", env = "MEDPLUM_INIT_AWS_ATTEMPT_TIMEOUT",
          value_parser = parse_timeout, default_value = "15s")]
    pub aws_attempt_timeout: std::time::Duration,

    /// Deploy: give up following a stack after this many reads of its events and status in a
    /// row fail (CloudFormation carries on; the deploy exits 1).
    #[arg(long, global = true, value_name = "N", env = "MEDPLUM_INIT_MAX_POLL_FAILURES",
          value_parser = clap::value_parser!(u32).range(1..), default_value_t = 10)]
    pub max_poll_failures: u32,
}

impl Global {
    /// `--aws-call-timeout` and `--aws-attempt-timeout` for [`medplum_init::aws::AwsSettings`].
    pub fn aws_timeouts(&self) -> medplum_init::aws::AwsTimeouts {
        medplum_init::aws::AwsTimeouts {
            call: self.aws_call_timeout,
            attempt: self.aws_attempt_timeout,
        }
    }
}

/// A duration as `--timeout` takes it, but never zero: a zero limit fails every call.
fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("'{s}' is no time at all; give at least 1s")),
        d => Ok(d),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Guided install (the default): prerequisites, config file, server parameters.
    Init(InitArgs),
    /// Print a fully commented answers file.
    AnswersTemplate,
    /// Write the CloudFormation templates for a CDK config file (what `cdk synth` would).
    Synth(SynthArgs),
    /// Show what a deploy would change (a change set per stack, deleted again).
    /// Exit codes: 0 no changes, 3 changes present, 1 failure, 2 usage.
    Diff(DeployArgs),
    /// Deploy the stacks: show the diff, confirm (or --yes), execute, follow progress.
    /// Ctrl-C once cancels the deploy (rolls back); twice leaves CloudFormation to finish.
    Deploy(DeployCmdArgs),
}

#[derive(Debug, Args, Default, Clone)]
pub struct SynthArgs {
    /// The CDK config [default: <dir>/medplum.<env>.config.json, or the only
    /// medplum.*.config.json in <dir>].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where to write <stackName>.template.json [default: cdk.out next to the config].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Never call AWS: every lookup must be in cdk.context.json and the config must hold no
    /// external secrets.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct DeployArgs {
    /// Use the templates in DIR (`<StackName>.template.json`, as `medplum-init synth --out DIR`
    /// writes them) instead of synthesising from the config.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// The IAM role CloudFormation acts as to create, update and delete the stacks' resources
    /// (passed as RoleARN on CreateChangeSet, and on DeleteStack of a stack the deploy deletes).
    /// Your own credentials then need only the CloudFormation calls and iam:PassRole on it.
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn)]
    pub role_arn: Option<String>,
}

fn parse_role_arn(s: &str) -> Result<String, String> {
    medplum_init::deploy::cfn::check_role_arn(s).map(|()| s.to_string())
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    medplum_init::deploy::clock::parse_duration(s)
}

#[derive(Debug, Args, Default, Clone)]
pub struct DeployCmdArgs {
    #[command(flatten)]
    pub stacks: DeployArgs,

    /// Deploy even when the plan replaces or removes a resource that holds data (the database
    /// cluster, a bucket, Redis) or moves the database to a new major version. The diff marks
    /// these with `!`; without this flag the deploy stops before executing anything.
    #[arg(long)]
    pub allow_data_risk: bool,

    /// The longest the deploy waits on any one stack (an operation already running, a delete,
    /// an execution): 90m, 1h30m, 45s. CloudFormation carries on after it; the deploy exits 1.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "90m")]
    pub timeout: std::time::Duration,

    /// How long an ECS service may stay in progress before the deploy reads its events and
    /// stopped tasks and shows why it is not stabilising.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub diagnose_after: std::time::Duration,
}

#[derive(Debug, Args, Default, Clone)]
pub struct InitArgs {
    /// Run only these steps (repeatable): identity, certificates, signing_key, email,
    /// logging_bucket, bot_layer, config_file, parameters.
    #[arg(long = "only", value_name = "STEP", value_parser = parse_step)]
    pub only: Vec<medplum_init::engine::StepId>,
}

fn parse_step(s: &str) -> Result<medplum_init::engine::StepId, String> {
    medplum_init::engine::StepId::parse(s).ok_or_else(|| {
        let all: Vec<_> = medplum_init::engine::StepId::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        format!("unknown step '{s}'; steps are {}", all.join(", "))
    })
}
