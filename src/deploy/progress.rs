//! The progress model the panes and the plain log draw from: one [`StackProgress`] per stack,
//! its resources as rows grouped by what they are (network, database, …), a `[done/total]`
//! counter, rollback and cancel state, failure reasons kept under their row, and a bounded
//! event log. It is fed only [`DeployEvent`]s, so every front end shows the same thing.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::app_progress::AppProgress;
use super::cfn::{STACK_TYPE, status};
use super::changeset::{ChangeAction, ChangeSetKind};
use super::clock::EpochMs;
use super::event::{DeployEvent, FailureRecap, PlannedResource, Time};

/// What a resource is, for grouping rows. Decided by resource type alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Network,
    Database,
    Cache,
    Service,
    LoadBalancer,
    FrontEnd,
    Storage,
    Dns,
    Secrets,
    Access,
    Monitoring,
    Other,
}

impl Group {
    pub const ALL: [Group; 12] = [
        Group::Network,
        Group::Database,
        Group::Cache,
        Group::Service,
        Group::LoadBalancer,
        Group::FrontEnd,
        Group::Storage,
        Group::Dns,
        Group::Secrets,
        Group::Access,
        Group::Monitoring,
        Group::Other,
    ];

    pub fn of(resource_type: &str) -> Group {
        let mut parts = resource_type.split("::");
        let (vendor, service) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if vendor != "AWS" {
            return Group::Other;
        }
        match service {
            "EC2" => Group::Network,
            "RDS" => Group::Database,
            "ElastiCache" => Group::Cache,
            "ECS" | "ApplicationAutoScaling" | "Lambda" | "ECR" => Group::Service,
            "ElasticLoadBalancingV2" | "ElasticLoadBalancing" => Group::LoadBalancer,
            "CloudFront" => Group::FrontEnd,
            "S3" | "GuardDuty" => Group::Storage,
            "Route53" => Group::Dns,
            "SecretsManager" | "SSM" | "KMS" => Group::Secrets,
            "IAM" | "WAFv2" => Group::Access,
            "Logs" | "CloudWatch" | "CloudTrail" | "SNS" => Group::Monitoring,
            _ => Group::Other,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Group::Network => "Network",
            Group::Database => "Database",
            Group::Cache => "Cache",
            Group::Service => "Service",
            Group::LoadBalancer => "Load balancer",
            Group::FrontEnd => "Front end",
            Group::Storage => "Storage",
            Group::Dns => "DNS",
            Group::Secrets => "Secrets & params",
            Group::Access => "Access (IAM, WAF)",
            Group::Monitoring => "Logs & alarms",
            Group::Other => "Other",
        }
    }
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// In the change set, no event yet.
    Pending,
    InProgress,
    Done,
    Failed,
    /// CloudFormation stopped it because something else failed: not a cause.
    Cancelled,
}

impl RowState {
    pub fn terminal(self) -> bool {
        matches!(
            self,
            RowState::Done | RowState::Failed | RowState::Cancelled
        )
    }
}

fn cancelled_reason(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| {
        let r = r.to_ascii_lowercase();
        r.contains("resource creation cancelled")
            || r.contains("resource update cancelled")
            || r.contains("resource deletion cancelled")
    })
}

