//! Executing a change set so that a retry or a lost answer cannot be mistaken for a failure.
//!
//! * Every ExecuteChangeSet carries a ClientRequestToken derived from the change set's id
//!   ([`request_token`]): the same change set always gets the same token, so CloudFormation
//!   recognises a retried call, and the stack events the operation causes carry it.
//! * Before the call, the change set's ExecutionStatus must be AVAILABLE: CloudFormation briefly
//!   says UNAVAILABLE after computing it (we wait), and any other status (executed, obsolete,
//!   failed) means someone else moved the stack on (we refuse, saying so).
//! * After an error, the stack is read before the error counts: when its latest stack event
//!   carries our token, our operation started (the first attempt went through and the answer
//!   was lost, or the SDK's retry was refused as a duplicate), and the deploy follows it.
//!
//! The call itself passes `RetainExceptOnCreate` (see [`super::cfn::SdkCloudFormation`]).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cfn::CloudFormation;
use super::changeset::PreparedChangeSet;
use super::clock::Clock;
use super::error::DeployError;
use super::event::DeploySink;
use crate::aws::AwsErrorKind;

/// How long a change set may stay UNAVAILABLE before we give up.
pub const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `medplum-init-<32 hex>`: deterministic per change set (CloudFormation allows 128 characters of
/// `[a-zA-Z0-9-]`).
pub fn request_token(change_set_id: &str) -> String {
    let digest = Sha256::digest(change_set_id.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("medplum-init-{hex}")
}

/// Waits until the change set can be executed. `None` (an emulator that does not report it)
/// reads as available: nothing says otherwise.
pub async fn wait_available(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    cs: &PreparedChangeSet,
) -> Result<(), DeployError> {
    let started = clock.now_ms();
    let mut wait = Duration::from_secs(1);
    loop {
        match cfn.describe_change_set(&cs.stack_id, &cs.id).await {
            Ok(info) => match info.execution_status.as_deref() {
                None | Some("AVAILABLE") => return Ok(()),
                // Computing, or just computed: CloudFormation makes it available shortly.
                Some("UNAVAILABLE")
                    if matches!(
                        info.status.as_str(),
                        "CREATE_PENDING" | "CREATE_IN_PROGRESS" | "CREATE_COMPLETE"
                    ) => {}
                Some(other) => {
                    return Err(DeployError::ChangeSetNotExecutable {
                        stack: cs.stack.clone(),
                        status: match &info.reason {
                            Some(r) => format!("{other} ({}: {r})", info.status),
                            None => format!("{other} ({})", info.status),
                        },
                    });
                }
            },
            Err(e) if e.kind == AwsErrorKind::Throttled => {}
            Err(e) => return Err(DeployError::aws(&cs.stack, e)),
        }
        if clock.now_ms() - started > AVAILABLE_TIMEOUT.as_millis() as i64 {
            return Err(DeployError::Timeout {
                what: format!("the change set for {} to become executable", cs.stack),
                minutes: AVAILABLE_TIMEOUT.as_secs() / 60,
            });
        }
        clock.sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}

/// True when the stack's latest own event carries `token`: the operation we asked for started.
async fn started_by(cfn: &dyn CloudFormation, stack_id: &str, token: &str) -> bool {
    let Ok(page) = cfn.stack_events(stack_id, None).await else {
        return false;
    };
    page.events
        .iter()
        .find(|e| e.is_stack())
        .is_some_and(|e| e.client_request_token.as_deref() == Some(token))
}

/// Executes `cs` (waiting for it to be AVAILABLE first). `Ok` once CloudFormation has started
/// the operation, even when the call's own answer was an error.
pub async fn run(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    sink: &DeploySink,
    cs: &PreparedChangeSet,
) -> Result<(), DeployError> {
    wait_available(cfn, clock, cs).await?;
    let token = request_token(&cs.id);
    let Err(e) = cfn.execute_change_set(&cs.stack_id, &cs.id, &token).await else {
        return Ok(());
    };
    // The answer may be lost or a retry refused although the first attempt went through: the
    // stack's events say whether our operation started.
    if started_by(cfn, &cs.stack_id, &token).await {
        sink.note(
            Some(&cs.stack),
            format!(
                "ExecuteChangeSet answered \"{}\", but {} shows the operation started; following it",
                e.message, cs.stack
            ),
        );
        return Ok(());
    }
    Err(DeployError::aws(&cs.stack, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_stable_per_change_set_and_valid_for_cloudformation() {
        let a = request_token("arn:aws:cloudformation:us-east-1:1:changeSet/medplum-init-1/x");
        assert_eq!(
            a,
            request_token("arn:aws:cloudformation:us-east-1:1:changeSet/medplum-init-1/x")
        );
        assert_ne!(
            a,
            request_token("arn:aws:cloudformation:us-east-1:1:changeSet/medplum-init-2/y")
        );
        assert!(a.len() <= 128);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
