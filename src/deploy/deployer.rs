//! The deployer: stacks in order (the primary stack, then `<stackName>-us-east-1`), in three
//! phases a front end can put a confirmation between:
//!
//! 1. [`Deployer::plan`] ([`super::plan`]) settles each stack (following an operation already
//!    running on it), stages large templates, creates one change set per stack (CREATE for a new
//!    stack, UPDATE otherwise) where one can be made, and reports each diff;
//! 2. [`Deployer::discard`] deletes those change sets (and the empty stacks CREATE change sets
//!    leave) when the user says no, or when the plan was only a diff;
//! 3. [`Deployer::apply`] runs them one stack at a time: it first makes the change sets that
//!    had to wait (inputs from a stack deployed just before, a failed stack to delete first)
//!    and checks them against the data-risk guard, executes ([`super::execute`]), and watches
//!    events until each stack settles. Ctrl-C asks CloudFormation to cancel the update, or
//!    deletes a stack being created, and keeps watching until that has happened too.
//!
//! Nothing here prints or prompts; everything is a [`DeployEvent`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::StackTemplate;
use super::cfn::{CloudFormation, SdkCloudFormation, StackInfo, status};
use super::changeset::{
    self, ChangeSetKind, DiffSummary, PreparedChangeSet, StackDiff, StackState,
};
use super::clock::Clock;
use super::diagnose::{ServiceDiagnostics, ServiceWatch};
use super::error::DeployError;
use super::event::{CancelAction, DeployEvent, DeploySink, FailureRecap, PlannedResource, Time};
use super::guard::{Risk, Severity};
use super::leftovers::{self, EmptyBuckets, Removal, S3EmptyBuckets};
use super::monitor::{PollPolicy, Watch, WatchEnd, final_status};
use super::staging::{S3TemplateStore, TemplateSource, TemplateStore};
use crate::aws::AwsClients;
use crate::engine::Cancel;

/// The CloudFormation client of each region a deploy touches, and the staging store.
#[derive(Clone)]
pub struct Backends {
    pub cloudformation: BTreeMap<String, Arc<dyn CloudFormation>>,
    pub store: Arc<dyn TemplateStore>,
    /// ECS lookups for a service that does not stabilise; `None`: no diagnosis.
    pub diagnostics: Option<Arc<dyn ServiceDiagnostics>>,
    /// Removes the empty buckets a cancelled create's delete kept; `None`: they stay.
    pub empty_buckets: Option<Arc<dyn EmptyBuckets>>,
}

impl Backends {
    /// SDK clients for every region of `stacks`, and the S3 staging bucket.
    pub fn from_aws(aws: &AwsClients, stacks: &[StackTemplate]) -> Self {
        let mut cloudformation: BTreeMap<String, Arc<dyn CloudFormation>> = BTreeMap::new();
        for s in stacks {
            cloudformation
                .entry(s.region.clone())
                .or_insert_with(|| Arc::new(SdkCloudFormation::new(aws, &s.region)));
        }
        Self {
            cloudformation,
            store: Arc::new(S3TemplateStore::new(aws.clone())),
            diagnostics: Some(Arc::new(super::diagnose_ecs::EcsDiagnostics::new(
                aws.clone(),
            ))),
            empty_buckets: Some(Arc::new(S3EmptyBuckets::new(aws.clone()))),
        }
    }

    pub(super) fn cfn(&self, region: &str) -> &dyn CloudFormation {
        self.cloudformation
            .get(region)
            .unwrap_or_else(|| panic!("no CloudFormation client for {region}"))
            .as_ref()
    }
}

/// One stack's part of a plan.
#[derive(Debug, Clone)]
pub struct PlannedStack {
    pub template: StackTemplate,
    pub diff: StackDiff,
    /// The change set to execute; `None` when it is made during the deploy: its inputs are
    /// outputs of a stack deployed just before, or a failed first create is deleted first.
    pub change_set: Option<PreparedChangeSet>,
    /// A stack in ROLLBACK_COMPLETE that is deleted before it is created again.
    pub replace_failed: Option<StackInfo>,
    /// The stack before this deploy, if it was deployed.
    pub existing: Option<StackInfo>,
    /// The change set is made during the deploy; the diff shown is the template's.
    pub deferred: bool,
    pub(super) state: StackState,
    pub(super) source: TemplateSource,
    /// Values of the template's inputs the change set was (or will be) made with; inputs whose
    /// value is not known yet are absent.
    pub(super) parameters: Vec<(String, String)>,
}

