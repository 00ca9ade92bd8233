//! Test support for the deploy runtime: a fake clock that never waits, event timelines (recorded
//! or generated), the scripted CloudFormation that replays them ([`fake_cfn`]) and an in-memory
//! staging store.

mod fake_cfn;
mod params;

pub use fake_cfn::{FakeCfn, Script};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::cfn::STACK_TYPE;
use super::changeset::{ChangeAction, ChangeSetKind, ResourceChange};
use super::clock::{Clock, EpochMs, parse_rfc3339};
use super::event::{DeployEvent, PlannedResource, Time};
use crate::aws::{AwsError, AwsErrorKind};
use crate::config::infra::InfraConfig;

/// The reference CDK config (tests/fixtures/reference), deployed to `region`.
pub fn reference_config(region: &str) -> InfraConfig {
    let text = include_str!("../../../tests/fixtures/reference/medplum.staging.config.json");
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    map.insert("region".into(), region.into());
    InfraConfig::from_map(map).unwrap()
}

/// A create of `stack` starting at [`T0`] with `resources` (logical id, type) to add.
pub fn stack_started(stack: &str, resources: &[(&str, &str)]) -> DeployEvent {
    DeployEvent::StackStarted {
        stack: stack.into(),
        region: "us-east-1".into(),
        stack_id: format!("arn:…/{stack}"),
        kind: ChangeSetKind::Create,
        at: Time(T0),
        resources: resources
            .iter()
            .map(|(id, ty)| PlannedResource {
                logical_id: (*id).into(),
                resource_type: (*ty).into(),
                action: ChangeAction::Add,
                replaces: false,
            })
            .collect(),
    }
}

/// 2025-01-01T00:00:00Z.
pub const T0: EpochMs = 1_735_689_600_000;

#[derive(Default)]
pub struct FakeClock {
    now: AtomicI64,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl FakeClock {
    pub fn at(ms: EpochMs) -> Arc<Self> {
        let c = Self::default();
        c.now.store(ms, Ordering::SeqCst);
        Arc::new(c)
    }
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now_ms(&self) -> EpochMs {
        self.now.load(Ordering::SeqCst)
    }
    async fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
        self.advance(d);
        tokio::task::yield_now().await;
    }
}

/// One event of a timeline, relative to the moment the operation starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    pub offset_ms: i64,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    /// The resource's physical ID, when the timeline gives one (an ECS service's ARN).
    pub physical_id: Option<String>,
}

pub fn ev(
    offset_s: f64,
    logical_id: &str,
    resource_type: &str,
    status: &str,
    reason: Option<&str>,
) -> Scripted {
    Scripted {
        offset_ms: (offset_s * 1000.0) as i64,
        logical_id: logical_id.into(),
        resource_type: resource_type.into(),
        status: status.into(),
        reason: reason.map(str::to_string),
        physical_id: None,
    }
}

/// A stack-level event (`logical_id` is replaced by the stack's name).
pub fn stack_ev(offset_s: f64, status: &str, reason: Option<&str>) -> Scripted {
    ev(offset_s, "$STACK", STACK_TYPE, status, reason)
}

/// A recorded stream as the AWS CLI prints it (`aws cloudformation describe-stack-events`),
/// re-based so its first event is at offset 0.
pub fn from_cli_recording(json: &str) -> Vec<Scripted> {
    let v: serde_json::Value = serde_json::from_str(json).expect("recording is JSON");
    let mut events: Vec<(EpochMs, Scripted)> = v["StackEvents"]
        .as_array()
        .expect("StackEvents array")
        .iter()
        .map(|e| {
            let at = parse_rfc3339(e["Timestamp"].as_str().unwrap()).unwrap();
            let is_stack =
                e["ResourceType"] == STACK_TYPE && e["LogicalResourceId"] == e["StackName"];
            (
                at,
                Scripted {
                    offset_ms: 0,
                    logical_id: if is_stack {
                        "$STACK".into()
                    } else {
                        e["LogicalResourceId"].as_str().unwrap().into()
                    },
                    resource_type: e["ResourceType"].as_str().unwrap().into(),
                    status: e["ResourceStatus"].as_str().unwrap().into(),
                    reason: e["ResourceStatusReason"].as_str().map(str::to_string),
                    physical_id: None,
                },
            )
        })
        .collect();
    events.sort_by_key(|(at, _)| *at); // the CLI lists newest first
    let first = events.first().map(|(at, _)| *at).unwrap_or(0);
    events
        .into_iter()
        .map(|(at, mut s)| {
            s.offset_ms = at - first;
            s
        })
        .collect()
}

