//! Change sets: how a stack's deploy is decided (CREATE or UPDATE, or why not), created, waited
//! for, read as a diff, and cleaned up when not executed.
//!
//! A diff must leave nothing behind: a CREATE change set makes an empty stack in
//! REVIEW_IN_PROGRESS that CloudFormation keeps until deleted, so [`discard`] deletes that stack
//! too (and only when it is still that empty shell).

use std::time::Duration;

use serde::Serialize;

use super::StackTemplate;
use super::cfn::{ChangeSetRequest, CloudFormation, StackInfo};
use super::clock::{Clock, EpochMs};
use super::error::DeployError;
use super::guard::{self, Risk};
use super::staging::TemplateSource;
use crate::aws::AwsErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSetKind {
    Create,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Add,
    Modify,
    Remove,
    Import,
    /// Decided only at execution (a dynamic reference changed).
    Dynamic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    Never,
    /// CloudFormation replaces it if a value known only at execution changed.
    Conditional,
    Always,
}

/// One row of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub resource_type: String,
    /// Only for Modify; `None` when the service did not say (moto never does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    /// Properties whose change forces (or may force) the replacement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacing_properties: Vec<String>,
    /// What changed: Properties, Metadata, Tags, ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// The properties a Modify sets, with values when CloudFormation gives them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyChange>,
}

/// One property of a modified resource. The values come from DescribeChangeSet with
/// IncludePropertyValues, as CloudFormation renders them (a string, or JSON for an object);
/// `None` when it does not say (moto never does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyChange {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl ResourceChange {
    pub fn replaces(&self) -> bool {
        self.action == ChangeAction::Modify && self.replacement == Some(Replacement::Always)
    }
    pub fn may_replace(&self) -> bool {
        self.action == ChangeAction::Modify && self.replacement == Some(Replacement::Conditional)
    }
}

/// The diff of one stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackDiff {
    pub stack: String,
    pub region: String,
    pub kind: ChangeSetKind,
    pub changes: Vec<ResourceChange>,
    /// Something the user should know about this stack's plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What in this plan touches stored data ([`super::guard`]), blocking ones first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub maybe_replace: usize,
    pub remove: usize,
}

