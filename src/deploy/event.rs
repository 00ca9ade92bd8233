//! The typed events of a deploy: what the deployer and the monitor report, and what the panes,
//! the plain log and the JSON lines render. Like the engine's events they are serialised with an
//! `event` tag, so `--output json` readers see one uniform stream of objects.
//!
//! Events carry names, ids, statuses and CloudFormation's own reasons: never template bodies
//! or parameter values.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Serialize, Serializer};
use tokio::sync::mpsc;

use super::changeset::{ChangeAction, ChangeSetKind, DiffSummary, StackDiff};
use super::clock::{EpochMs, rfc3339};
use super::progress::DeployState;

/// An instant, serialised as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub EpochMs);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

/// A resource a stack's change set touches: a row of the panes before its first event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub action: ChangeAction,
    pub replaces: bool,
}

/// A failed resource, for the recap at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureRecap {
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
    pub at: Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelAction {
    /// CancelUpdateStack: CloudFormation rolls the update back.
    CancelUpdate,
    /// DeleteStack on a stack being created: nothing of it is kept.
    DeleteStack,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeployEvent {
    /// One stack's change set, computed and not yet executed.
    ChangeSet {
        #[serde(flatten)]
        diff: StackDiff,
        summary: DiffSummary,
    },
    /// Something the deployer did or found, for the log ("template staged at …").
    Note {
        #[serde(skip_serializing_if = "Option::is_none")]
        stack: Option<String>,
        message: String,
    },
    /// Execution of a stack's change set began.
    StackStarted {
        stack: String,
        region: String,
        stack_id: String,
        kind: ChangeSetKind,
        at: Time,
        resources: Vec<PlannedResource>,
    },
    /// An operation was already running on the stack when the deploy started (a deploy killed
    /// mid-create, run again): the deploy follows it until it settles, then plans from there.
    /// Its events follow as `Resource`, its end as `StackFinished`.
    Attaching {
        stack: String,
        region: String,
        stack_id: String,
        /// The status found (CREATE_IN_PROGRESS, DELETE_IN_PROGRESS, ...).
        status: String,
        /// When the running operation began (events from then on are shown).
        since: Time,
        at: Time,
    },
    /// `destroy` asked CloudFormation to delete a stack (DeleteStack accepted). A delete already
    /// running is followed with `Attaching` instead. Its events follow as `Resource`.
    DeleteStarted {
        stack: String,
        region: String,
        stack_id: String,
        at: Time,
    },
    /// One CloudFormation stack event: a resource, or the stack itself, changed status.
    Resource {
        stack: String,
        logical_id: String,
        resource_type: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        physical_id: Option<String>,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        at: Time,
    },
    /// Why an ECS service is not stabilising, from ECS itself (its latest events, its stopped
    /// tasks' reasons), read once it has been in progress for `--diagnose-after`.
    ServiceDiagnosis {
        stack: String,
        logical_id: String,
        /// The service's ARN.
        service: String,
        in_progress_ms: i64,
        events: Vec<String>,
        stopped_tasks: Vec<String>,
        at: Time,
    },
    /// Time passed (after every poll): elapsed times and heartbeats move on.
    Tick { at: Time },
    /// Polling trouble. The deploy goes on; the final status comes from DescribeStacks.
    PollWarning {
        stack: String,
        message: String,
        throttled: bool,
        retry_in_ms: u64,
    },
    /// Ctrl-C: what was asked of CloudFormation, and whether it accepted.
    Cancelling {
        stack: String,
        action: CancelAction,
        accepted: bool,
        message: String,
    },
    /// A stack reached a final status.
    StackFinished {
        stack: String,
        status: String,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        outputs: BTreeMap<String, String>,
        at: Time,
    },
    /// The web app's publish: the deploy's last stage, and all of `medplum-init app`.
    App(AppEvent),
    /// The whole deploy ended.
    Finished {
        ok: bool,
        cancelled: bool,
        /// First failure first; "Resource creation cancelled" noise left out.
        failures: Vec<FailureRecap>,
        at: Time,
    },
}

/// One step of the web app's publish, in the order they come: fetching (with download
/// progress when the package comes from a registry), the plan, each object written or removed,
/// the CloudFront invalidation, the end. Serialised inside the `app` event with an `app` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "app", rename_all = "snake_case")]
pub enum AppEvent {
    /// The package is being fetched; `version` once it is known.
    Fetching {
        package: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        source: String,
    },
    /// Bytes of the tarball received, and the total when the registry said it. Sent when the
    /// percentage moves, not for every chunk.
    Download { received: u64, total: Option<u64> },
    /// What the publish will do, compared with the bucket.
    Planned {
        version: String,
        bucket: String,
        uploads: usize,
        unchanged: usize,
        deletes: usize,
    },
    /// One object written (`done` of `total`), `index.html` last.
    Uploaded {
        key: String,
        done: usize,
        total: usize,
    },
    /// One stale object removed, after the new index is live.
    Removed { key: String },
    /// The CloudFront invalidation's status (`InProgress`, `Completed`).
    Invalidation { id: String, status: String },
    /// The publish ended: what now serves where, or what failed.
    Finished { ok: bool, message: String },
}

/// Where the deploy engine sends its events. Sending never blocks and never fails.
#[derive(Debug, Clone)]
pub struct DeploySink {
    tx: Option<mpsc::UnboundedSender<DeployEvent>>,
    /// A model folded from everything sent, for the engine's own recap.
    state: Option<Arc<Mutex<DeployState>>>,
}

impl DeploySink {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<DeployEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx: Some(tx),
                state: None,
            },
            rx,
        )
    }

    pub fn discard() -> Self {
        Self {
            tx: None,
            state: None,
        }
    }

    /// The same sink, also folding every event into a [`DeployState`] the caller can read.
    pub fn tracked(&self) -> (Self, Arc<Mutex<DeployState>>) {
        let state = Arc::new(Mutex::new(DeployState::new()));
        (
            Self {
                tx: self.tx.clone(),
                state: Some(state.clone()),
            },
            state,
        )
    }

    pub fn emit(&self, event: DeployEvent) {
        if let Some(state) = &self.state {
            state.lock().expect("deploy state lock").apply(&event);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    pub fn note(&self, stack: Option<&str>, message: impl Into<String>) {
        self.emit(DeployEvent::Note {
            stack: stack.map(str::to_string),
            message: message.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_a_tag_and_rfc3339_times() {
        let e = DeployEvent::Tick {
            at: Time(1_700_000_000_123),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"tick","at":"2023-11-14T22:13:20.123Z"}"#
        );
        let e = DeployEvent::ChangeSet {
            diff: StackDiff {
                stack: "S".into(),
                region: "us-east-1".into(),
                kind: ChangeSetKind::Update,
                changes: vec![],
                note: None,
                risks: vec![],
            },
            summary: DiffSummary::default(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "change_set");
        assert_eq!(v["stack"], "S");
        assert_eq!(v["kind"], "update");
        assert_eq!(v["summary"]["add"], 0);
    }

    #[test]
    fn app_events_are_tagged_twice() {
        let e = DeployEvent::App(AppEvent::Uploaded {
            key: "index.html".into(),
            done: 3,
            total: 3,
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"app","app":"uploaded","key":"index.html","done":3,"total":3}"#
        );
    }
}
