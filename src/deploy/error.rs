//! What can stop a deploy or a diff, each with a hint the user can act on.

use crate::aws::AwsError;
use crate::error::Diagnostic;
use crate::outcome::Outcome;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{stack}: {source}")]
    Aws {
        stack: String,
        #[source]
        source: Box<AwsError>,
    },
    #[error("the change set for {stack} failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error("{stack} is busy ({status}): another operation is running on it")]
    StackBusy { stack: String, status: String },
    #[error("{stack} is in {status} and cannot be deployed to as it is")]
    StackNeedsAttention {
        stack: String,
        status: String,
        hint: String,
    },
    #[error(
        "the template of {stack} is {size} bytes; CloudFormation accepts at most 1,048,576 bytes"
    )]
    TemplateTooLarge { stack: String, size: usize },
    #[error("staging bucket {bucket}: {message}")]
    Staging {
        bucket: String,
        message: String,
        hint: Option<String>,
    },
    #[error("{what} did not finish within {minutes} minutes")]
    Timeout { what: String, minutes: u64 },
    /// A change set made during the deploy (after the stack it depends on finished) puts stored
    /// data at risk, and `--allow-data-risk` was not given.
    #[error("not deploying {stack}: its change set puts stored data at risk ({})", resources.join(", "))]
    DataAtRisk {
        stack: String,
        resources: Vec<String>,
    },
    /// ExecuteChangeSet would be refused: the change set is not AVAILABLE.
    #[error("the change set for {stack} cannot be executed: its execution status is {status}")]
    ChangeSetNotExecutable { stack: String, status: String },
    /// Ctrl-C while following an operation that was already running.
    #[error("interrupted while following the operation already running on {stack}")]
    Interrupted { stack: String },
    /// Neither the stack's events nor its status could be read, `reads` times in a row
    /// (`--max-poll-failures`): the endpoint is gone or hangs. CloudFormation carries on.
    #[error(
        "lost track of {stack}: {reads} reads of its events and status in a row failed; the last: {source}"
    )]
    Unreadable {
        stack: String,
        reads: u32,
        #[source]
        source: Box<AwsError>,
    },
    /// A stack's input names an output the earlier stack does not have.
    #[error("{stack} needs output {output} of {from_stack}, which that stack does not have")]
    MissingInput {
        stack: String,
        from_stack: String,
        output: String,
    },
}

impl DeployError {
    pub fn aws(stack: &str, source: AwsError) -> Self {
        DeployError::Aws {
            stack: stack.to_string(),
            source: Box::new(source),
        }
    }

    pub fn unreadable(stack: &str, reads: u32, source: AwsError) -> Self {
        DeployError::Unreadable {
            stack: stack.to_string(),
            reads,
            source: Box::new(source),
        }
    }
}

impl Diagnostic for DeployError {
    fn outcome(&self) -> Outcome {
        match self {
            // The same refusal as the plan's, only later: a usage decision, not a failure.
            DeployError::DataAtRisk { .. } => Outcome::Invalid,
            DeployError::Interrupted { .. } => Outcome::Interrupted,
            _ => Outcome::Failed,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DeployError::Aws { source, .. } => source.hint(),
            DeployError::ChangeSetFailed { .. } => Some(
                "CloudFormation rejected the template before changing anything; fix the config and run the same command again".into(),
            ),
            DeployError::StackBusy { stack, .. } => Some(format!(
                "an operation is running on {stack}: `medplum-init deploy` follows it to its end and then plans from where it settled; or wait for it (CloudFormation console) and re-run"
            )),
            DeployError::DataAtRisk { .. } => Some(
                "nothing of this stack was executed; keep the config values the diff names, or, having made a backup, run `medplum-init deploy --allow-data-risk`".into(),
            ),
            DeployError::ChangeSetNotExecutable { .. } => Some(
                "the change set was executed or replaced by someone else meanwhile; run the same command again to plan from the stack's current state".into(),
            ),
            DeployError::Interrupted { .. } => Some(
                "CloudFormation continues on its own; run `medplum-init deploy` again to follow it and deploy".into(),
            ),
            DeployError::StackNeedsAttention { hint, .. } => Some(hint.clone()),
            DeployError::MissingInput { from_stack, .. } => Some(format!(
                "deploy with templates from one synth (the stacks pass values to each other), and check that {from_stack} finished"
            )),
            DeployError::TemplateTooLarge { .. } => Some(
                "disable optional features (extra containers, worker services) to shrink the template".into(),
            ),
            DeployError::Staging { hint, .. } => hint.clone(),
            DeployError::Unreadable { source, .. } => Some(format!(
                "CloudFormation carries on with the stack on its own. {}; once AWS answers again, run `medplum-init deploy` again: it follows the running operation to its end (--max-poll-failures allows more failed reads)",
                source.hint().unwrap_or_else(|| "Check the network and --endpoint-url".into())
            )),
            DeployError::Timeout { .. } => Some(
                "CloudFormation continues on its own; check the stack in the console, then run the same command again".into(),
            ),
        }
    }
}
