//! The scripted CloudFormation: stacks whose events are replayed from a [`Script`] on a
//! [`FakeClock`], exactly as the real service exposes them: newest first, 100 per page, visible
//! only once their time has come.
//!
//! Where it overlaps with CloudFormation it is as strict: CreateChangeSet validates the
//! parameters against the template's `Parameters` ([`super::params`]) and refuses stacks that are
//! busy, in ROLLBACK_COMPLETE, or being deleted (the name is free only once DELETE_COMPLETE);
//! deletes run asynchronously; ExecuteChangeSet needs an AVAILABLE change set and stamps its
//! ClientRequestToken on the events it causes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{FakeClock, Scripted, params, stack_ev, throttling};
use crate::aws::{AwsError, AwsErrorKind};
use crate::deploy::cfn::{
    ChangeSetIds, ChangeSetInfo, ChangeSetRequest, CloudFormation, EventsPage, StackEventRecord,
    StackEventsSource, StackInfo, status,
};
use crate::deploy::changeset::{ChangeSetKind, ResourceChange};
use crate::deploy::clock::{Clock, EpochMs};
use crate::deploy::staging::TemplateSource;
use crate::engine::Cancel;

struct FakeStack {
    id: String,
    name: String,
    /// Chronological; future ones become visible as the clock passes them.
    events: Vec<StackEventRecord>,
    base_status: String,
    outputs: std::collections::BTreeMap<String, String>,
    /// The change sets made on it, by id, with their execution status.
    change_sets: HashMap<String, String>,
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
    /// DescribeChangeSet answers ExecutionStatus UNAVAILABLE this many times after the change
    /// set is computed (CloudFormation does, briefly).
    pub unavailable_describes: usize,
    /// ExecuteChangeSet starts the operation, then answers this error anyway (a timeout the SDK
    /// retried, say): the caller must look before calling it a failure.
    pub execute_error_after_start: Option<AwsError>,
    /// ExecuteChangeSet fails with this error and starts nothing.
    pub execute_error: Option<AwsError>,
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
    /// Every ExecuteChangeSet token, in order.
    pub tokens: Mutex<Vec<String>>,
    /// Every DeleteStack role, in order.
    pub delete_roles: Mutex<Vec<Option<String>>>,
    /// Where templates passed by URL are read from.
    store: Mutex<Option<Arc<super::MemStore>>>,
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
            tokens: Mutex::new(Vec::new()),
            delete_roles: Mutex::new(Vec::new()),
            store: Mutex::new(None),
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
                change_sets: HashMap::new(),
            },
        );
        self
    }

    /// A stack that already exists, with these outputs.
    pub fn with_outputs(self, name: &str, outputs: &[(&str, &str)]) -> Self {
        if let Some(s) = self.stacks.lock().unwrap().get_mut(name) {
            s.outputs = outputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
        self
    }

    /// An operation already running on an existing stack (a deploy killed mid-create): `script`
    /// plays from now on, as if it had started `started_s` seconds ago.
    pub fn with_running(self, name: &str, started_s: f64, script: &[Scripted]) -> Self {
        {
            let mut stacks = self.stacks.lock().unwrap();
            let s = stacks.get_mut(name).expect("with_stack first");
            let now = self.clock.now_ms();
            let shifted: Vec<Scripted> = script
                .iter()
                .map(|e| Scripted {
                    offset_ms: e.offset_ms - (started_s * 1000.0) as i64,
                    ..e.clone()
                })
                .collect();
            self.schedule_at(s, now, &shifted, Some("earlier-run-token"));
        }
        self
    }

    /// Templates passed by URL are read from `store` (to validate their parameters).
    pub fn reading(self, store: Arc<super::MemStore>) -> Self {
        *self.store.lock().unwrap() = Some(store);
        self
    }

    pub fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
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

    fn schedule(&self, stack: &mut FakeStack, script: &[Scripted], token: Option<&str>) {
        let now = self.clock.now_ms();
        // What had not happened yet never will.
        stack.events.retain(|e| e.at_ms <= now);
        self.schedule_at(stack, now, script, token);
    }

    fn schedule_at(
        &self,
        stack: &mut FakeStack,
        now: EpochMs,
        script: &[Scripted],
        token: Option<&str>,
    ) {
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
                physical_id: if is_stack {
                    Some(stack.id.clone())
                } else {
                    s.physical_id.clone()
                },
                resource_type: s.resource_type.clone(),
                status: s.status.clone(),
                reason: s.reason.clone(),
                at_ms: now + s.offset_ms,
                client_request_token: token.map(str::to_string),
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

fn validation(operation: &str, message: String) -> AwsError {
    AwsError {
        service: "cloudformation".into(),
        operation: operation.into(),
        code: Some("ValidationError".into()),
        message,
        kind: AwsErrorKind::Other,
    }
}

impl FakeCfn {
    /// The template a request names, when the fake can read it.
    fn template_of(&self, req: &ChangeSetRequest) -> Option<serde_json::Value> {
        let body = match &req.template {
            TemplateSource::Body(b) => b.clone(),
            TemplateSource::Url { url, .. } => {
                let store = self.store.lock().unwrap().clone()?;
                store.body(url)?
            }
        };
        serde_json::from_str(&body).ok()
    }

    /// CloudFormation's refusals of a change set on a stack in the wrong state.
    fn check_stack_state(
        &self,
        stacks: &HashMap<String, FakeStack>,
        req: &ChangeSetRequest,
    ) -> Result<bool, AwsError> {
        let existing = stacks
            .get(&req.stack_name)
            .map(|s| (s, self.status_of(s)))
            .filter(|(_, st)| st != "DELETE_COMPLETE");
        match (existing, req.kind) {
            (None, ChangeSetKind::Create) => Ok(true),
            (None, ChangeSetKind::Update) => Err(validation(
                "CreateChangeSet",
                format!("Stack [{}] does not exist", req.stack_name),
            )),
            (Some((_, st)), ChangeSetKind::Create) if st == "REVIEW_IN_PROGRESS" => Ok(false),
            (Some((s, st)), _) if status::in_progress(&st) || st == "ROLLBACK_COMPLETE" => {
                Err(validation(
                    "CreateChangeSet",
                    format!("Stack:{} is in {st} state and can not be updated.", s.id),
                ))
            }
            (Some(_), ChangeSetKind::Create) => Err(AwsError {
                service: "cloudformation".into(),
                operation: "CreateChangeSet".into(),
                code: Some("AlreadyExistsException".into()),
                message: format!("Stack [{}] already exists", req.stack_name),
                kind: AwsErrorKind::Other,
            }),
            (Some(_), ChangeSetKind::Update) => Ok(false),
        }
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
        // Parameters are validated when the change set is created, before any stack exists.
        if let Some(t) = self.template_of(req) {
            params::validate(&t, &req.parameters).map_err(|m| validation("CreateChangeSet", m))?;
        }
        let mut stacks = self.stacks.lock().unwrap();
        let fresh = self.check_stack_state(&stacks, req)?;
        if fresh {
            // A stack created again gets a new id, as in CloudFormation.
            let n = {
                let mut seq = self.seq.lock().unwrap();
                *seq += 1;
                *seq
            };
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
                    change_sets: HashMap::new(),
                },
            );
        }
        let s = stacks.get_mut(&req.stack_name).expect("just checked");
        let id = format!("{}:changeSet/{}", s.id, req.change_set_name);
        s.change_sets.insert(id.clone(), "UNAVAILABLE".into());
        Ok(ChangeSetIds {
            id,
            stack_id: s.id.clone(),
        })
    }

    async fn describe_change_set(&self, stack: &str, cs: &str) -> Result<ChangeSetInfo, AwsError> {
        self.log("DescribeChangeSet", stack);
        let (changes, unavailable) = {
            let mut script = self.script.lock().unwrap();
            let unavailable = script.unavailable_describes > 0;
            script.unavailable_describes = script.unavailable_describes.saturating_sub(1);
            (script.changes.clone(), unavailable)
        };
        let mut stacks = self.stacks.lock().unwrap();
        let execution = Self::find(&mut stacks, stack).and_then(|s| {
            let st = s.change_sets.get_mut(cs)?;
            if st == "UNAVAILABLE" && !unavailable && !changes.is_empty() {
                *st = "AVAILABLE".into();
            }
            Some(st.clone())
        });
        Ok(if changes.is_empty() {
            ChangeSetInfo {
                status: "FAILED".into(),
                reason: Some("The submitted information didn't contain changes. Submit different information to create a change set.".into()),
                execution_status: Some("UNAVAILABLE".into()),
                ..Default::default()
            }
        } else {
            ChangeSetInfo {
                status: "CREATE_COMPLETE".into(),
                created_ms: Some(self.clock.now_ms()),
                changes,
                execution_status: execution,
                ..Default::default()
            }
        })
    }

    async fn execute_change_set(&self, stack: &str, cs: &str, token: &str) -> Result<(), AwsError> {
        self.log("ExecuteChangeSet", stack);
        self.tokens.lock().unwrap().push(token.to_string());
        if let Some(e) = self.script.lock().unwrap().execute_error.take() {
            return Err(e);
        }
        let retry = self
            .tokens
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == token)
            .count()
            > 1;
        let mut stacks = self.stacks.lock().unwrap();
        let s = Self::find(&mut stacks, stack).ok_or_else(|| missing(stack))?;
        match s.change_sets.get(cs).map(String::as_str) {
            Some("AVAILABLE") => {}
            // The same token again: CloudFormation recognises the retry and does nothing more.
            Some("EXECUTE_IN_PROGRESS") if retry => return Ok(()),
            other => {
                return Err(AwsError {
                    service: "cloudformation".into(),
                    operation: "ExecuteChangeSet".into(),
                    code: Some("InvalidChangeSetStatus".into()),
                    message: format!(
                        "ChangeSet [{cs}] cannot be executed in its current execution status of [{}]",
                        other.unwrap_or("UNKNOWN")
                    ),
                    kind: AwsErrorKind::Other,
                });
            }
        }
        // The script is used up only by an execution that starts.
        let (script, outputs, error) = {
            let mut sc = self.script.lock().unwrap();
            (
                std::mem::take(&mut sc.execute),
                sc.outputs.clone(),
                sc.execute_error_after_start.take(),
            )
        };
        s.change_sets
            .insert(cs.to_string(), "EXECUTE_IN_PROGRESS".into());
        s.outputs = outputs;
        self.schedule(s, &script, Some(token));
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn delete_change_set(&self, stack: &str, cs: &str) -> Result<(), AwsError> {
        self.log("DeleteChangeSet", stack);
        let mut stacks = self.stacks.lock().unwrap();
        if let Some(s) = Self::find(&mut stacks, stack) {
            s.change_sets.remove(cs);
        }
        Ok(())
    }

    async fn delete_stack(&self, stack: &str, role_arn: Option<&str>) -> Result<(), AwsError> {
        self.log("DeleteStack", stack);
        self.delete_roles
            .lock()
            .unwrap()
            .push(role_arn.map(str::to_string));
        let cancel = std::mem::take(&mut self.script.lock().unwrap().cancel);
        let mut stacks = self.stacks.lock().unwrap();
        let Some(s) = Self::find(&mut stacks, stack) else {
            return Ok(());
        };
        let st = self.status_of(s);
        if st == "DELETE_IN_PROGRESS" || st == "DELETE_COMPLETE" {
            return Ok(());
        }
        // Deletes are asynchronous, even of an empty REVIEW_IN_PROGRESS shell: the name is
        // taken until DELETE_COMPLETE.
        let script = if st == "REVIEW_IN_PROGRESS" {
            vec![
                stack_ev(0.0, "DELETE_IN_PROGRESS", Some("User Initiated")),
                stack_ev(3.0, "DELETE_COMPLETE", None),
            ]
        } else if cancel.is_empty() {
            vec![
                stack_ev(0.0, "DELETE_IN_PROGRESS", Some("User Initiated")),
                stack_ev(20.0, "DELETE_COMPLETE", None),
            ]
        } else {
            cancel
        };
        self.schedule(s, &script, None);
        Ok(())
    }

    async fn cancel_update_stack(&self, stack: &str) -> Result<(), AwsError> {
        self.log("CancelUpdateStack", stack);
        let cancel = std::mem::take(&mut self.script.lock().unwrap().cancel);
        let mut stacks = self.stacks.lock().unwrap();
        let s = Self::find(&mut stacks, stack).ok_or_else(|| missing(stack))?;
        if self.status_of(s) != "UPDATE_IN_PROGRESS" {
            return Err(validation(
                "CancelUpdateStack",
                "CancelUpdateStack cannot be called from current stack status".into(),
            ));
        }
        self.schedule(s, &cancel, None);
        Ok(())
    }
}

#[cfg(test)]
#[path = "fake_cfn_tests.rs"]
mod tests;
