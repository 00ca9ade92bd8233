use std::sync::{Arc, Mutex};

use super::*;
use crate::deploy::event::DeploySink;
use crate::deploy::testkit::T0;

const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service/MedplumCluster/MedplumService";

/// ECS answering from a list of reports, one per call (the last repeats).
pub(crate) struct FakeEcs {
    pub reports: Mutex<Vec<Result<ServiceReport, AwsError>>>,
    pub calls: Mutex<Vec<(String, String)>>,
}

impl FakeEcs {
    pub(crate) fn new(reports: Vec<Result<ServiceReport, AwsError>>) -> Arc<Self> {
        Arc::new(Self {
            reports: Mutex::new(reports),
            calls: Mutex::new(Vec::new()),
        })
    }
    pub(crate) fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl ServiceDiagnostics for FakeEcs {
    async fn diagnose(&self, region: &str, service: &str) -> Result<ServiceReport, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push((region.to_string(), service.to_string()));
        let mut r = self.reports.lock().unwrap();
        if r.len() > 1 {
            r.remove(0)
        } else {
            r[0].clone()
        }
    }
}

pub(crate) fn pull_failure() -> ServiceReport {
    ServiceReport {
        events: vec![
            "(service MedplumService) is unable to consistently start tasks successfully.".into(),
        ],
        stopped_tasks: vec![
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): medplum/medplum-server:nope: not found; medplum-server: CannotPullContainerError".into(),
        ],
    }
}

fn service_event(status: &str, at_ms: i64) -> StackEventRecord {
    StackEventRecord {
        event_id: format!("{status}{at_ms}"),
        stack_id: "id".into(),
        stack_name: "S".into(),
        logical_id: "BackEndFargateService".into(),
        physical_id: Some(ARN.into()),
        resource_type: ECS_SERVICE.into(),
        status: status.into(),
        reason: None,
        at_ms,
        client_request_token: None,
    }
}

#[test]
fn the_cluster_comes_from_the_service_arn() {
    assert_eq!(cluster_of(ARN), "MedplumCluster");
    assert_eq!(
        cluster_of("arn:aws:ecs:us-east-1:123456789012:service/old-style"),
        "default"
    );
}

#[tokio::test]
async fn a_service_is_diagnosed_only_after_the_threshold_and_only_when_it_changes() {
    let ecs = FakeEcs::new(vec![Ok(pull_failure())]);
    let (sink, mut rx) = DeploySink::channel();
    let mut w = ServiceWatch::new(ecs.as_ref(), "eu-west-1", Duration::from_secs(300));
    w.observe(&[service_event("CREATE_IN_PROGRESS", T0)]);
    w.check(T0 + 299_000, "S", &sink).await;
    assert_eq!(ecs.calls(), 0, "not before five minutes");
    w.check(T0 + 300_000, "S", &sink).await;
    assert_eq!(ecs.calls(), 1);
    assert_eq!(
        ecs.calls.lock().unwrap()[0],
        ("eu-west-1".into(), ARN.into())
    );
    match rx.try_recv().unwrap() {
        DeployEvent::ServiceDiagnosis {
            logical_id,
            stopped_tasks,
            in_progress_ms,
            ..
        } => {
            assert_eq!(logical_id, "BackEndFargateService");
            assert!(stopped_tasks[0].contains("CannotPullContainerError"));
            assert_eq!(in_progress_ms, 300_000);
        }
        other => panic!("{other:?}"),
    }
    w.check(T0 + 330_000, "S", &sink).await;
    assert_eq!(ecs.calls(), 1, "at most once a minute");
    w.check(T0 + 360_000, "S", &sink).await;
    assert_eq!(ecs.calls(), 2);
    assert!(rx.try_recv().is_err(), "the same findings are not repeated");
    w.observe(&[service_event("CREATE_COMPLETE", T0 + 400_000)]);
    w.check(T0 + 500_000, "S", &sink).await;
    assert_eq!(ecs.calls(), 2, "a finished service is not diagnosed");
}
