//! Planning: from each stack's current state to the change set (or the template) the user
//! confirms. Owns the rules for stacks that cannot get a change set yet:
//!
//! * **Busy stacks** (`*_IN_PROGRESS`, a deploy killed mid-create run again): a deploy attaches,
//!   follows the running operation with the monitor until it settles, and plans from the settled
//!   state; a diff refuses ([`super::error::DeployError::StackBusy`], exit 1).
//! * **Inputs not known yet**: CloudFormation validates parameters at CreateChangeSet, so a
//!   stack whose inputs are outputs of a stack not deployed yet (the us-east-1 stack on a first
//!   deploy outside us-east-1, whose parameters carry an `AllowedPattern`) gets no change set at
//!   plan time. Its plan is the template, all added; the change set is made once the stack it
//!   depends on has succeeded ([`super::deployer`]). No made-up value ever reaches CloudFormation.
//! * **A failed first create** (ROLLBACK_COMPLETE): the template, all added; deleted and created
//!   again after confirmation.

use std::collections::BTreeMap;

use super::StackTemplate;
use super::cfn::{CloudFormation, StackInfo, status};
use super::changeset::{self, PreparedChangeSet, ResourceChange, StackDiff, StackState};
use super::clock::EpochMs;
use super::deployer::{Deployer, Plan, PlannedStack};
use super::error::DeployError;
use super::event::{DeployEvent, Time};
use super::monitor::WatchEnd;
use super::staging::{TemplateSource, source_for};

/// Values for `t`'s inputs from `known` outputs, and the inputs whose value is not known yet.
pub(super) fn input_values(
    t: &StackTemplate,
    known: &BTreeMap<String, BTreeMap<String, String>>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut values = Vec::new();
    let mut pending = Vec::new();
    for i in &t.inputs {
        match known.get(&i.from_stack).and_then(|o| o.get(&i.output)) {
            Some(v) => values.push((i.parameter.clone(), v.clone())),
            None => pending.push(i.parameter.clone()),
        }
    }
    (values, pending)
}

/// The primary stack first, then the us-east-1 companion (it may read what the primary made).
pub(super) fn ordered(stacks: &[StackTemplate]) -> Vec<StackTemplate> {
    let mut v = stacks.to_vec();
    v.sort_by_key(|s| s.name.ends_with("-us-east-1"));
    v
}

/// The two ways a stack enters a plan.
impl PlannedStack {
    pub(super) fn deferred(
        t: &StackTemplate,
        state: StackState,
        source: TemplateSource,
        parameters: Vec<(String, String)>,
        changes: Vec<ResourceChange>,
        note: String,
    ) -> Self {
        Self {
            template: t.clone(),
            diff: StackDiff {
                stack: t.name.clone(),
                region: t.region.clone(),
                kind: state.kind(),
                changes,
                note: Some(note),
                // Checked on the change set once it is made.
                risks: Vec::new(),
            },
            change_set: None,
            replace_failed: match &state {
                StackState::FailedCreate(i) => Some(i.clone()),
                _ => None,
            },
            existing: match &state {
                StackState::Deployed(i) => Some(i.clone()),
                _ => None,
            },
            deferred: true,
            state,
            source,
            parameters,
        }
    }

    pub(super) fn with_change_set(
        t: &StackTemplate,
        state: StackState,
        source: TemplateSource,
        parameters: Vec<(String, String)>,
        cs: PreparedChangeSet,
        diff: StackDiff,
    ) -> Self {
        Self {
            template: t.clone(),
            diff,
            change_set: Some(cs),
            replace_failed: None,
            existing: match &state {
                StackState::Deployed(i) => Some(i.clone()),
                _ => None,
            },
            deferred: false,
            state,
            source,
            parameters,
        }
    }
}

/// Attaching more often than this means operations keep starting on the stack: someone else is
/// deploying it.
const MAX_ATTACHES: usize = 3;