impl DiffSummary {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a ResourceChange>) -> Self {
        let mut s = Self::default();
        for c in changes {
            match c.action {
                ChangeAction::Add | ChangeAction::Import => s.add += 1,
                ChangeAction::Modify | ChangeAction::Dynamic => {
                    s.change += 1;
                    s.replace += usize::from(c.replaces());
                    s.maybe_replace += usize::from(c.may_replace());
                }
                ChangeAction::Remove => s.remove += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.add + self.change + self.remove
    }

    /// `2 to add, 1 to change (1 replacement), 0 to remove`.
    pub fn line(&self) -> String {
        let mut extra = Vec::new();
        if self.replace > 0 {
            let s = if self.replace == 1 { "" } else { "s" };
            extra.push(format!("{} replacement{s}", self.replace));
        }
        if self.maybe_replace > 0 {
            extra.push(format!("{} may be replaced", self.maybe_replace));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        format!(
            "{} to add, {} to change{extra}, {} to remove",
            self.add, self.change, self.remove
        )
    }
}

impl StackDiff {
    pub fn summary(&self) -> DiffSummary {
        DiffSummary::of(&self.changes)
    }
}

/// What a stack's current state means for the next deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackState {
    /// No such stack: a CREATE change set.
    New,
    /// An empty shell left by an earlier change set (REVIEW_IN_PROGRESS): still a CREATE.
    Review,
    /// A deployed stack: an UPDATE change set.
    Deployed(StackInfo),
    /// A first create failed and rolled back (ROLLBACK_COMPLETE): CloudFormation cannot update
    /// it; it must be deleted and created again. It holds no resources.
    FailedCreate(StackInfo),
}

impl StackState {
    pub fn kind(&self) -> ChangeSetKind {
        match self {
            StackState::Deployed(_) => ChangeSetKind::Update,
            _ => ChangeSetKind::Create,
        }
    }
}

/// Classifies DescribeStacks' answer, refusing states no deploy can start from. Every status
/// CloudFormation documents has its own arm (the tests enumerate the SDK's list), so a status
/// added later is refused as unknown instead of being deployed to by accident.
pub fn classify(stack: &str, info: Option<StackInfo>) -> Result<StackState, DeployError> {
    let Some(info) = info else {
        return Ok(StackState::New);
    };
    let attention = |hint: String| DeployError::StackNeedsAttention {
        stack: stack.into(),
        status: info.status.clone(),
        hint,
    };
    let busy = || DeployError::StackBusy {
        stack: stack.into(),
        status: info.status.clone(),
    };
    match info.status.as_str() {
        // Read by id after a delete: the name is free.
        "DELETE_COMPLETE" => Ok(StackState::New),
        "REVIEW_IN_PROGRESS" => Ok(StackState::Review),
        "ROLLBACK_COMPLETE" => Ok(StackState::FailedCreate(info)),
        // Deployed, or back to the last deployed state: an update starts from there.
        "CREATE_COMPLETE"
        | "UPDATE_COMPLETE"
        | "UPDATE_ROLLBACK_COMPLETE"
        | "IMPORT_COMPLETE"
        | "IMPORT_ROLLBACK_COMPLETE" => Ok(StackState::Deployed(info)),
        // Something is running: a deploy follows it to its end (`deploy`), a diff refuses.
        "CREATE_IN_PROGRESS"
        | "UPDATE_IN_PROGRESS"
        | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        | "ROLLBACK_IN_PROGRESS"
        | "UPDATE_ROLLBACK_IN_PROGRESS"
        | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        | "DELETE_IN_PROGRESS"
        | "IMPORT_IN_PROGRESS"
        | "IMPORT_ROLLBACK_IN_PROGRESS" => Err(busy()),
        "UPDATE_ROLLBACK_FAILED" => Err(attention(format!(
            "continue the rollback first: `aws cloudformation continue-update-rollback --stack-name {stack}` (with `--resources-to-skip` for resources that cannot roll back), then re-run"
        ))),
        "IMPORT_ROLLBACK_FAILED" => Err(attention(format!(
            "fix the resources the import could not roll back (CloudFormation console, Events tab of {stack}), then `aws cloudformation continue-update-rollback --stack-name {stack}` and re-run"
        ))),
        // Only with rollback disabled, which medplum-init never asks for.
        "UPDATE_FAILED" => Err(attention(format!(
            "roll the failed update back: `aws cloudformation rollback-stack --stack-name {stack}`, then re-run"
        ))),
        "CREATE_FAILED" => Err(attention(format!(
            "the first create failed with rollback disabled; delete what it made: `aws cloudformation delete-stack --stack-name {stack}`, wait for DELETE_COMPLETE, then re-run"
        ))),
        "ROLLBACK_FAILED" => Err(attention(format!(
            "the failed create could not be rolled back; delete the stack keeping what cannot be deleted: `aws cloudformation delete-stack --stack-name {stack} --retain-resources <logical ids from the Events tab>`, then re-run"
        ))),
        "DELETE_FAILED" => Err(attention(format!(
            "a delete of {stack} failed; empty or fix the resources named in its events (a non-empty bucket, say) and delete again, or `aws cloudformation delete-stack --stack-name {stack} --retain-resources <logical ids>`, then re-run"
        ))),
        other => Err(attention(format!(
            "{other} is a stack status medplum-init does not know; check {stack} in the CloudFormation console and bring it to a *_COMPLETE status, then re-run"
        ))),
    }
}

/// A change set that exists in CloudFormation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedChangeSet {
    pub stack: String,
    pub region: String,
    pub name: String,
    pub id: String,
    pub stack_id: String,
    pub kind: ChangeSetKind,
    pub created_ms: EpochMs,
    /// The stack is an empty REVIEW_IN_PROGRESS shell: delete it when not executing.
    pub review_stack: bool,
}

/// A change-set name unique per run: `medplum-init-<unix seconds>`.
pub fn change_set_name(now_ms: EpochMs) -> String {
    format!("medplum-init-{}", now_ms / 1000)
}