/// Medplum-like resources: the reference template's, repeated with a suffix up to `n`.
pub fn medplum_like_resources(n: usize) -> Vec<(String, String)> {
    let t: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/reference/MedplumStagingStack.template.json"
    ))
    .unwrap();
    let base: Vec<(String, String)> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| (id.clone(), r["Type"].as_str().unwrap().to_string()))
        .collect();
    (0..n)
        .map(|i| {
            let (id, ty) = &base[i % base.len()];
            let pass = i / base.len();
            (
                if pass == 0 {
                    id.clone()
                } else {
                    format!("{id}{pass}")
                },
                ty.clone(),
            )
        })
        .collect()
}

/// How long a create of this type takes in the generated timelines (shaped like real ones).
pub fn typical_create_ms(resource_type: &str, i: usize) -> i64 {
    let s = match resource_type {
        "AWS::ElastiCache::ReplicationGroup" => 540,
        "AWS::RDS::DBCluster" => 480,
        "AWS::RDS::DBInstance" => 420,
        "AWS::CloudFront::Distribution" => 240,
        "AWS::ECS::Service" => 180,
        "AWS::EC2::NatGateway" => 100,
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => 150,
        _ => 3 + (i as i64 * 7) % 30,
    };
    s * 1000
}

/// A successful create of these resources: staggered starts, typical durations.
pub fn create_timeline(resources: &[(String, String)]) -> Vec<Scripted> {
    let mut out = vec![stack_ev(0.0, "CREATE_IN_PROGRESS", Some("User Initiated"))];
    let mut end = 0i64;
    for (i, (id, ty)) in resources.iter().enumerate() {
        let start = 1000 + (i as i64 % 12) * 1500 + (i as i64 / 12) * 9000;
        let done = start + typical_create_ms(ty, i);
        end = end.max(done);
        let s = start as f64 / 1000.0;
        out.push(ev(s, id, ty, "CREATE_IN_PROGRESS", None));
        out.push(ev(
            s + 1.0,
            id,
            ty,
            "CREATE_IN_PROGRESS",
            Some("Resource creation Initiated"),
        ));
        out.push(ev(done as f64 / 1000.0, id, ty, "CREATE_COMPLETE", None));
    }
    out.push(stack_ev(
        (end + 2000) as f64 / 1000.0,
        "CREATE_COMPLETE",
        None,
    ));
    out
}

/// The change-set rows for a create of these resources.
pub fn adds(resources: &[(String, String)]) -> Vec<ResourceChange> {
    resources
        .iter()
        .map(|(id, ty)| ResourceChange {
            action: ChangeAction::Add,
            logical_id: id.clone(),
            resource_type: ty.clone(),
            replacement: None,
            replacing_properties: vec![],
            scope: vec![],
            properties: Vec::new(),
        })
        .collect()
}

pub fn throttling() -> AwsError {
    AwsError {
        service: "cloudformation".into(),
        operation: "DescribeStackEvents".into(),
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
        kind: AwsErrorKind::Throttled,
    }
}

/// A staging store that keeps templates in memory.
#[derive(Default)]
pub struct MemStore {
    pub staged: Mutex<Vec<(String, String)>>,
    /// Bodies by URL, for the fake CloudFormation to read.
    bodies: Mutex<std::collections::HashMap<String, String>>,
}

impl MemStore {
    pub fn body(&self, url: &str) -> Option<String> {
        self.bodies.lock().unwrap().get(url).cloned()
    }
}

#[async_trait]
impl super::staging::TemplateStore for MemStore {
    async fn stage(
        &self,
        stack: &str,
        region: &str,
        body: &str,
    ) -> Result<super::staging::TemplateSource, super::error::DeployError> {
        let key = super::staging::template_key(stack, body);
        self.staged
            .lock()
            .unwrap()
            .push((stack.into(), key.clone()));
        let url = super::staging::template_url("mem", region, &key);
        self.bodies
            .lock()
            .unwrap()
            .insert(url.clone(), body.to_string());
        Ok(super::staging::TemplateSource::Url {
            url,
            bucket: "mem".into(),
            key,
        })
    }
}

/// Scripted events as the monitor would report them for `stack`, starting at `start`.
pub fn as_deploy_events(
    stack: &str,
    start: EpochMs,
    script: &[Scripted],
) -> Vec<super::event::DeployEvent> {
    // In time order, as the monitor delivers them.
    let mut script = script.to_vec();
    script.sort_by_key(|s| s.offset_ms);
    script
        .iter()
        .map(|s| super::event::DeployEvent::Resource {
            stack: stack.into(),
            logical_id: if s.logical_id == "$STACK" {
                stack.into()
            } else {
                s.logical_id.clone()
            },
            resource_type: s.resource_type.clone(),
            physical_id: None,
            status: s.status.clone(),
            reason: s.reason.clone(),
            at: super::event::Time(start + s.offset_ms),
        })
        .collect()
}

/// The failed create recorded in tests/fixtures/deploy (ElastiCache rejects the node type).
pub fn failure_recording() -> Vec<Scripted> {
    from_cli_recording(include_str!(
        "../../../tests/fixtures/deploy/create-failure-rollback.events.json"
    ))
}