impl Deployer<'_> {
    /// Creates a change set per stack (or, where one cannot be made yet, plans from the
    /// template) and reports each diff. On an error, change sets already made are deleted again.
    pub async fn plan(&self, stacks: &[StackTemplate]) -> Result<Plan, DeployError> {
        let mut plan = Plan::default();
        for t in ordered(stacks) {
            match self.plan_one(&t, &plan).await {
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

    /// The stack's state once nothing is running on it: a busy stack is followed to its end
    /// when attaching is allowed (deploy), refused otherwise (diff).
    async fn settled_state(
        &self,
        cfn: &dyn CloudFormation,
        t: &StackTemplate,
    ) -> Result<StackState, DeployError> {
        let mut attaches = 0;
        loop {
            let info = cfn
                .describe_stack(&t.name)
                .await
                .map_err(|e| DeployError::aws(&t.name, e))?;
            match changeset::classify(&t.name, info.clone()) {
                Err(DeployError::StackBusy { .. })
                    if self.options.attach_busy && attaches < MAX_ATTACHES =>
                {
                    attaches += 1;
                    let info = info.expect("a busy stack exists");
                    self.attach(cfn, t, &info).await?;
                }
                other => return other,
            }
        }
    }

    /// Follows the operation running on `info` until the stack settles, showing its events.
    async fn attach(
        &self,
        cfn: &dyn CloudFormation,
        t: &StackTemplate,
        info: &StackInfo,
    ) -> Result<(), DeployError> {
        let since = operation_start(cfn, info)
            .await
            .unwrap_or(self.clock.now_ms());
        self.sink.emit(DeployEvent::Attaching {
            stack: t.name.clone(),
            region: t.region.clone(),
            stack_id: info.stack_id.clone(),
            status: info.status.clone(),
            since: Time(since),
            at: Time(self.clock.now_ms()),
        });
        let mut watch = self.watch(cfn, &self.sink, &t.name, &info.stack_id, since);
        let end = watch.run(self.cancel.as_ref()).await;
        let settled = match end {
            WatchEnd::Settled(s) => s,
            WatchEnd::Interrupted => {
                return Err(DeployError::Interrupted {
                    stack: t.name.clone(),
                });
            }
            WatchEnd::TimedOut => {
                return Err(DeployError::Timeout {
                    what: format!("the operation already running on {}", t.name),
                    minutes: self.options.timeout.as_secs() / 60,
                });
            }
            WatchEnd::Unreadable { failures, error } => {
                return Err(DeployError::unreadable(&t.name, failures, error));
            }
        };
        self.sink.emit(DeployEvent::StackFinished {
            stack: t.name.clone(),
            status: settled.clone(),
            ok: status::succeeded(&settled) || settled == "DELETE_COMPLETE",
            reason: None,
            outputs: BTreeMap::new(),
            at: Time(self.clock.now_ms()),
        });
        self.sink.note(
            Some(&t.name),
            format!("{} settled at {settled}; planning from there", t.name),
        );
        Ok(())
    }

    async fn plan_one(&self, t: &StackTemplate, plan: &Plan) -> Result<PlannedStack, DeployError> {
        let cfn = self.backends.cfn(&t.region);
        let state = self.settled_state(cfn, t).await?;
        let source = source_for(self.backends.store.as_ref(), t).await?;
        if let TemplateSource::Url { url, .. } = &source {
            self.sink
                .note(Some(&t.name), format!("template staged at {url}"));
        }
        // Inputs come from the current outputs of the stacks planned before this one.
        let known: BTreeMap<String, BTreeMap<String, String>> = plan
            .stacks
            .iter()
            .filter_map(|p| {
                p.existing
                    .as_ref()
                    .map(|e| (p.template.name.clone(), e.outputs.clone()))
            })
            .collect();
        let (parameters, pending) = input_values(t, &known);
        let from: Vec<&str> = {
            let mut v: Vec<&str> = t.inputs.iter().map(|i| i.from_stack.as_str()).collect();
            v.dedup();
            v
        };
        let deferred = |state: StackState, note: String| {
            let changes = match &state {
                // What it will change is known only once its inputs are.
                StackState::Deployed(_) => Vec::new(),
                _ => changeset::all_added(t),
            };
            PlannedStack::deferred(t, state, source.clone(), parameters.clone(), changes, note)
        };
        if matches!(state, StackState::FailedCreate(_)) {
            // CloudFormation cannot update a stack whose first create rolled back; it holds
            // nothing, so it is deleted and created again, and the diff is the whole template.
            let note = format!(
                "{} is in ROLLBACK_COMPLETE after a failed first create; it is deleted and created again",
                t.name
            );
            return Ok(deferred(state, note));
        }
        if !pending.is_empty() {
            let note = format!(
                "{} come from {}, which does not have them yet; this stack's change set is made once {} has deployed (its data-risk check too)",
                pending.join(", "),
                from.join(", "),
                from.join(", ")
            );
            return Ok(deferred(state, note));
        }
        let (cs, mut diff) = changeset::create(
            cfn,
            self.clock,
            t,
            &source,
            &state,
            &parameters,
            self.options.role_arn.as_deref(),
        )
        .await?;
        let changing: Vec<&str> = from
            .iter()
            .copied()
            .filter(|f| {
                plan.stacks
                    .iter()
                    .any(|p| p.template.name == *f && p.has_changes())
            })
            .collect();
        if !changing.is_empty() {
            diff.note = Some(format!(
                "planned with the current outputs of {}, which this deploy changes too; if its outputs change, this change set is made again with the new values (and checked again) before it runs",
                changing.join(", ")
            ));
        }
        Ok(PlannedStack::with_change_set(
            t, state, source, parameters, cs, diff,
        ))
    }
}

/// When the running operation began: the newest stack event with the stack's current status
/// (on the first page), so the rows show what this operation did before we attached.
async fn operation_start(cfn: &dyn CloudFormation, info: &StackInfo) -> Option<EpochMs> {
    let page = cfn.stack_events(&info.stack_id, None).await.ok()?;
    let own: Vec<_> = page.events.iter().filter(|e| e.is_stack()).collect();
    own.iter()
        .find(|e| e.status == info.status)
        .or(own.first())
        .map(|e| e.at_ms)
}