impl PlannedStack {
    /// True when this stack's part of the plan changes something (or may: a deferred change
    /// set of a deployed stack is known only during the deploy).
    pub fn has_changes(&self) -> bool {
        self.deferred || !self.diff.changes.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub stacks: Vec<PlannedStack>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.stacks.iter().any(PlannedStack::has_changes)
    }
    pub fn diffs(&self) -> Vec<StackDiff> {
        self.stacks.iter().map(|s| s.diff.clone()).collect()
    }
    pub fn summary(&self) -> DiffSummary {
        DiffSummary::of(self.stacks.iter().flat_map(|s| &s.diff.changes))
    }
    /// The risks a deploy refuses unless allowed ([`super::guard`]).
    pub fn blocking_risks(&self) -> Vec<&Risk> {
        self.stacks
            .iter()
            .flat_map(|s| &s.diff.risks)
            .filter(|r| r.severity == Severity::Blocking)
            .collect()
    }
}

/// How one stack ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResult {
    pub name: String,
    pub region: String,
    pub stack_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    /// False when it had nothing to change (or was not reached).
    pub changed: bool,
}

#[derive(Debug, Default)]
pub struct DeployReport {
    pub ok: bool,
    pub cancelled: bool,
    pub stacks: Vec<StackResult>,
    pub failures: Vec<FailureRecap>,
    /// What stopped the deploy outside CloudFormation's own statuses.
    pub error: Option<DeployError>,
}

/// What a deploy may do beyond the plan's defaults (the command line's options).
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Execute change sets made during the deploy even when they put stored data at risk.
    pub allow_data_risk: bool,
    /// Follow an operation already running on a stack to its end, then plan (deploy); when
    /// false such a stack is refused as busy (diff).
    pub attach_busy: bool,
    /// The service role CloudFormation acts as (CreateChangeSet, and DeleteStack of a stack the
    /// engine deletes).
    pub role_arn: Option<String>,
    /// The longest any one wait on a stack lasts (an operation followed, a delete, an execution).
    pub timeout: Duration,
    /// How long an ECS service may stay in progress before its events and stopped tasks are
    /// read and shown ([`super::diagnose`]).
    pub diagnose_after: Duration,
    /// Failed reads in a row before a watch gives up (`--max-poll-failures`).
    pub max_poll_failures: u32,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            allow_data_risk: false,
            attach_busy: false,
            role_arn: None,
            timeout: Duration::from_secs(90 * 60),
            diagnose_after: Duration::from_secs(5 * 60),
            max_poll_failures: PollPolicy::MAX_FAILURES,
        }
    }
}

pub struct Deployer<'a> {
    pub(super) backends: &'a Backends,
    pub(super) clock: &'a dyn Clock,
    pub(super) sink: DeploySink,
    policy: Option<(PollPolicy, u64)>,
    pub(super) options: DeployOptions,
    /// Ctrl-C while planning (following a busy stack).
    pub(super) cancel: Option<Cancel>,
}

fn planned_rows(diff: &StackDiff) -> Vec<PlannedResource> {
    diff.changes
        .iter()
        .map(|c| PlannedResource {
            logical_id: c.logical_id.clone(),
            resource_type: c.resource_type.clone(),
            action: c.action,
            replaces: c.replaces(),
        })
        .collect()
}

impl<'a> Deployer<'a> {
    pub fn new(backends: &'a Backends, clock: &'a dyn Clock, sink: DeploySink) -> Self {
        Self {
            backends,
            clock,
            sink,
            policy: None,
            options: DeployOptions::default(),
            cancel: None,
        }
    }

    /// A fixed polling policy and jitter seed (tests).
    pub fn with_policy(mut self, policy: PollPolicy, seed: u64) -> Self {
        self.policy = Some((policy, seed));
        self
    }

