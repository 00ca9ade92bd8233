//! The scripted CloudFormation: stacks whose events are replayed from a [`Script`] on a
//! [`FakeClock`], exactly as the real service exposes them: newest first, 100 per page, visible
//! only once their time has come.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{FakeClock, Scripted, stack_ev, throttling};
use crate::aws::{AwsError, AwsErrorKind};
use crate::deploy::cfn::{
    ChangeSetIds, ChangeSetInfo, ChangeSetRequest, CloudFormation, EventsPage, StackEventRecord,
    StackEventsSource, StackInfo,
};
use crate::deploy::changeset::{ChangeSetKind, ResourceChange};
use crate::deploy::clock::{Clock, EpochMs};
use crate::engine::Cancel;

struct FakeStack {
    id: String,
    name: String,
    /// Chronological; future ones become visible as the clock passes them.
    events: Vec<StackEventRecord>,
    base_status: String,
    outputs: std::collections::BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Script {
    /// Replayed by ExecuteChangeSet.
    pub execute: Vec<Scripted>,
    /// Replayed by CancelUpdateStack / DeleteStack (Ctrl-C), replacing what had not happened.
    pub cancel: Vec<Scripted>,
    /// The rows the next change set reports.
    pub changes: Vec<ResourceChange>,
    /// Calls (0-based, DescribeStackEvents only) that answer Throttling.
    pub throttle_calls: HashSet<usize>,
    /// DescribeStacks calls that fail before answering, counted from the first.
    pub describe_failures: usize,
    /// Press Ctrl-C when the clock reaches this time.
    pub interrupt_at: Option<(EpochMs, Cancel)>,
    pub outputs: std::collections::BTreeMap<String, String>,
}

/// CloudFormation replaying a [`Script`] on a [`FakeClock`].
pub struct FakeCfn {
    region: String,
    clock: Arc<FakeClock>,
    pub script: Mutex<Script>,
    stacks: Mutex<HashMap<String, FakeStack>>,
    /// Every call, as `Operation stack`.
    pub calls: Mutex<Vec<String>>,
    /// Every CreateChangeSet request, in order.
    pub requests: Mutex<Vec<ChangeSetRequest>>,
    event_calls: Mutex<usize>,
    describe_calls: Mutex<usize>,
    seq: Mutex<u64>,
}

impl FakeCfn {
    pub fn new(region: &str, clock: Arc<FakeClock>, script: Script) -> Self {
        Self {
            region: region.into(),
            clock,
            script: Mutex::new(script),
            stacks: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            event_calls: Mutex::new(0),
            describe_calls: Mutex::new(0),
            seq: Mutex::new(0),
        }
    }

    /// A stack that already exists, deployed.
    pub fn with_stack(self, name: &str, status: &str) -> Self {
        let id = format!(
            "arn:aws:cloudformation:{}:123456789012:stack/{name}/1",
            self.region
        );
        self.stacks.lock().unwrap().insert(
            name.into(),
            FakeStack {
                id,
                name: name.into(),
                events: vec![],
                base_status: status.into(),
                outputs: Default::default(),
            },
        );
        self
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    pub fn event_calls(&self) -> usize {
        *self.event_calls.lock().unwrap()
    }

    fn log(&self, op: &str, stack: &str) {
        self.calls.lock().unwrap().push(format!("{op} {stack}"));
    }

    fn find<'a>(
        stacks: &'a mut HashMap<String, FakeStack>,
        key: &str,
    ) -> Option<&'a mut FakeStack> {
        stacks.values_mut().find(|s| s.name == key || s.id == key)
    }

    fn schedule(&self, stack: &mut FakeStack, script: &[Scripted]) {
        let now = self.clock.now_ms();
        // What had not happened yet never will.
        stack.events.retain(|e| e.at_ms <= now);
        let mut seq = self.seq.lock().unwrap();
        for s in script {
            *seq += 1;
            let is_stack = s.logical_id == "$STACK";
            stack.events.push(StackEventRecord {
                event_id: format!("ev-{}", *seq),
                stack_id: stack.id.clone(),
                stack_name: stack.name.clone(),
                logical_id: if is_stack {
                    stack.name.clone()
                } else {
                    s.logical_id.clone()
                },
                physical_id: is_stack.then(|| stack.id.clone()),
                resource_type: s.resource_type.clone(),
                status: s.status.clone(),
                reason: s.reason.clone(),
                at_ms: now + s.offset_ms,
            });
        }
        stack.events.sort_by_key(|e| e.at_ms);
    }

    fn status_of(&self, s: &FakeStack) -> String {
        let now = self.clock.now_ms();
        s.events
            .iter()
            .rev()
            .find(|e| e.at_ms <= now && e.is_stack())
            .map(|e| e.status.clone())
            .unwrap_or_else(|| s.base_status.clone())
    }

    fn check_interrupt(&self) {
        let script = self.script.lock().unwrap();
        if let Some((at, cancel)) = &script.interrupt_at
            && self.clock.now_ms() >= *at
        {
            cancel.cancel();
        }
    }
}

#[async_trait]
impl StackEventsSource for FakeCfn {
    async fn stack_events(
        &self,
        stack: &str,
        token: Option<String>,
    ) -> Result<EventsPage, AwsError> {
        self.check_interrupt();
        let call = {
            let mut n = self.event_calls.lock().unwrap();
            *n += 1;
            *n - 1
        };
        if self.script.lock().unwrap().throttle_calls.contains(&call) {
            return Err(throttling());
        }
        let now = self.clock.now_ms();
        let mut stacks = self.stacks.lock().unwrap();
        let s = Self::find(&mut stacks, stack).ok_or_else(|| missing(stack))?;
        let visible: Vec<_> = s
            .events
            .iter()
            .rev()
            .filter(|e| e.at_ms <= now)
            .cloned()
            .collect();
        let from: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
        let to = (from + 100).min(visible.len());
        Ok(EventsPage {
            events: visible[from..to].to_vec(),
            next_token: (to < visible.len()).then(|| to.to_string()),
        })
    }

