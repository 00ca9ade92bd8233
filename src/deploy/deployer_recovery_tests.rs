//! Deploys that start from, or run into, what CloudFormation does on its own time: a stack
//! still being deleted, an operation already running (a deploy killed and run again), a change
//! set not executable yet, an ExecuteChangeSet whose answer was lost, a stack that never settles.

use crate::error::Diagnostic;
use std::sync::Arc;
use std::time::Duration;

use super::tests::{PRIMARY, template};
use super::*;
use crate::aws::{AwsError, AwsErrorKind};
use crate::deploy::execute::request_token;
use crate::deploy::testkit::*;

fn one_region(cfn: &Arc<FakeCfn>) -> Backends {
    Backends {
        cloudformation: BTreeMap::from([(
            "us-east-1".to_string(),
            cfn.clone() as Arc<dyn CloudFormation>,
        )]),
        store: Arc::new(MemStore::default()),
        diagnostics: None,
        empty_buckets: None,
    }
}

fn deploying() -> DeployOptions {
    DeployOptions {
        attach_busy: true,
        ..DeployOptions::default()
    }
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) -> Vec<DeployEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn timeout_error() -> AwsError {
    AwsError {
        service: "cloudformation".into(),
        operation: "ExecuteChangeSet".into(),
        code: None,
        message: "dispatch failure: timed out".into(),
        kind: AwsErrorKind::Other,
    }
}

#[tokio::test]
async fn a_stack_being_deleted_when_the_deploy_starts_is_waited_for_then_created() {
    let resources = medplum_like_resources(2);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "ROLLBACK_COMPLETE")
        .with_running(
            PRIMARY,
            5.0,
            &[
                stack_ev(0.0, "DELETE_IN_PROGRESS", Some("User Initiated")),
                stack_ev(40.0, "DELETE_COMPLETE", None),
            ],
        ),
    );
    let backends = one_region(&cfn);
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&backends, clock.as_ref(), sink)
        .with_policy(PollPolicy::default(), 21)
        .with_options(deploying());
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .expect("waits for the delete instead of refusing a busy stack");
    assert!(clock.now_ms() >= T0 + 35_000, "waited for DELETE_COMPLETE");
    assert_eq!(plan.stacks[0].diff.kind, ChangeSetKind::Create);
    let evs = drain(&mut rx);
    assert!(evs.iter().any(
        |e| matches!(e, DeployEvent::Attaching { status, .. } if status == "DELETE_IN_PROGRESS")
    ));
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
}

#[tokio::test]
async fn a_failed_stack_is_created_again_only_once_its_delete_has_completed() {
    let resources = medplum_like_resources(3);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "ROLLBACK_COMPLETE"),
    );
    let backends = one_region(&cfn);
    let role = "arn:aws:iam::123456789012:role/medplum-cfn";
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 22)
        .with_options(DeployOptions {
            role_arn: Some(role.into()),
            ..deploying()
        });
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    // The strict fake refuses a CreateChangeSet while the name is DELETE_IN_PROGRESS (20 s).
    assert!(report.ok, "{report:?}");
    let old = format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{PRIMARY}/1");
    let calls = cfn.calls();
    let delete = calls
        .iter()
        .position(|c| *c == format!("DeleteStack {old}"))
        .unwrap();
    let create = calls
        .iter()
        .position(|c| c.starts_with("CreateChangeSet"))
        .unwrap();
    assert!(delete < create);
    assert!(
        calls[delete..create].contains(&format!("DescribeStacks {old}")),
        "polled by id: {calls:?}"
    );
    // --role-arn reaches both calls.
    assert_eq!(cfn.delete_roles.lock().unwrap()[0].as_deref(), Some(role));
    assert_eq!(
        cfn.requests.lock().unwrap()[0].role_arn.as_deref(),
        Some(role)
    );
}