    pub fn with_options(mut self, options: DeployOptions) -> Self {
        self.options = options;
        self
    }

    /// Ctrl-C for the planning phase (following an operation already running).
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = Some(cancel);
        self
    }

    pub(super) fn watch<'w>(
        &'w self,
        cfn: &'w dyn CloudFormation,
        sink: &'w DeploySink,
        name: &str,
        id: &str,
        since: i64,
    ) -> Watch<'w> {
        let mut w = Watch::new(cfn, self.clock, sink, name, id, since)
            .with_deadline(self.clock.now_ms() + self.options.timeout.as_millis() as i64);
        if let Some(d) = &self.backends.diagnostics {
            w = w.with_services(ServiceWatch::new(
                d.as_ref(),
                cfn.region(),
                self.options.diagnose_after,
            ));
        }
        let (policy, seed) = self
            .policy
            .unwrap_or((PollPolicy::default(), rand::random()));
        w.with_policy(
            PollPolicy {
                max_failures: self.options.max_poll_failures,
                ..policy
            },
            seed,
        )
    }

    /// Deletes the plan's change sets and the empty stacks CREATE change sets left.
    pub async fn discard(&self, plan: &Plan) -> Result<(), DeployError> {
        let mut first_err = None;
        for s in &plan.stacks {
            if let Some(cs) = &s.change_set
                && let Err(e) = changeset::discard(self.backends.cfn(&s.template.region), cs).await
            {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn discard_rest(&self, rest: impl Iterator<Item = PlannedStack>) {
        for s in rest {
            let _ = changeset::discard_opt(
                self.backends.cfn(&s.template.region),
                s.change_set.as_ref(),
            )
            .await;
        }
    }

    /// Executes the plan, stack by stack, stopping at the first stack that does not succeed.
    pub async fn apply(&self, plan: Plan, cancel: &Cancel) -> DeployReport {
        let (sink, state) = self.sink.tracked();
        let mut report = DeployReport {
            ok: true,
            ..Default::default()
        };
        let mut rest = plan.stacks.into_iter();
        while let Some(s) = rest.next() {
            if cancel.is_cancelled() {
                report.cancelled = true;
                report.ok = false;
                self.discard_rest(std::iter::once(s)).await;
                continue;
            }
            let result = match self.prepare(&sink, s, &report).await {
                Ok(s) => self.apply_one(&sink, s, cancel, &mut report).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => {
                    let ok = !r.changed || status::succeeded(&r.status);
                    report.stacks.push(r);
                    if !ok {
                        report.ok = false;
                    }
                }
                Err(e) => {
                    report.ok = false;
                    report.error = Some(e);
                }
            }
            if !report.ok {
                // Later stacks are not started; their change sets are deleted.
                self.discard_rest(rest.by_ref()).await;
            }
        }
        report.failures = state.lock().expect("deploy state lock").failure_recap();
        sink.emit(DeployEvent::Finished {
            ok: report.ok,
            cancelled: report.cancelled,
            failures: report.failures.clone(),
            at: Time(self.clock.now_ms()),
        });
        report
    }

    /// After a cancelled create was deleted: removes the empty buckets the delete kept (see
    /// [`super::leftovers`]), so the next deploy can create them again; says what it kept.
    async fn remove_retained(
        &self,
        cfn: &dyn CloudFormation,
        sink: &DeploySink,
        name: &str,
        region: &str,
        stack_id: &str,
        since_ms: i64,
    ) {
        let Some(buckets) = &self.backends.empty_buckets else {
            return;
        };
        let events = match leftovers::all_events(cfn, stack_id).await {
            Ok(e) => e,
            Err(e) => {
                sink.note(
                    Some(name),
                    format!("could not read what the delete kept: {}", e.message),
                );
                return;
            }
        };
        for r in leftovers::retained_buckets(&events, since_ms) {
            let message = match buckets.remove_if_empty(region, &r.bucket).await {
                Ok(Removal::Removed) => format!(
                    "removed the empty bucket {} ({}) that the cancelled create had made; its \
                     DeletionPolicy keeps it on delete, and it would block the next create",
                    r.bucket, r.logical_id
                ),
                Ok(Removal::Missing) => continue,
                Ok(Removal::NotEmpty) => format!(
                    "kept the bucket {} ({}): it holds objects; delete it yourself before the \
                     next deploy creates the stack again",
                    r.bucket, r.logical_id
                ),
                Err(e) => format!(
                    "could not remove the bucket {} ({}): {}; delete it before the next deploy",
                    r.bucket, r.logical_id, e.message
                ),
            };
            sink.note(Some(name), message);
        }
    }

    /// Makes the stack's change set when it must be made now: its inputs were unknown at plan
    /// time or have changed (the earlier stack was new, or replaced what an input names), or a
    /// failed first create is deleted first. A change set made here is shown and checked by the
    /// data-risk guard as the plan's are.
    async fn prepare(
        &self,
        sink: &DeploySink,
        mut s: PlannedStack,
        report: &DeployReport,
    ) -> Result<PlannedStack, DeployError> {
        let done: BTreeMap<String, BTreeMap<String, String>> = report
            .stacks
            .iter()
            .map(|r| (r.name.clone(), r.outputs.clone()))
            .collect();
        let mut actual = Vec::new();
        for input in &s.template.inputs {
            let value = done
                .get(&input.from_stack)
                .and_then(|o| o.get(&input.output))
                .or_else(|| {
                    s.parameters
                        .iter()
                        .find(|(k, _)| *k == input.parameter)
                        .map(|(_, v)| v)
                })
                .cloned()
                .ok_or_else(|| DeployError::MissingInput {
                    stack: s.template.name.clone(),
                    from_stack: input.from_stack.clone(),
                    output: input.output.clone(),
                })?;
            actual.push((input.parameter.clone(), value));
        }
        if s.change_set.is_some() && actual == s.parameters {
            return Ok(s);
        }
        let name = s.template.name.clone();
        let cfn = self.backends.cfn(&s.template.region);
        if let Some(cs) = s.change_set.take() {
            changeset::discard(cfn, &cs).await?;
            sink.note(
                Some(&name),
                format!("{name}: making the change set again with the outputs of the stacks just deployed"),
            );
        } else if !s.template.inputs.is_empty() {
            sink.note(
                Some(&name),
                format!(
                    "{name}: making its change set with the outputs of the stacks just deployed"
                ),
            );
        }
        if let Some(failed) = s.replace_failed.take() {
            sink.note(
                Some(&name),
                format!("deleting {name} (ROLLBACK_COMPLETE) before creating it again"),
            );
            cfn.delete_stack(&failed.stack_id, self.options.role_arn.as_deref())
                .await
                .map_err(|e| DeployError::aws(&name, e))?;
            super::settle::wait_deleted(
                cfn,
                self.clock,
                &name,
                &failed.stack_id,
                self.options.timeout,
            )
            .await?;
            s.state = StackState::New;
        }
        let (cs, diff) = changeset::create(
            cfn,
            self.clock,
            &s.template,
            &s.source,
            &s.state,
            &actual,
            self.options.role_arn.as_deref(),
        )
        .await?;
        sink.emit(DeployEvent::ChangeSet {
            summary: diff.summary(),
            diff: diff.clone(),
        });
        let mut blocking: Vec<String> = diff
            .risks
            .iter()
            .filter(|r| r.severity == Severity::Blocking)
            .map(|r| r.logical_id.clone())
            .collect();
        blocking.sort();
        blocking.dedup();
        if !blocking.is_empty() && !self.options.allow_data_risk {
            changeset::discard(cfn, &cs).await?;
            return Err(DeployError::DataAtRisk {
                stack: name,
                resources: blocking,
            });
        }
        s.change_set = Some(cs);
        s.diff = diff;
        s.parameters = actual;
        s.deferred = false;
        Ok(s)
    }

    async fn apply_one(
        &self,
        sink: &DeploySink,
        s: PlannedStack,
        cancel: &Cancel,
        report: &mut DeployReport,
    ) -> Result<StackResult, DeployError> {
        let name = s.template.name.clone();
        let cfn = self.backends.cfn(&s.template.region);
        let cs = s.change_set.expect("prepare makes the change set");
        if s.diff.changes.is_empty() {
            changeset::discard(cfn, &cs).await?;
            sink.note(Some(&name), format!("{name}: no changes"));
            let existing = s.existing.unwrap_or_default();
            return Ok(StackResult {
                name: name.clone(),
                region: s.template.region.clone(),
                stack_id: existing.stack_id,
                status: existing.status,
                reason: None,
                outputs: existing.outputs,
                changed: false,
            });
        }
        sink.emit(DeployEvent::StackStarted {
            stack: name.clone(),
            region: cs.region.clone(),
            stack_id: cs.stack_id.clone(),
            kind: cs.kind,
            at: Time(self.clock.now_ms()),
            resources: planned_rows(&s.diff),
        });
        if let Err(e) = super::execute::run(cfn, self.clock, sink, &cs).await {
            let _ = changeset::discard(cfn, &cs).await;
            return Err(e);
        }
        let mut watch = self.watch(cfn, sink, &name, &cs.stack_id, cs.created_ms);
        let mut end = watch.run(Some(cancel)).await;
        if end == WatchEnd::Interrupted {
            report.cancelled = true;
            let (action, call) = match cs.kind {
                ChangeSetKind::Update => (
                    CancelAction::CancelUpdate,
                    cfn.cancel_update_stack(&cs.stack_id).await,
                ),
                ChangeSetKind::Create => (
                    CancelAction::DeleteStack,
                    cfn.delete_stack(&cs.stack_id, self.options.role_arn.as_deref())
                        .await,
                ),
            };
            let message = match (&action, &call) {
                (CancelAction::CancelUpdate, Ok(())) => {
                    format!("cancelling the update of {name}: CloudFormation rolls it back")
                }
                (CancelAction::DeleteStack, Ok(())) => {
                    format!("deleting {name}, which was being created")
                }
                (_, Err(e)) => format!(
                    "could not cancel ({}); the deploy runs to its end",
                    e.message
                ),
            };
            let deleting = action == CancelAction::DeleteStack && call.is_ok();
            sink.emit(DeployEvent::Cancelling {
                stack: name.clone(),
                action,
                accepted: call.is_ok(),
                message,
            });
            end = watch.run(None).await;
            if deleting && matches!(end, WatchEnd::Settled(_)) {
                self.remove_retained(cfn, sink, &name, &cs.region, &cs.stack_id, cs.created_ms)
                    .await;
            }
        }
        if let WatchEnd::Unreadable { failures, error } = end {
            return Err(DeployError::unreadable(&name, failures, error));
        }
        if end == WatchEnd::TimedOut {
            return Err(DeployError::Timeout {
                what: format!("the {} of {name}", kind_word(cs.kind)),
                minutes: self.options.timeout.as_secs() / 60,
            });
        }
        let (status, reason, outputs, stack_id) =
            match final_status(cfn, self.clock, &cs.stack_id, &name).await {
                Ok(i) => (i.status, i.reason, i.outputs, i.stack_id),
                Err(e) => (
                    "UNKNOWN".to_string(),
                    Some(format!("could not read the final status: {e}")),
                    BTreeMap::new(),
                    cs.stack_id.clone(),
                ),
            };
        sink.emit(DeployEvent::StackFinished {
            stack: name.clone(),
            status: status.clone(),
            ok: status::succeeded(&status),
            reason: reason.clone(),
            outputs: outputs.clone(),
            at: Time(self.clock.now_ms()),
        });
        Ok(StackResult {
            name,
            region: cs.region,
            stack_id,
            status,
            reason,
            outputs,
            changed: true,
        })
    }
}

fn kind_word(kind: ChangeSetKind) -> &'static str {
    match kind {
        ChangeSetKind::Create => "create",
        ChangeSetKind::Update => "update",
    }
}

#[cfg(test)]
#[path = "deployer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "deployer_two_stacks_tests.rs"]
mod two_stacks_tests;

#[cfg(test)]
#[path = "deployer_recovery_tests.rs"]
mod recovery_tests;
