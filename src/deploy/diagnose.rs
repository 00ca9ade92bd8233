//! Why a stack makes no progress. The usual cause in a Medplum deploy is the server's ECS
//! service: CloudFormation waits (up to hours) for it to stabilise while its tasks fail to start
//! (an image that cannot be pulled, a secret it may not read, a health check that never
//! passes), and the stack events say nothing but `CREATE_IN_PROGRESS`. ECS itself knows: the
//! service's events and the stopped tasks' `stoppedReason` and containers' `reason`.
//!
//! [`ServiceWatch`] is fed the monitor's events; once an `AWS::ECS::Service` has been in progress
//! for the configured time (`--diagnose-after`, default 5 minutes) it asks a
//! [`ServiceDiagnostics`] (ECS through the SDK in production, a fake in tests) and reports
//! what it found as a [`DeployEvent::ServiceDiagnosis`], again at most once a minute and only
//! when something changed.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::cfn::{StackEventRecord, status};
use super::clock::EpochMs;
use super::event::{DeployEvent, DeploySink, Time};
use crate::aws::AwsError;

/// The resource type diagnosed.
pub const ECS_SERVICE: &str = "AWS::ECS::Service";

/// What ECS says about one service, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceReport {
    /// The latest service events ("has started 1 tasks", "is unable to consistently start
    /// tasks successfully"), newest first.
    pub events: Vec<String>,
    /// Why recently stopped tasks stopped: `stoppedReason`, then each container's `reason`.
    pub stopped_tasks: Vec<String>,
}

impl ServiceReport {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.stopped_tasks.is_empty()
    }
}

/// The ECS lookups, behind a trait so unit tests drive them.
#[async_trait]
pub trait ServiceDiagnostics: Send + Sync {
    /// The service's latest events and its stopped tasks' reasons. `service` is the physical ID
    /// CloudFormation reports (the service ARN, which names the cluster).
    async fn diagnose(&self, region: &str, service: &str) -> Result<ServiceReport, AwsError>;
}

/// The cluster of a service ARN (`arn:aws:ecs:<region>:<account>:service/<cluster>/<name>`);
/// the old ARN format without a cluster means the default cluster.
pub fn cluster_of(service_arn: &str) -> String {
    let resource = service_arn.rsplit(':').next().unwrap_or(service_arn);
    let parts: Vec<&str> = resource.split('/').collect();
    match parts[..] {
        ["service", cluster, _name] => cluster.to_string(),
        _ => "default".to_string(),
    }
}

/// How many of each kind of line a diagnosis keeps.
pub const KEEP: usize = 5;

/// The shortest time between two diagnoses of one service.
const EVERY: Duration = Duration::from_secs(60);

struct Tracked {
    physical_id: Option<String>,
    started_ms: EpochMs,
    last_ms: Option<EpochMs>,
    last: Option<ServiceReport>,
}

/// Follows ECS services through a stack's events and diagnoses the slow ones.
pub struct ServiceWatch<'a> {
    source: &'a dyn ServiceDiagnostics,
    region: String,
    after: Duration,
    services: BTreeMap<String, Tracked>,
}

impl<'a> ServiceWatch<'a> {
    pub fn new(source: &'a dyn ServiceDiagnostics, region: &str, after: Duration) -> Self {
        Self {
            source,
            region: region.to_string(),
            after,
            services: BTreeMap::new(),
        }
    }

    /// Notes the service rows among `events` (in progress: tracked; anything else: dropped).
    pub fn observe(&mut self, events: &[StackEventRecord]) {
        for e in events.iter().filter(|e| e.resource_type == ECS_SERVICE) {
            if status::in_progress(&e.status) {
                let t = self
                    .services
                    .entry(e.logical_id.clone())
                    .or_insert_with(|| Tracked {
                        physical_id: None,
                        started_ms: e.at_ms,
                        last_ms: None,
                        last: None,
                    });
                if let Some(p) = e.physical_id.as_deref().filter(|p| !p.is_empty()) {
                    t.physical_id = Some(p.to_string());
                }
            } else {
                self.services.remove(&e.logical_id);
            }
        }
    }

    /// Diagnoses the services in progress for longer than the threshold, reporting what changed.
    /// A failed lookup is reported once as a note: it never stops the deploy.
    pub async fn check(&mut self, now_ms: EpochMs, stack: &str, sink: &DeploySink) {
        let after = self.after.as_millis() as i64;
        for (logical_id, t) in self.services.iter_mut() {
            let Some(physical) = t.physical_id.clone() else {
                continue;
            };
            let due = now_ms - t.started_ms >= after
                && t.last_ms
                    .is_none_or(|l| now_ms - l >= EVERY.as_millis() as i64);
            if !due {
                continue;
            }
            let first = t.last_ms.is_none();
            t.last_ms = Some(now_ms);
            match self.source.diagnose(&self.region, &physical).await {
                Ok(report) if report.is_empty() || t.last.as_ref() == Some(&report) => {}
                Ok(report) => {
                    t.last = Some(report.clone());
                    sink.emit(DeployEvent::ServiceDiagnosis {
                        stack: stack.to_string(),
                        logical_id: logical_id.clone(),
                        service: physical,
                        in_progress_ms: now_ms - t.started_ms,
                        events: report.events,
                        stopped_tasks: report.stopped_tasks,
                        at: Time(now_ms),
                    });
                }
                Err(e) if first => sink.note(
                    Some(stack),
                    format!(
                        "{logical_id} is still in progress; could not read its ECS events ({e})"
                    ),
                ),
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
pub(crate) mod tests;