#[tokio::test]
async fn a_deploy_attaches_to_a_create_already_running_and_finds_nothing_left_to_do() {
    let resources = medplum_like_resources(4);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                // Once settled, the stack matches the template: the change set is empty.
                changes: vec![],
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "REVIEW_IN_PROGRESS")
        .with_running(PRIMARY, 5.0, &create_timeline(&resources)),
    );
    let backends = one_region(&cfn);
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&backends, clock.as_ref(), sink)
        .with_policy(PollPolicy::default(), 23)
        .with_options(deploying());
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    assert!(!plan.has_changes());
    assert_eq!(plan.stacks[0].diff.kind, ChangeSetKind::Update);
    let evs = drain(&mut rx);
    let attach = evs
        .iter()
        .position(|e| matches!(e, DeployEvent::Attaching { status, .. } if status == "CREATE_IN_PROGRESS"))
        .expect("an attaching event");
    let st = {
        let mut st = crate::deploy::progress::DeployState::new();
        evs.iter().for_each(|e| {
            st.apply(e);
        });
        st
    };
    let s = st.stack(PRIMARY).unwrap();
    assert!(s.attached);
    assert_eq!(s.status.as_deref(), Some("CREATE_COMPLETE"));
    assert_eq!(
        s.counter(),
        (4, 4),
        "the resources created before we attached are shown"
    );
    assert!(evs[attach..].iter().any(|e| matches!(
        e,
        DeployEvent::StackFinished { status, ok: true, .. } if status == "CREATE_COMPLETE"
    )));
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok);
    assert!(!report.stacks[0].changed);
    assert!(
        !cfn.calls()
            .iter()
            .any(|c| c.starts_with("ExecuteChangeSet")),
        "nothing executed"
    );
}

#[tokio::test]
async fn a_running_create_that_rolls_back_is_followed_then_deleted_and_created_again() {
    let resources = medplum_like_resources(2);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "REVIEW_IN_PROGRESS")
        .with_running(PRIMARY, 10.0, &failure_recording()),
    );
    let backends = one_region(&cfn);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 24)
        .with_options(deploying());
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    assert!(
        plan.stacks[0].replace_failed.is_some(),
        "ROLLBACK_COMPLETE once settled"
    );
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.stacks[0].status, "CREATE_COMPLETE");
}

#[tokio::test]
async fn a_diff_on_a_busy_stack_says_so_instead_of_attaching() {
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(
        FakeCfn::new("us-east-1", clock.clone(), Script::default())
            .with_stack(PRIMARY, "REVIEW_IN_PROGRESS")
            .with_running(PRIMARY, 10.0, &create_timeline(&medplum_like_resources(2))),
    );
    let backends = one_region(&cfn);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard());
    let err = d
        .plan(&[template(PRIMARY, "us-east-1", &medplum_like_resources(2))])
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeployError::StackBusy { ref status, .. } if status == "CREATE_IN_PROGRESS")
    );
    assert!(err.hint().unwrap().contains("medplum-init deploy"));
    assert!(!cfn.calls().iter().any(|c| c.starts_with("CreateChangeSet")));
}

#[tokio::test]
async fn execute_waits_for_an_available_change_set_and_sends_its_token() {
    let resources = medplum_like_resources(2);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&resources),
            changes: adds(&resources),
            // Still UNAVAILABLE for a few reads after it was computed: the fake refuses an
            // ExecuteChangeSet until it is AVAILABLE.
            unavailable_describes: 4,
            ..Default::default()
        },
    ));
    let backends = one_region(&cfn);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 25);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let cs_id = plan.stacks[0].change_set.as_ref().unwrap().id.clone();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(cfn.tokens(), vec![request_token(&cs_id)]);
}

#[tokio::test]
async fn an_execute_error_after_the_operation_started_is_not_a_failure() {
    let resources = medplum_like_resources(2);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&resources),
            changes: adds(&resources),
            execute_error_after_start: Some(timeout_error()),
            ..Default::default()
        },
    ));
    let backends = one_region(&cfn);
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&backends, clock.as_ref(), sink).with_policy(PollPolicy::default(), 26);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.stacks[0].status, "CREATE_COMPLETE");
    assert!(drain(&mut rx).iter().any(
        |e| matches!(e, DeployEvent::Note { message, .. } if message.contains("shows the operation started"))
    ));
}

