//! The command line (clap derive): the commands and the option groups they share. Each command
//! takes only the options that mean something to it; help texts are the docs. Parsing only: what
//! the options mean is resolved in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::printer::OutputMode;

mod day_two;
pub use day_two::{RotateArgs, RotateWhat, StatusArgs, StepArgs, StepName};

#[derive(Debug, Parser)]
#[command(
    name = "medplum-init",
    version,
    about = "From an empty AWS account to a running, self-hosted Medplum.",
    long_about = "From an empty AWS account to a running, self-hosted Medplum.\n\n\
        Without a command, runs the guided install (`init`). With --answers FILE it runs headless and never prompts.\n\
        Exit codes: 0 success, 1 failure, 2 usage error or invalid input, 3 diff found changes, 130 interrupted.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The options of `init`, the default command.
    #[command(flatten)]
    pub init: InitArgs,
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
    Diff(DiffArgs),
    /// Deploy the stacks: show the diff, confirm (or --yes), execute, follow progress.
    /// Ctrl-C once cancels the deploy (rolls back); twice leaves CloudFormation to finish.
    Deploy(DeployArgs),
    /// List the environments of the account: the stacks tagged medplum:environment, with their
    /// us-east-1 stacks, status, last update and server image.
    List(ListArgs),
    /// Publish the web app (@medplum/app) to the environment's app bucket and invalidate
    /// CloudFront: what `npx medplum aws update-app` does, without Node.
    App(AppArgs),
    /// Delete an environment: its stacks (the us-east-1 one first), after showing what goes and
    /// what remains and having the environment's name typed (headless: --confirm NAME).
    /// --plan only shows; --purge also removes what medplum-init made outside the stacks.
    Destroy(DestroyArgs),
    /// Check an environment's health: certificates, SES, the server's parameters, the signing
    /// key (SSM, CloudFront, the stack's key group), the stacks, the server image and the web
    /// app. A line per check with the fix; exit 0 when healthy, 1 when not.
    Status(StatusArgs),
    /// Re-run one step of an installed environment from its config file and journal (no
    /// answers file needed): show what it would change, then apply on confirm or --yes, leaving
    /// every other step alone. `deploy` and `app` are the deploy and app commands.
    Step(StepArgs),
    /// Rotate the CloudFront signing key with no downtime: a new key trusted beside the old one,
    /// written to Parameter Store, the servers restarted on it, then, after a grace period, the
    /// old key retired. Resumable at every stage; a second run resumes the first.
    Rotate(RotateArgs),
}

/// Which `@medplum/app` to publish and how (`app`, and the last stage of `deploy`).
#[derive(Debug, Args, Default, Clone)]
pub struct AppSourceArgs {
    /// The @medplum/app version [default: the server image's tag when it is a version, else
    /// the registry's latest].
    #[arg(long, value_name = "VERSION")]
    pub app_version: Option<String>,

    /// Publish this package file (an `npm pack` .tgz) instead of downloading one: works offline.
    #[arg(long, value_name = "FILE")]
    pub app_tarball: Option<PathBuf>,

    /// The npm registry to download from [default: https://registry.npmjs.org]; plain http://
    /// only to this machine.
    #[arg(long, value_name = "URL", env = "MEDPLUM_INIT_NPM_REGISTRY")]
    pub npm_registry: Option<String>,

    /// Do not wait for the CloudFront invalidation to complete.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args, Clone)]
pub struct AppArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub app: AppSourceArgs,

    /// List the uploads and removals without writing anything (reads the stack and the bucket).
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Show what would be deleted and what would remain, then stop: nothing is changed.
    #[arg(long)]
    pub plan: bool,

    /// Headless consent: the environment's name, typed again. Required without a terminal;
    /// --yes alone is refused.
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,

    /// Accepted with --confirm NAME (never enough on its own).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Also remove what medplum-init itself created outside the stacks, as its journal
    /// recorded it: its parameters under /medplum/<env>/, the CloudFront public key it
    /// registered, the certificates it requested (not reused ones), the SES identity it created,
    /// then the state folder .medplum-init/<env>/. Never anything it did not create.
    #[arg(long)]
    pub purge: bool,

