//! The deployer: stacks in order (the primary stack, then `<stackName>-us-east-1`), in three
//! phases a front end can put a confirmation between:
//!
//! 1. [`Deployer::plan`] stages large templates and creates one change set per stack (CREATE
//!    for a new stack, UPDATE otherwise), and reports each diff;
//! 2. [`Deployer::discard`] deletes those change sets (and the empty stacks CREATE change sets
//!    leave) when the user says no, or when the plan was only a diff;
//! 3. [`Deployer::apply`] executes them one stack at a time, watching events until each stack
//!    settles. Ctrl-C asks CloudFormation to cancel the update, or deletes a stack being
//!    created, and keeps watching until that has happened too.
//!
//! Nothing here prints or prompts; everything is a [`DeployEvent`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::StackTemplate;
use super::cfn::{CloudFormation, SdkCloudFormation, StackInfo, status};
use super::changeset::{
    self, ChangeSetKind, DiffSummary, PreparedChangeSet, StackDiff, StackState,
};
use super::clock::Clock;
use super::error::DeployError;
use super::event::{CancelAction, DeployEvent, DeploySink, FailureRecap, PlannedResource, Time};
use super::guard::{Risk, Severity};
use super::monitor::{PollPolicy, Watch, WatchEnd, final_status};
use super::staging::{S3TemplateStore, TemplateSource, TemplateStore, source_for};
use crate::aws::AwsClients;
use crate::engine::Cancel;

/// The CloudFormation client of each region a deploy touches, and the staging store.
#[derive(Clone)]
pub struct Backends {
    pub cloudformation: BTreeMap<String, Arc<dyn CloudFormation>>,
    pub store: Arc<dyn TemplateStore>,
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
        }
    }

    fn cfn(&self, region: &str) -> &dyn CloudFormation {
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
    /// The change set to execute; `None` when a failed first create must be deleted first.
    pub change_set: Option<PreparedChangeSet>,
    /// A stack in ROLLBACK_COMPLETE that is deleted before it is created again.
    pub replace_failed: Option<StackInfo>,
    /// The stack before this deploy, if it was deployed.
    pub existing: Option<StackInfo>,
    source: TemplateSource,
    /// Values of the template's inputs the change set was made with.
    parameters: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub stacks: Vec<PlannedStack>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.stacks.iter().any(|s| !s.diff.changes.is_empty())
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

pub struct Deployer<'a> {
    backends: &'a Backends,
    clock: &'a dyn Clock,
    sink: DeploySink,
    policy: Option<(PollPolicy, u64)>,
}

/// The primary stack first, then the us-east-1 companion (it may read what the primary made).
/// Placeholder for an input whose stack has not been deployed yet.
fn placeholder(from_stack: &str, output: &str) -> String {
    format!("pending:{from_stack}:{output}")
}

fn is_placeholder(v: &str) -> bool {
    v.starts_with("pending:")
}

/// Values for `t`'s inputs from `known` outputs, and the inputs still pending.
fn input_values(
    t: &StackTemplate,
    known: &BTreeMap<String, BTreeMap<String, String>>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut values = Vec::new();
    let mut pending = Vec::new();
    for i in &t.inputs {
        match known.get(&i.from_stack).and_then(|o| o.get(&i.output)) {
            Some(v) => values.push((i.parameter.clone(), v.clone())),
            None => {
                values.push((i.parameter.clone(), placeholder(&i.from_stack, &i.output)));
                pending.push(i.parameter.clone());
            }
        }
    }
    (values, pending)
}