/// Classifies a resource status: `CREATE_IN_PROGRESS`, `DELETE_COMPLETE`, `UPDATE_FAILED`, ...
pub fn row_state(status_text: &str, reason: Option<&str>) -> RowState {
    if status::failed(status_text) {
        if cancelled_reason(reason) {
            RowState::Cancelled
        } else {
            RowState::Failed
        }
    } else if status::in_progress(status_text) {
        RowState::InProgress
    } else if status_text.is_empty() {
        RowState::Pending
    } else {
        RowState::Done
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub logical_id: String,
    pub resource_type: String,
    pub group: Group,
    /// The change-set action, when the row was planned.
    pub action: Option<ChangeAction>,
    pub replaces: bool,
    /// CloudFormation's last status for it (`CREATE_IN_PROGRESS`, ...); empty before any event.
    pub status: String,
    pub state: RowState,
    pub started_ms: Option<EpochMs>,
    pub finished_ms: Option<EpochMs>,
    /// The status it failed with, kept through the rollback that follows.
    pub failed_status: Option<String>,
    /// Why it failed (or was cancelled), as CloudFormation said.
    pub reason: Option<String>,
    pub failed_ms: Option<EpochMs>,
    /// How long it ran before it failed.
    pub failed_after_ms: Option<i64>,
    /// Touched while the stack rolled back (drawn in the rollback colour).
    pub rollback: bool,
    /// What ECS says about a service that does not stabilise (stopped tasks' reasons first,
    /// then its latest events); shown under the row until it completes.
    pub diagnosis: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StackProgress {
    pub name: String,
    pub region: String,
    pub stack_id: Option<String>,
    pub kind: Option<ChangeSetKind>,
    /// The stack's own status, from its row in the event stream.
    pub status: Option<String>,
    pub status_reason: Option<String>,
    pub started_ms: Option<EpochMs>,
    pub finished_ms: Option<EpochMs>,
    pub rows: Vec<Row>,
    index: HashMap<String, usize>,
    /// Resources the change set touches.
    pub planned: usize,
    pub rolling_back: bool,
    /// What Ctrl-C asked for, once it did.
    pub cancel: Option<String>,
    pub ok: Option<bool>,
    pub outputs: BTreeMap<String, String>,
    /// Followed, not started by this deploy: an operation was already running on it.
    pub attached: bool,
    /// Being deleted (`destroy`): Ctrl-C stops following, it cancels nothing.
    pub deleting: bool,
}

impl StackProgress {
    fn new(name: &str, region: &str) -> Self {
        Self {
            name: name.into(),
            region: region.into(),
            stack_id: None,
            kind: None,
            status: None,
            status_reason: None,
            started_ms: None,
            finished_ms: None,
            rows: Vec::new(),
            index: HashMap::new(),
            planned: 0,
            rolling_back: false,
            cancel: None,
            ok: None,
            outputs: BTreeMap::new(),
            attached: false,
            deleting: false,
        }
    }

    fn row_mut(&mut self, logical_id: &str, resource_type: &str) -> &mut Row {
        let i = match self.index.get(logical_id) {
            Some(&i) => i,
            None => {
                self.rows.push(Row {
                    logical_id: logical_id.into(),
                    resource_type: resource_type.into(),
                    group: Group::of(resource_type),
                    action: None,
                    replaces: false,
                    status: String::new(),
                    state: RowState::Pending,
                    started_ms: None,
                    finished_ms: None,
                    failed_status: None,
                    reason: None,
                    failed_ms: None,
                    failed_after_ms: None,
                    rollback: false,
                    diagnosis: Vec::new(),
                });
                self.index.insert(logical_id.into(), self.rows.len() - 1);
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    pub fn row(&self, logical_id: &str) -> Option<&Row> {
        self.index.get(logical_id).map(|&i| &self.rows[i])
    }

    /// `[done/total]`: rows in a final state, out of the planned rows (or every row seen).
    pub fn counter(&self) -> (usize, usize) {
        let done = self.rows.iter().filter(|r| r.state.terminal()).count();
        (done, self.planned.max(self.rows.len()))
    }

    /// Rows of a group, in the order they were planned or first seen.
    pub fn group_rows(&self, g: Group) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.group == g)
    }

    pub fn finished(&self) -> bool {
        self.ok.is_some()
    }
}

/// One line of the event log pane.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at_ms: EpochMs,
    pub stack: String,
    pub logical_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub rollback: bool,
}

/// What changed for a row with one event: the plain log prints one line per transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    pub from: RowState,
    pub to: RowState,
    pub status: String,
    pub reason: Option<String>,
    /// Time spent since the row started, when it ends.
    pub elapsed_ms: Option<i64>,
    pub rollback: bool,
}

pub const LOG_CAPACITY: usize = 1000;

/// Everything the panes draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployState {
    pub stacks: Vec<StackProgress>,
    /// The stack being deployed now (index into `stacks`).
    pub current: usize,
    pub log: VecDeque<LogLine>,
    pub now_ms: EpochMs,
    pub started_ms: Option<EpochMs>,
    pub warning: Option<String>,
    pub notes: Vec<String>,
    /// `Some(ok)` once the deploy ended.
    pub ok: Option<bool>,
    pub cancelled: bool,
    pub failures: Vec<FailureRecap>,
    /// The web app's publish, once it began (the deploy's last stage).
    pub app: Option<AppProgress>,
}

impl DeployState {
    pub fn new() -> Self {
        Self::default()
    }

