//! Waiting for a stack name to be free again: after the engine deletes a stack (a failed first
//! create in ROLLBACK_COMPLETE), CloudFormation keeps the name in DELETE_IN_PROGRESS for a while,
//! and a change set made meanwhile fails. The stack is polled by id (the name stops answering
//! once it is deleted) until DELETE_COMPLETE.

use std::time::Duration;

use super::cfn::CloudFormation;
use super::clock::Clock;
use super::error::DeployError;
use crate::aws::AwsErrorKind;

/// Polls `stack_id` until it is DELETE_COMPLETE (or gone). A delete that fails or does not end
/// within `timeout` is an error with the status it stopped at.
pub async fn wait_deleted(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    stack: &str,
    stack_id: &str,
    timeout: Duration,
) -> Result<(), DeployError> {
    let started = clock.now_ms();
    let mut wait = Duration::from_secs(2);
    loop {
        match cfn.describe_stack(stack_id).await {
            Ok(None) => return Ok(()),
            Ok(Some(info)) if info.status == "DELETE_COMPLETE" => return Ok(()),
            Ok(Some(info)) if info.status == "DELETE_IN_PROGRESS" => {}
            Ok(Some(info)) => {
                return Err(DeployError::StackNeedsAttention {
                    stack: stack.into(),
                    status: info.status,
                    hint: format!(
                        "the delete of {stack} did not complete; see its events in the CloudFormation console, delete it (`aws cloudformation delete-stack --stack-name {stack} --retain-resources <logical ids>`), then re-run"
                    ),
                });
            }
            Err(e) if e.kind == AwsErrorKind::Throttled => {}
            Err(e) => return Err(DeployError::aws(stack, e)),
        }
        if clock.now_ms() - started > timeout.as_millis() as i64 {
            return Err(DeployError::Timeout {
                what: format!("the delete of {stack}"),
                minutes: timeout.as_secs() / 60,
            });
        }
        clock.sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}