    /// The IAM role CloudFormation acts as to delete the stacks' resources (DeleteStack's
    /// RoleARN), as for deploy.
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn)]
    pub role_arn: Option<String>,

    /// The longest the destroy waits on any one stack's delete (90m, 45s). CloudFormation
    /// carries on after it; the command exits 1 and a re-run follows the delete.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "90m")]
    pub timeout: std::time::Duration,

    /// Give up following a stack after this many failed reads in a row, as for deploy.
    #[arg(long, value_name = "N", env = "MEDPLUM_INIT_MAX_POLL_FAILURES",
          value_parser = clap::value_parser!(u32).range(1..), default_value_t = DEFAULT_MAX_POLL_FAILURES)]
    pub max_poll_failures: u32,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Default, Clone)]
pub struct ListArgs {
    /// The regions to look in, comma-separated [default: the regions of the configs in --dir
    /// and --region]; us-east-1 is always read.
    #[arg(long, value_name = "REGION,...", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// A folder of medplum.<env>.config.json files: their regions are looked in, and their
    /// environments' URLs shown.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which environment: `--env`/`--dir`, or `--config FILE`.
#[derive(Debug, Args, Default, Clone)]
pub struct TargetArgs {
    /// Environment name (the CDK config's `name`). Commands that read a config take the only
    /// medplum.<env>.config.json in --dir without it.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,

    /// Where medplum.<env>.config.json and the state folder .medplum-init/<env>/ live.
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".",
        conflicts_with = "config"
    )]
    pub dir: PathBuf,

    /// The CDK config file, medplum.<env>.config.json: its folder is the --dir and its name
    /// gives the --env.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How to reach AWS.
#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// AWS profile (shared config / SSO).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// Default AWS region when the answers or the config name none.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator such as moto).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// The longest one AWS call may take, its retries included (45s, 2m). An endpoint that
    /// never answers ends the run after this, with the call's name.
    #[arg(long, value_name = "DURATION", env = "MEDPLUM_INIT_AWS_CALL_TIMEOUT",
          value_parser = parse_timeout, default_value = "60s")]
    pub aws_call_timeout: std::time::Duration,

    /// The longest one attempt of an AWS call may take before the SDK retries it (10s, 1m).
    #[arg(long, value_name = "DURATION", env = "MEDPLUM_INIT_AWS_ATTEMPT_TIMEOUT",
          value_parser = parse_timeout, default_value = "15s")]
    pub aws_attempt_timeout: std::time::Duration,
}

/// The clap defaults, for commands made without a command line (the install's deploy).
impl Default for AwsArgs {
    fn default() -> Self {
        Self {
            profile: None,
            region: None,
            endpoint_url: None,
            aws_call_timeout: crate::aws::AwsTimeouts::DEFAULT_CALL,
            aws_attempt_timeout: crate::aws::AwsTimeouts::DEFAULT_ATTEMPT,
        }
    }
}

impl AwsArgs {
    /// `--aws-call-timeout` and `--aws-attempt-timeout` for [`crate::aws::AwsSettings`].
    pub fn timeouts(&self) -> crate::aws::AwsTimeouts {
        crate::aws::AwsTimeouts {
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

#[derive(Debug, Args, Default, Clone)]
pub struct OutputArgs {
    /// How to show progress [default: tui on a terminal, plain otherwise].
    #[arg(long, value_enum)]
    pub output: Option<OutputMode>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct InitArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Answers file (TOML). Makes the run headless: it never prompts.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Plan only: print every AWS call it would make and write the config it would write to
    /// .medplum-init/<env>/dry-run/ for review; no AWS call, no file of yours changed.
    #[arg(long)]
    pub dry_run: bool,

    /// Guided install: also write the answers given to FILE (never secrets), to replay the same
    /// install headless with `--answers FILE --yes`.
    #[arg(long, value_name = "FILE")]
    pub save_answers: Option<PathBuf>,

    /// Write the server parameters without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Run only these steps (repeatable): identity, certificates, signing_key, email,
    /// logging_bucket, bot_layer, config_file, parameters. Without --answers, the same as
    /// `medplum-init step`: the answers come from the journal and the config file, and the plan
    /// is shown first.
    #[arg(long = "only", value_name = "STEP", value_parser = parse_step)]
    pub only: Vec<crate::engine::StepId>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Default, Clone)]
pub struct SynthArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Where to write <stackName>.template.json [default: cdk.out next to the config].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Never call AWS: every lookup must be in cdk.context.json and the config must hold no
    /// external secrets.
    #[arg(long)]
    pub offline: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `diff` and `deploy` share: where the templates come from, who CloudFormation acts as,
/// and how long a stack is followed when reads fail.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// Use the templates in DIR (`<StackName>.template.json`, as `medplum-init synth --out DIR`
    /// writes them) instead of synthesising from the config.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// The IAM role CloudFormation acts as to create, update and delete the stacks' resources
    /// (passed as RoleARN on CreateChangeSet, and on DeleteStack of a stack the deploy deletes).
    /// Your own credentials then need only the CloudFormation calls and iam:PassRole on it.
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn)]
    pub role_arn: Option<String>,

    /// Give up following a stack after this many reads of its events and status in a row fail
    /// (CloudFormation carries on; the command exits 1).
    #[arg(long, value_name = "N", env = "MEDPLUM_INIT_MAX_POLL_FAILURES",
          value_parser = clap::value_parser!(u32).range(1..), default_value_t = DEFAULT_MAX_POLL_FAILURES)]
    pub max_poll_failures: u32,
}