/// Every resource of the template as an Add: the diff of a stack that does not exist, computed
/// without asking CloudFormation (used when a failed first create must be deleted first).
pub fn all_added(template: &StackTemplate) -> Vec<ResourceChange> {
    template
        .template
        .get("Resources")
        .and_then(|r| r.as_object())
        .map(|res| {
            res.iter()
                .map(|(id, r)| ResourceChange {
                    action: ChangeAction::Add,
                    logical_id: id.clone(),
                    resource_type: r
                        .get("Type")
                        .and_then(|t| t.as_str())
                        .unwrap_or("?")
                        .to_string(),
                    replacement: None,
                    replacing_properties: Vec::new(),
                    scope: Vec::new(),
                    properties: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// True when a FAILED change set only means "nothing to change". Real CloudFormation fails an
/// empty change set with one of these reasons (moto instead completes it with no changes).
pub fn is_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes")
        || reason.contains("No updates are to be performed")
        || reason.contains("does not contain changes")
}

/// The longest we wait for CloudFormation to compute a change set.
const CREATE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Creates a change set, waits until CloudFormation has computed it, and reads it. Returns the
/// change set (which exists until executed or discarded) and its diff; an empty diff means
/// nothing would change.
pub async fn create(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    template: &StackTemplate,
    source: &TemplateSource,
    state: &StackState,
    parameters: &[(String, String)],
    role_arn: Option<&str>,
) -> Result<(PreparedChangeSet, StackDiff), DeployError> {
    let stack = template.name.as_str();
    let kind = state.kind();
    let name = change_set_name(clock.now_ms());
    let req = ChangeSetRequest {
        stack_name: stack.to_string(),
        change_set_name: name.clone(),
        kind,
        template: source.clone(),
        tags: template.tags.clone(),
        parameters: parameters.to_vec(),
        description: "medplum-init deploy".into(),
        role_arn: role_arn.map(str::to_string),
    };
    let ids = cfn
        .create_change_set(&req)
        .await
        .map_err(|e| DeployError::aws(stack, e))?;
    let mut prepared = PreparedChangeSet {
        stack: stack.to_string(),
        region: cfn.region().to_string(),
        name,
        id: ids.id,
        stack_id: ids.stack_id,
        kind,
        created_ms: clock.now_ms(),
        review_stack: kind == ChangeSetKind::Create,
    };
    let info = match wait_computed(cfn, clock, &prepared).await {
        Ok(i) => i,
        Err(e) => {
            let _ = discard(cfn, &prepared).await;
            return Err(e);
        }
    };
    if let Some(t) = info.created_ms {
        prepared.created_ms = t;
    }
    let diff = StackDiff {
        stack: stack.to_string(),
        region: prepared.region.clone(),
        kind,
        risks: guard::assess(&template.template, &info.changes),
        changes: info.changes,
        note: None,
    };
    Ok((prepared, diff))
}

async fn wait_computed(
    cfn: &dyn CloudFormation,
    clock: &dyn Clock,
    cs: &PreparedChangeSet,
) -> Result<super::cfn::ChangeSetInfo, DeployError> {
    let started = clock.now_ms();
    let mut poll = Duration::from_millis(500);
    let mut throttles = 0u32;
    loop {
        let mut wait = poll;
        match cfn.describe_change_set(&cs.stack, &cs.id).await {
            Ok(info) => {
                throttles = 0;
                match info.status.as_str() {
                    "CREATE_COMPLETE" => return Ok(info),
                    "FAILED" => {
                        let reason = info.reason.clone().unwrap_or_default();
                        if is_no_changes(&reason) {
                            return Ok(super::cfn::ChangeSetInfo {
                                changes: Vec::new(),
                                ..info
                            });
                        }
                        return Err(DeployError::ChangeSetFailed {
                            stack: cs.stack.clone(),
                            reason,
                        });
                    }
                    _ => {}
                }
            }
            // Throttled while waiting: back off; anything else ends the wait.
            Err(e) if e.kind == AwsErrorKind::Throttled => {
                throttles += 1;
                wait = (Duration::from_secs(2) * 2u32.pow(throttles.min(5))).min(MAX_DELAY);
            }
            Err(e) => return Err(DeployError::aws(&cs.stack, e)),
        }
        if clock.now_ms() - started > CREATE_TIMEOUT.as_millis() as i64 {
            return Err(DeployError::Timeout {
                what: format!("the change set for {}", cs.stack),
                minutes: CREATE_TIMEOUT.as_secs() / 60,
            });
        }
        clock.sleep(wait).await;
        poll = (poll * 2).min(Duration::from_secs(5));
    }
}

const MAX_DELAY: Duration = Duration::from_secs(32);

/// Deletes a change set that will not be executed, and the empty REVIEW_IN_PROGRESS stack a
/// CREATE change set leaves behind (only if it is still that shell: never a deployed stack).
pub async fn discard(cfn: &dyn CloudFormation, cs: &PreparedChangeSet) -> Result<(), DeployError> {
    let stack = cs.stack.as_str();
    match cfn.delete_change_set(&cs.stack_id, &cs.id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(DeployError::aws(stack, e)),
    }
    if cs.review_stack {
        let info = cfn
            .describe_stack(&cs.stack_id)
            .await
            .map_err(|e| DeployError::aws(stack, e))?;
        if info.is_some_and(|i| i.status == "REVIEW_IN_PROGRESS") {
            // An empty shell: nothing for a service role to do.
            cfn.delete_stack(&cs.stack_id, None)
                .await
                .map_err(|e| DeployError::aws(stack, e))?;
        }
    }
    Ok(())
}

/// [`discard`] for a change set that may not exist.
pub async fn discard_opt(
    cfn: &dyn CloudFormation,
    cs: Option<&PreparedChangeSet>,
) -> Result<(), DeployError> {
    match cs {
        Some(cs) => discard(cfn, cs).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    fn change(action: ChangeAction, replacement: Option<Replacement>) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: "X".into(),
            resource_type: "AWS::S3::Bucket".into(),
            replacement,
            replacing_properties: vec![],
            scope: vec![],
            properties: Vec::new(),
        }
    }

    #[test]
    fn summary_line_counts_replacements() {
        let changes = [
            change(ChangeAction::Add, None),
            change(ChangeAction::Add, None),
            change(ChangeAction::Modify, Some(Replacement::Always)),
        ];
        assert_eq!(
            DiffSummary::of(&changes).line(),
            "2 to add, 1 to change (1 replacement), 0 to remove"
        );
        let changes = [
            change(ChangeAction::Modify, Some(Replacement::Conditional)),
            change(ChangeAction::Remove, None),
        ];
        assert_eq!(
            DiffSummary::of(&changes).line(),
            "0 to add, 1 to change (1 may be replaced), 1 to remove"
        );
    }

    #[test]
    fn stack_states_decide_the_change_set_type() {
        let info = |s: &str| {
            Some(StackInfo {
                status: s.into(),
                ..Default::default()
            })
        };
        assert_eq!(classify("S", None).unwrap(), StackState::New);
        assert_eq!(
            classify("S", info("REVIEW_IN_PROGRESS")).unwrap().kind(),
            ChangeSetKind::Create
        );
        assert_eq!(
            classify("S", info("UPDATE_ROLLBACK_COMPLETE"))
                .unwrap()
                .kind(),
            ChangeSetKind::Update
        );
        assert!(matches!(
            classify("S", info("ROLLBACK_COMPLETE")).unwrap(),
            StackState::FailedCreate(_)
        ));
        assert!(matches!(
            classify("S", info("UPDATE_IN_PROGRESS")),
            Err(DeployError::StackBusy { .. })
        ));
        let err = classify("S", info("UPDATE_ROLLBACK_FAILED")).unwrap_err();
        assert!(err.hint().unwrap().contains("continue-update-rollback"));
    }

    #[test]
    fn every_documented_stack_status_is_classified_on_purpose() {
        use aws_sdk_cloudformation::types::StackStatus;
        let info = |s: &str| {
            Some(StackInfo {
                status: s.into(),
                ..Default::default()
            })
        };
        let unknown = classify("S", info("SOMETHING_NEW")).unwrap_err();
        let unknown_hint = |e: &DeployError| e.hint().unwrap_or_default().contains("does not know");
        assert!(unknown_hint(&unknown));
        for st in StackStatus::values() {
            match classify("S", info(st)) {
                Ok(state) => assert!(
                    !st.ends_with("_IN_PROGRESS") || *st == "REVIEW_IN_PROGRESS",
                    "{st} is busy, not {state:?}"
                ),
                Err(DeployError::StackBusy { .. }) => {
                    assert!(st.ends_with("_IN_PROGRESS"), "{st}")
                }
                Err(e @ DeployError::StackNeedsAttention { .. }) => {
                    assert!(!unknown_hint(&e), "{st} fell through to the unknown arm");
                    assert!(
                        e.hint().unwrap().contains("aws cloudformation"),
                        "{st}: the fix names the CLI action: {:?}",
                        e.hint()
                    );
                }
                Err(e) => panic!("{st}: {e}"),
            }
        }
        assert!(matches!(
            classify("S", info("IMPORT_ROLLBACK_COMPLETE")).unwrap(),
            StackState::Deployed(_)
        ));
        assert_eq!(
            classify("S", info("DELETE_COMPLETE")).unwrap(),
            StackState::New
        );
        let e = classify("S", info("UPDATE_FAILED")).unwrap_err();
        assert!(e.hint().unwrap().contains("rollback-stack --stack-name S"));
        let e = classify("S", info("ROLLBACK_FAILED")).unwrap_err();
        assert!(e.hint().unwrap().contains("--retain-resources"));
    }

    #[test]
    fn the_reference_template_diffs_as_all_adds() {
        let template: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/reference/MedplumStagingStack.template.json"
        ))
        .unwrap();
        let t = StackTemplate {
            name: "MedplumStagingStack".into(),
            region: "us-east-1".into(),
            template,
            tags: vec![],
            inputs: Vec::new(),
        };
        let adds = all_added(&t);
        assert_eq!(adds.len(), 81);
        assert_eq!(
            DiffSummary::of(&adds).line(),
            "81 to add, 0 to change, 0 to remove"
        );
    }

    #[test]
    fn empty_change_set_reasons() {
        assert!(is_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_no_changes("Template format error: unresolved resource"));
    }
}