    fn stack_mut(&mut self, name: &str, region: &str) -> usize {
        match self.stacks.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.stacks.push(StackProgress::new(name, region));
                self.stacks.len() - 1
            }
        }
    }

    pub fn stack(&self, name: &str) -> Option<&StackProgress> {
        self.stacks.iter().find(|s| s.name == name)
    }

    pub fn current_stack(&self) -> Option<&StackProgress> {
        self.stacks.get(self.current)
    }

    fn tick(&mut self, at: EpochMs) {
        self.now_ms = self.now_ms.max(at);
    }

    /// Folds one event into the model; returns the row transition it caused, if any.
    pub fn apply(&mut self, ev: &DeployEvent) -> Option<Transition> {
        match ev {
            DeployEvent::StackStarted {
                stack,
                region,
                stack_id,
                kind,
                at,
                resources,
            } => {
                self.tick(at.0);
                self.started_ms.get_or_insert(at.0);
                let i = self.stack_mut(stack, region);
                self.current = i;
                let s = &mut self.stacks[i];
                s.stack_id = Some(stack_id.clone());
                s.kind = Some(*kind);
                s.started_ms = Some(at.0);
                s.planned = resources.len();
                for PlannedResource {
                    logical_id,
                    resource_type,
                    action,
                    replaces,
                } in resources
                {
                    let r = s.row_mut(logical_id, resource_type);
                    r.action = Some(*action);
                    r.replaces = *replaces;
                }
                None
            }
            DeployEvent::Attaching {
                stack,
                region,
                stack_id,
                status: st,
                since,
                at,
            } => {
                self.tick(at.0);
                self.started_ms.get_or_insert(since.0);
                let i = self.stack_mut(stack, region);
                self.current = i;
                // A fresh row set: what an earlier operation showed does not apply.
                self.stacks[i] = StackProgress::new(stack, region);
                let s = &mut self.stacks[i];
                s.stack_id = Some(stack_id.clone());
                s.status = Some(st.clone());
                s.started_ms = Some(since.0);
                s.attached = true;
                s.deleting = st.starts_with("DELETE");
                None
            }
            DeployEvent::DeleteStarted {
                stack,
                region,
                stack_id,
                at,
            } => {
                self.tick(at.0);
                self.started_ms.get_or_insert(at.0);
                let i = self.stack_mut(stack, region);
                self.current = i;
                self.stacks[i] = StackProgress::new(stack, region);
                let s = &mut self.stacks[i];
                s.stack_id = Some(stack_id.clone());
                s.status = Some("DELETE_IN_PROGRESS".into());
                s.started_ms = Some(at.0);
                s.deleting = true;
                None
            }
            DeployEvent::Resource {
                stack,
                logical_id,
                resource_type,
                status: st,
                reason,
                at,
                ..
            } => {
                self.tick(at.0);
                let i = self.stack_mut(stack, "");
                let s = &mut self.stacks[i];
                let is_stack = resource_type == STACK_TYPE && logical_id == stack;
                let rollback_now = s.rolling_back;
                self.log.push_back(LogLine {
                    at_ms: at.0,
                    stack: stack.clone(),
                    logical_id: logical_id.clone(),
                    status: st.clone(),
                    reason: reason.clone(),
                    rollback: rollback_now || (is_stack && status::rollback(st)),
                });
                while self.log.len() > LOG_CAPACITY {
                    self.log.pop_front();
                }
                if is_stack {
                    s.status = Some(st.clone());
                    // "User Initiated" says who started it, not why anything happened.
                    if reason.as_deref().is_some_and(|r| r != "User Initiated") {
                        s.status_reason = reason.clone();
                    }
                    // A rollback, or the delete Ctrl-C asked for on a create, undoes work.
                    if status::in_progress(st)
                        && (status::rollback(st)
                            || (st.starts_with("DELETE") && s.cancel.is_some()))
                    {
                        s.rolling_back = true;
                    }
                    return None;
                }
                let r = s.row_mut(logical_id, resource_type);
                let from = r.state;
                let to = row_state(st, reason.as_deref());
                r.status = st.clone();
                r.rollback |= rollback_now;
                let mut elapsed = None;
                match to {
                    RowState::InProgress => {
                        if from != RowState::InProgress {
                            r.started_ms = Some(at.0);
                            r.finished_ms = None;
                        }
                    }
                    RowState::Failed | RowState::Cancelled => {
                        r.finished_ms = Some(at.0);
                        elapsed = r.started_ms.map(|t| at.0 - t);
                        if r.failed_status.is_none() || to == RowState::Failed {
                            r.failed_status = Some(st.clone());
                            r.reason = reason.clone();
                            r.failed_ms = Some(at.0);
                            r.failed_after_ms = elapsed;
                        }
                    }
                    RowState::Done => {
                        r.finished_ms = Some(at.0);
                        elapsed = r.started_ms.map(|t| at.0 - t);
                        r.diagnosis.clear();
                    }
                    RowState::Pending => {}
                }
                // A failed row keeps showing as failed through the rollback that follows.
                r.state = match (&r.failed_status, to) {
                    (Some(failed), RowState::Done) => row_state(failed, r.reason.as_deref()),
                    _ => to,
                };
                if from == r.state {
                    return None;
                }
                Some(Transition {
                    stack: stack.clone(),
                    logical_id: logical_id.clone(),
                    resource_type: resource_type.clone(),
                    from,
                    to,
                    status: st.clone(),
                    reason: reason.clone(),
                    elapsed_ms: elapsed,
                    rollback: r.rollback,
                })
            }
            DeployEvent::ServiceDiagnosis {
                stack,
                logical_id,
                events,
                stopped_tasks,
                at,
                ..
            } => {
                self.tick(at.0);
                let i = self.stack_mut(stack, "");
                let r = self.stacks[i].row_mut(logical_id, crate::deploy::diagnose::ECS_SERVICE);
                r.diagnosis = stopped_tasks
                    .iter()
                    .map(|t| format!("stopped task: {t}"))
                    .chain(events.iter().take(2).map(|e| format!("ECS: {e}")))
                    .collect();
                None
            }
            DeployEvent::Tick { at } => {
                self.tick(at.0);
                None
            }
            DeployEvent::PollWarning { message, .. } => {
                self.warning = Some(message.clone());
                None
            }
            DeployEvent::Note { message, .. } => {
                self.notes.push(message.clone());
                None
            }
            DeployEvent::Cancelling { stack, message, .. } => {
                let i = self.stack_mut(stack, "");
                self.stacks[i].cancel = Some(message.clone());
                self.cancelled = true;
                None
            }
            DeployEvent::StackFinished {
                stack,
                status: st,
                ok,
                reason,
                outputs,
                at,
            } => {
                self.tick(at.0);
                self.warning = None;
                let i = self.stack_mut(stack, "");
                let s = &mut self.stacks[i];
                s.status = Some(st.clone());
                if reason.is_some() {
                    s.status_reason = reason.clone();
                }
                s.ok = Some(*ok);
                s.finished_ms = Some(at.0);
                s.rolling_back = s.rolling_back && !*ok;
                s.outputs = outputs.clone();
                None
            }
            DeployEvent::Finished {
                ok,
                cancelled,
                failures,
                at,
            } => {
                self.tick(at.0);
                self.ok = Some(*ok);
                self.cancelled |= *cancelled;
                self.failures = failures.clone();
                None
            }
            DeployEvent::App(e) => {
                self.app.get_or_insert_with(AppProgress::default).apply(e);
                None
            }
            DeployEvent::ChangeSet { .. } => None,
        }
    }

    /// Failed resources across stacks, first failure first, without cancellation noise. When no
    /// resource failed but a stack did, the stack's own reason stands in.
    pub fn failure_recap(&self) -> Vec<FailureRecap> {
        let mut out: Vec<FailureRecap> = self
            .stacks
            .iter()
            .flat_map(|s| {
                s.rows
                    .iter()
                    .filter(|r| r.state == RowState::Failed)
                    .map(move |r| FailureRecap {
                        stack: s.name.clone(),
                        logical_id: r.logical_id.clone(),
                        resource_type: r.resource_type.clone(),
                        status: r.failed_status.clone().unwrap_or_default(),
                        reason: r.reason.clone().unwrap_or_default(),
                        at: Time(r.failed_ms.unwrap_or_default()),
                    })
            })
            .collect();
        out.sort_by_key(|f| f.at);
        if out.is_empty() {
            for s in &self.stacks {
                if s.ok == Some(false)
                    && let Some(reason) = &s.status_reason
                {
                    out.push(FailureRecap {
                        stack: s.name.clone(),
                        logical_id: s.name.clone(),
                        resource_type: STACK_TYPE.into(),
                        status: s.status.clone().unwrap_or_default(),
                        reason: reason.clone(),
                        at: Time(s.finished_ms.unwrap_or_default()),
                    });
                }
            }
        }
        out
    }
}