#[tokio::test]
async fn an_execute_error_with_nothing_started_fails_the_deploy() {
    let resources = medplum_like_resources(2);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&resources),
            changes: adds(&resources),
            execute_error: Some(timeout_error()),
            ..Default::default()
        },
    ));
    let backends = one_region(&cfn);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 27);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    assert!(
        matches!(report.error, Some(DeployError::Aws { .. })),
        "{:?}",
        report.error
    );
}

#[tokio::test]
async fn a_stack_that_never_settles_ends_the_wait_at_the_timeout() {
    let resources = medplum_like_resources(1);
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: vec![stack_ev(0.0, "CREATE_IN_PROGRESS", Some("User Initiated"))],
            changes: adds(&resources),
            ..Default::default()
        },
    ));
    let backends = one_region(&cfn);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 28)
        .with_options(DeployOptions {
            timeout: Duration::from_secs(10 * 60),
            ..deploying()
        });
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let start = clock.now_ms();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    assert!(
        matches!(report.error, Some(DeployError::Timeout { minutes: 10, .. })),
        "{:?}",
        report.error
    );
    let waited = clock.now_ms() - start;
    assert!((600_000..700_000).contains(&waited), "{waited}");
}

#[tokio::test]
async fn a_service_that_does_not_stabilise_is_diagnosed_under_its_row() {
    use crate::deploy::diagnose::ECS_SERVICE;
    use crate::deploy::diagnose::tests::{FakeEcs, pull_failure};
    let arn = "arn:aws:ecs:us-east-1:123456789012:service/MedplumCluster/MedplumService";
    let mut started = ev(
        5.0,
        "BackEndFargateService",
        ECS_SERVICE,
        "CREATE_IN_PROGRESS",
        None,
    );
    started.physical_id = Some(arn.into());
    let mut initiated = ev(
        6.0,
        "BackEndFargateService",
        ECS_SERVICE,
        "CREATE_IN_PROGRESS",
        Some("Resource creation Initiated"),
    );
    initiated.physical_id = Some(arn.into());
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: vec![
                stack_ev(0.0, "CREATE_IN_PROGRESS", Some("User Initiated")),
                started,
                initiated,
                ev(
                    900.0,
                    "BackEndFargateService",
                    ECS_SERVICE,
                    "CREATE_COMPLETE",
                    None,
                ),
                stack_ev(905.0, "CREATE_COMPLETE", None),
            ],
            changes: adds(&[("BackEndFargateService".into(), ECS_SERVICE.into())]),
            ..Default::default()
        },
    ));
    let ecs = FakeEcs::new(vec![Ok(pull_failure())]);
    let mut backends = one_region(&cfn);
    backends.diagnostics = Some(ecs.clone() as Arc<dyn ServiceDiagnostics>);
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&backends, clock.as_ref(), sink)
        .with_policy(PollPolicy::default(), 29)
        .with_options(DeployOptions {
            diagnose_after: Duration::from_secs(5 * 60),
            ..deploying()
        });
    let plan = d
        .plan(&[template(
            PRIMARY,
            "us-east-1",
            &[("BackEndFargateService".into(), ECS_SERVICE.into())],
        )])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    let evs = drain(&mut rx);
    let (at, service) = evs
        .iter()
        .find_map(|e| match e {
            DeployEvent::ServiceDiagnosis { at, service, .. } => Some((at.0, service.clone())),
            _ => None,
        })
        .expect("a diagnosis");
    assert_eq!(service, arn);
    assert!(
        at - T0 >= 5_000 + 300_000,
        "not before five minutes in progress"
    );
    assert_eq!(ecs.calls.lock().unwrap()[0].0, "us-east-1");
    // Under the row while it is in progress, gone once it completed.
    let mut st = crate::deploy::progress::DeployState::new();
    let mut seen_under_row = false;
    for e in &evs {
        st.apply(e);
        let row = st
            .stack(PRIMARY)
            .and_then(|s| s.row("BackEndFargateService"));
        seen_under_row |= row.is_some_and(|r| {
            r.diagnosis
                .iter()
                .any(|d| d.contains("CannotPullContainerError"))
        });
    }
    assert!(seen_under_row);
    assert!(
        st.stack(PRIMARY)
            .unwrap()
            .row("BackEndFargateService")
            .unwrap()
            .diagnosis
            .is_empty()
    );
}