/// The clap defaults, for commands made without a command line (the install's deploy).
impl Default for StackArgs {
    fn default() -> Self {
        Self {
            templates: None,
            role_arn: None,
            max_poll_failures: DEFAULT_MAX_POLL_FAILURES,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub stacks: StackArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub stacks: StackArgs,

    /// Deploy without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

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

    /// Do not publish the web app after the stacks (`medplum-init app` does it later).
    #[arg(long, env = "MEDPLUM_INIT_SKIP_APP", value_parser = clap::builder::FalseyValueParser::new())]
    pub skip_app: bool,

    #[command(flatten)]
    pub app: AppSourceArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

impl DeployArgs {
    /// The deploy that ends an install: the defaults of every option, for one environment;
    /// `yes` when the install's answers were the consent (`[deploy] enabled = true`).
    pub fn for_environment(
        dir: PathBuf,
        env: String,
        yes: bool,
        aws: AwsArgs,
        output: OutputArgs,
    ) -> Self {
        Self {
            target: TargetArgs {
                env: Some(env),
                dir,
                config: None,
            },
            stacks: StackArgs::default(),
            yes,
            // Never allowed from the install: a risky plan there is a surprise, and the refusal
            // says to run `medplum-init deploy --allow-data-risk` after reading the diff.
            allow_data_risk: false,
            timeout: DEFAULT_TIMEOUT,
            diagnose_after: DEFAULT_DIAGNOSE_AFTER,
            // As clap reads `MEDPLUM_INIT_SKIP_APP` for `deploy --skip-app`.
            skip_app: std::env::var("MEDPLUM_INIT_SKIP_APP").is_ok_and(|v| {
                !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "" | "0" | "n" | "no" | "f" | "false" | "off"
                )
            }),
            app: AppSourceArgs::default(),
            aws,
            output,
        }
    }
}

/// The defaults of `deploy`'s `--timeout` and `--diagnose-after` (as the clap defaults say).
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90 * 60);
pub const DEFAULT_DIAGNOSE_AFTER: std::time::Duration = std::time::Duration::from_secs(5 * 60);
pub const DEFAULT_MAX_POLL_FAILURES: u32 = 10;

fn parse_role_arn(s: &str) -> Result<String, String> {
    crate::deploy::cfn::check_role_arn(s).map(|()| s.to_string())
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::deploy::clock::parse_duration(s)
}

fn parse_step(s: &str) -> Result<crate::engine::StepId, String> {
    if s == "config" {
        return Ok(crate::engine::StepId::ConfigFile);
    }
    crate::engine::StepId::parse(s).ok_or_else(|| {
        let all: Vec<_> = crate::engine::StepId::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        format!("unknown step '{s}'; steps are {}", all.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_clap_defaults_are_the_constants() {
        let cli = Cli::try_parse_from(["medplum-init", "deploy"]).unwrap();
        let Some(Command::Deploy(d)) = cli.command else {
            panic!("deploy")
        };
        assert_eq!(d.timeout, DEFAULT_TIMEOUT);
        assert_eq!(d.diagnose_after, DEFAULT_DIAGNOSE_AFTER);
        // And the hand-written defaults are the clap ones.
        let manual = DeployArgs::for_environment(
            ".".into(),
            "x".into(),
            false,
            AwsArgs::default(),
            OutputArgs::default(),
        );
        assert_eq!(manual.stacks.max_poll_failures, d.stacks.max_poll_failures);
        assert_eq!(manual.aws.timeouts(), d.aws.timeouts());
    }
}