/// `creating`, `updating`, `deleting`, from a status.
pub fn verb(status_text: &str) -> &'static str {
    match status_text.split('_').next().unwrap_or("") {
        "CREATE" => "creating",
        "UPDATE" => "updating",
        "DELETE" => "deleting",
        "IMPORT" => "importing",
        "ROLLBACK" => "rolling back",
        _ => "working on",
    }
}

/// A status in a few words for a row: `creating`, `created`, `create failed`, `deleted`, ...
pub fn short_status(status_text: &str) -> String {
    let (op, state) = match status_text.rsplit_once('_') {
        Some((op, "PROGRESS")) => (op.trim_end_matches("_IN"), "PROGRESS"),
        Some(pair) => pair,
        None => return status_text.to_ascii_lowercase(),
    };
    let word = match (op, state) {
        ("CREATE", "PROGRESS") => "creating",
        ("CREATE", "COMPLETE") => "created",
        ("UPDATE", "PROGRESS") => "updating",
        ("UPDATE", "COMPLETE") => "updated",
        ("DELETE", "PROGRESS") => "deleting",
        ("DELETE", "COMPLETE") => "deleted",
        ("DELETE", "SKIPPED") => "kept",
        ("IMPORT", "PROGRESS") => "importing",
        ("IMPORT", "COMPLETE") => "imported",
        _ => return status_words(status_text),
    };
    word.to_string()
}

/// `create in progress`: a status as row text.
pub fn status_words(status_text: &str) -> String {
    status_text.to_ascii_lowercase().replace('_', " ")
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