    async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError> {
        self.check_interrupt();
        self.log("DescribeStacks", stack);
        {
            let mut n = self.describe_calls.lock().unwrap();
            *n += 1;
            if *n <= self.script.lock().unwrap().describe_failures {
                return Err(throttling());
            }
        }
        let mut stacks = self.stacks.lock().unwrap();
        let Some(s) = Self::find(&mut stacks, stack) else {
            return Ok(None);
        };
        let st = self.status_of(s);
        // Like CloudFormation: a deleted stack answers by id only.
        if st == "DELETE_COMPLETE" && s.name == stack {
            return Ok(None);
        }
        Ok(Some(StackInfo {
            stack_id: s.id.clone(),
            name: s.name.clone(),
            status: st,
            reason: None,
            outputs: s.outputs.clone(),
        }))
    }
}

fn missing(stack: &str) -> AwsError {
    AwsError {
        service: "cloudformation".into(),
        operation: "DescribeStackEvents".into(),
        code: Some("ValidationError".into()),
        message: format!("Stack with id {stack} does not exist"),
        kind: AwsErrorKind::Other,
    }
}

#[async_trait]
impl CloudFormation for FakeCfn {
    fn region(&self) -> &str {
        &self.region
    }

    async fn create_change_set(&self, req: &ChangeSetRequest) -> Result<ChangeSetIds, AwsError> {
        self.log("CreateChangeSet", &req.stack_name);
        self.requests.lock().unwrap().push(req.clone());
        let mut stacks = self.stacks.lock().unwrap();
        let deleted = stacks
            .get(&req.stack_name)
            .is_some_and(|s| self.status_of(s) == "DELETE_COMPLETE");
        if req.kind == ChangeSetKind::Create && (deleted || !stacks.contains_key(&req.stack_name)) {
            // A stack created again gets a new id, as in CloudFormation.
            let n = if deleted { 2 } else { 1 };
            let id = format!(
                "arn:aws:cloudformation:{}:123456789012:stack/{}/{n}",
                self.region, req.stack_name
            );
            stacks.insert(
                req.stack_name.clone(),
                FakeStack {
                    id,
                    name: req.stack_name.clone(),
                    events: vec![],
                    base_status: "REVIEW_IN_PROGRESS".into(),
                    outputs: Default::default(),
                },
            );
        }
        let s = &stacks[&req.stack_name];
        Ok(ChangeSetIds {
            id: format!("{}:changeSet/{}", s.id, req.change_set_name),
            stack_id: s.id.clone(),
        })
    }

    async fn describe_change_set(&self, stack: &str, _cs: &str) -> Result<ChangeSetInfo, AwsError> {
        self.log("DescribeChangeSet", stack);
        let changes = self.script.lock().unwrap().changes.clone();
        Ok(if changes.is_empty() {
            ChangeSetInfo {
                status: "FAILED".into(),
                reason: Some("The submitted information didn't contain changes. Submit different information to create a change set.".into()),
                ..Default::default()
            }
        } else {
            ChangeSetInfo {
                status: "CREATE_COMPLETE".into(),
                created_ms: Some(self.clock.now_ms()),
                changes,
                ..Default::default()
            }
        })
    }

    async fn execute_change_set(&self, stack: &str, _cs: &str) -> Result<(), AwsError> {
        self.log("ExecuteChangeSet", stack);
        let script = std::mem::take(&mut self.script.lock().unwrap().execute);
        let outputs = self.script.lock().unwrap().outputs.clone();
        let mut stacks = self.stacks.lock().unwrap();
        let s = Self::find(&mut stacks, stack).ok_or_else(|| missing(stack))?;
        s.outputs = outputs;
        self.schedule(s, &script);
        Ok(())
    }

    async fn delete_change_set(&self, stack: &str, _cs: &str) -> Result<(), AwsError> {
        self.log("DeleteChangeSet", stack);
        Ok(())
    }

    async fn delete_stack(&self, stack: &str) -> Result<(), AwsError> {
        self.log("DeleteStack", stack);
        let cancel = std::mem::take(&mut self.script.lock().unwrap().cancel);
        let mut stacks = self.stacks.lock().unwrap();
        let Some(s) = Self::find(&mut stacks, stack) else {
            return Ok(());
        };
        if self.status_of(s) == "REVIEW_IN_PROGRESS" {
            let name = s.name.clone();
            stacks.remove(&name);
            return Ok(());
        }
        let script = if cancel.is_empty() {
            vec![
                stack_ev(0.5, "DELETE_IN_PROGRESS", Some("User Initiated")),
                stack_ev(20.0, "DELETE_COMPLETE", None),
            ]
        } else {
            cancel
        };
        self.schedule(s, &script);
        Ok(())
    }

    async fn cancel_update_stack(&self, stack: &str) -> Result<(), AwsError> {
        self.log("CancelUpdateStack", stack);
        let cancel = std::mem::take(&mut self.script.lock().unwrap().cancel);
        let mut stacks = self.stacks.lock().unwrap();
        let s = Self::find(&mut stacks, stack).ok_or_else(|| missing(stack))?;
        if self.status_of(s) != "UPDATE_IN_PROGRESS" {
            return Err(AwsError {
                service: "cloudformation".into(),
                operation: "CancelUpdateStack".into(),
                code: Some("ValidationError".into()),
                message: "CancelUpdateStack cannot be called from current stack status".into(),
                kind: AwsErrorKind::Other,
            });
        }
        self.schedule(s, &cancel);
        Ok(())
    }
}