fn ordered(stacks: &[StackTemplate]) -> Vec<StackTemplate> {
    let mut v = stacks.to_vec();
    v.sort_by_key(|s| s.name.ends_with("-us-east-1"));
    v
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
        }
    }

    /// A fixed polling policy and jitter seed (tests).
    pub fn with_policy(mut self, policy: PollPolicy, seed: u64) -> Self {
        self.policy = Some((policy, seed));
        self
    }

    fn watch<'w>(
        &'w self,
        cfn: &'w dyn CloudFormation,
        sink: &'w DeploySink,
        name: &str,
        id: &str,
        since: i64,
    ) -> Watch<'w> {
        let w = Watch::new(cfn, self.clock, sink, name, id, since);
        match self.policy {
            Some((p, seed)) => w.with_policy(p, seed),
            None => w,
        }
    }

    /// Creates a change set per stack and reports each diff. On an error, change sets already
    /// made are deleted again.
    pub async fn plan(&self, stacks: &[StackTemplate]) -> Result<Plan, DeployError> {
        let mut plan = Plan::default();
        for t in ordered(stacks) {
            // Inputs come from the current outputs of the stacks planned before this one; a
            // stack not deployed yet has none, so its dependants are planned with placeholders
            // and made again with the real values once it has deployed (see `apply`).
            let known: BTreeMap<String, BTreeMap<String, String>> = plan
                .stacks
                .iter()
                .filter_map(|p| {
                    p.existing
                        .as_ref()
                        .map(|e| (p.template.name.clone(), e.outputs.clone()))
                })
                .collect();
            let (parameters, pending) = input_values(&t, &known);
            match self.plan_one(&t, parameters, pending).await {
                Ok(p) => {
                    self.sink.emit(DeployEvent::ChangeSet {
                        summary: p.diff.summary(),
                        diff: p.diff.clone(),
                    });
                    plan.stacks.push(p);
                }
                Err(e) => {
                    let _ = self.discard(&plan).await;
                    return Err(e);
                }
            }
        }
        Ok(plan)
    }

    async fn plan_one(
        &self,
        t: &StackTemplate,
        parameters: Vec<(String, String)>,
        pending: Vec<String>,
    ) -> Result<PlannedStack, DeployError> {
        let cfn = self.backends.cfn(&t.region);
        let info = cfn
            .describe_stack(&t.name)
            .await
            .map_err(|e| DeployError::aws(&t.name, e))?;
        let state = changeset::classify(&t.name, info)?;
        let source = source_for(self.backends.store.as_ref(), t).await?;
        if let TemplateSource::Url { url, .. } = &source {
            self.sink
                .note(Some(&t.name), format!("template staged at {url}"));
        }
        if let StackState::FailedCreate(info) = &state {
            // CloudFormation cannot update a stack whose first create rolled back; it holds
            // nothing, so it is deleted and created again, and the diff is the whole template.
            let diff = StackDiff {
                stack: t.name.clone(),
                region: t.region.clone(),
                kind: ChangeSetKind::Create,
                changes: changeset::all_added(t),
                note: Some(format!(
                    "{} is in ROLLBACK_COMPLETE after a failed first create; it is deleted and created again",
                    t.name
                )),
                // The stack holds nothing: every row is an add.
                risks: Vec::new(),
            };
            return Ok(PlannedStack {
                template: t.clone(),
                diff,
                change_set: None,
                replace_failed: Some(info.clone()),
                existing: None,
                source,
                parameters,
            });
        }
        let (cs, mut diff) =
            changeset::create(cfn, self.clock, t, &source, &state, &parameters).await?;
        if !pending.is_empty() {
            diff.note = Some(format!(
                "{} come from stacks deployed before this one; the change set is made again with their values once they are",
                pending.join(", ")
            ));
        }
        Ok(PlannedStack {
            template: t.clone(),
            diff,
            change_set: Some(cs),
            replace_failed: None,
            existing: match state {
                StackState::Deployed(i) => Some(i),
                _ => None,
            },
            source,
            parameters,
        })
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
                let _ = changeset::discard_opt(
                    self.backends.cfn(&s.template.region),
                    s.change_set.as_ref(),
                )
                .await;
                continue;
            }
            let s = match self.refresh_inputs(&sink, s, &report).await {
                Ok(s) => s,
                Err(e) => {
                    report.ok = false;
                    report.error = Some(e);
                    for s in rest.by_ref() {
                        let _ = changeset::discard_opt(
                            self.backends.cfn(&s.template.region),
                            s.change_set.as_ref(),
                        )
                        .await;
                    }
                    continue;
                }
            };
            let result = self.apply_one(&sink, s, cancel, &mut report).await;
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
                for s in rest.by_ref() {
                    let _ = changeset::discard_opt(
                        self.backends.cfn(&s.template.region),
                        s.change_set.as_ref(),
                    )
                    .await;
                }
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

    /// Before a stack with inputs runs, its inputs are read from the stacks this deploy has just
    /// finished; when they differ from the values its change set was made with (the earlier
    /// stack was new, or replaced what the input names), the change set is made again.
    async fn refresh_inputs(
        &self,
        sink: &DeploySink,
        mut s: PlannedStack,
        report: &DeployReport,
    ) -> Result<PlannedStack, DeployError> {
        if s.template.inputs.is_empty() {
            return Ok(s);
        }
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
                        .filter(|v| !is_placeholder(v))
                })
                .cloned()
                .ok_or_else(|| DeployError::MissingInput {
                    stack: s.template.name.clone(),
                    from_stack: input.from_stack.clone(),
                    output: input.output.clone(),
                })?;
            actual.push((input.parameter.clone(), value));
        }
        if actual == s.parameters {
            return Ok(s);
        }
        let cfn = self.backends.cfn(&s.template.region);
        if let Some(cs) = s.change_set.take() {
            changeset::discard(cfn, &cs).await?;
        }
        let state = match &s.existing {
            Some(i) => StackState::Deployed(i.clone()),
            None => StackState::New,
        };
        sink.note(
            Some(&s.template.name),
            format!(
                "{}: making the change set again with the outputs of the stacks just deployed",
                s.template.name
            ),
        );
        let (cs, diff) =
            changeset::create(cfn, self.clock, &s.template, &s.source, &state, &actual).await?;
        sink.emit(DeployEvent::ChangeSet {
            summary: diff.summary(),
            diff: diff.clone(),
        });
        s.change_set = Some(cs);
        s.diff = diff;
        s.parameters = actual;
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
        if s.diff.changes.is_empty() {
            if let Some(cs) = &s.change_set {
                changeset::discard(cfn, cs).await?;
            }
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
        let cs = match (s.change_set, &s.replace_failed) {
            (Some(cs), _) => cs,
            (None, Some(failed)) => {
                sink.note(
                    Some(&name),
                    format!("deleting {name} (ROLLBACK_COMPLETE) before creating it again"),
                );
                cfn.delete_stack(&failed.stack_id)
                    .await
                    .map_err(|e| DeployError::aws(&name, e))?;
                let quiet = DeploySink::discard();
                let mut w = self.watch(cfn, &quiet, &name, &failed.stack_id, self.clock.now_ms());
                w.run(None).await;
                let (cs, _) = changeset::create(
                    cfn,
                    self.clock,
                    &s.template,
                    &s.source,
                    &StackState::New,
                    &s.parameters,
                )
                .await?;
                cs
            }
            (None, None) => unreachable!("a plan without a change set replaces a failed stack"),
        };
        sink.emit(DeployEvent::StackStarted {
            stack: name.clone(),
            region: cs.region.clone(),
            stack_id: cs.stack_id.clone(),
            kind: cs.kind,
            at: Time(self.clock.now_ms()),
            resources: planned_rows(&s.diff),
        });
        if let Err(e) = cfn.execute_change_set(&cs.stack_id, &cs.id).await {
            let _ = changeset::discard(cfn, &cs).await;
            return Err(DeployError::aws(&name, e));
        }
        let mut watch = self.watch(cfn, sink, &name, &cs.stack_id, cs.created_ms);
        if watch.run(Some(cancel)).await == WatchEnd::Interrupted {
            report.cancelled = true;
            let (action, call) = match cs.kind {
                ChangeSetKind::Update => (
                    CancelAction::CancelUpdate,
                    cfn.cancel_update_stack(&cs.stack_id).await,
                ),
                ChangeSetKind::Create => (
                    CancelAction::DeleteStack,
                    cfn.delete_stack(&cs.stack_id).await,
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
            sink.emit(DeployEvent::Cancelling {
                stack: name.clone(),
                action,
                accepted: call.is_ok(),
                message,
            });
            watch.run(None).await;
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

#[cfg(test)]
#[path = "deployer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "deployer_two_stacks_tests.rs"]
mod two_stacks_tests;
