use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::deploy::cfn::StackEventsSource;
use crate::deploy::changeset::{ChangeAction, Replacement, ResourceChange};
use crate::deploy::progress::DeployState;
use crate::deploy::testkit::*;

pub(super) const PRIMARY: &str = "MedplumStagingStack";

pub(super) fn template(name: &str, region: &str, resources: &[(String, String)]) -> StackTemplate {
    let mut res = serde_json::Map::new();
    for (id, ty) in resources {
        res.insert(id.clone(), json!({ "Type": ty }));
    }
    StackTemplate {
        name: name.into(),
        region: region.into(),
        template: json!({ "Resources": res }),
        tags: vec![("medplum:environment".into(), "staging".into())],
        inputs: Vec::new(),
    }
}

struct Harness {
    clock: Arc<FakeClock>,
    cfn: Arc<FakeCfn>,
    backends: Backends,
    store: Arc<MemStore>,
}

fn harness(cfn: impl FnOnce(Arc<FakeClock>) -> FakeCfn) -> Harness {
    let clock = FakeClock::at(T0);
    let cfn = Arc::new(cfn(clock.clone()));
    let store = Arc::new(MemStore::default());
    let backends = Backends {
        cloudformation: BTreeMap::from([(
            "us-east-1".to_string(),
            cfn.clone() as Arc<dyn CloudFormation>,
        )]),
        store: store.clone(),
        diagnostics: None,
        empty_buckets: None,
    };
    Harness {
        clock,
        cfn,
        backends,
        store,
    }
}

fn events(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) -> Vec<DeployEvent> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

fn state_of(events: &[DeployEvent]) -> DeployState {
    let mut st = DeployState::new();
    events.iter().for_each(|e| {
        st.apply(e);
    });
    st
}

#[tokio::test]
async fn a_150_resource_create_plans_executes_and_completes() {
    let resources = medplum_like_resources(150);
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                outputs: BTreeMap::from([(
                    "ApiUrl".into(),
                    "https://api.staging.example.com/".into(),
                )]),
                ..Default::default()
            },
        )
    });
    let (sink, mut rx) = DeploySink::channel();
    let d =
        Deployer::new(&h.backends, h.clock.as_ref(), sink).with_policy(PollPolicy::default(), 1);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    assert!(plan.has_changes());
    assert_eq!(
        plan.summary().line(),
        "150 to add, 0 to change, 0 to remove"
    );
    assert_eq!(plan.stacks[0].diff.kind, ChangeSetKind::Create);
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.stacks[0].status, "CREATE_COMPLETE");
    assert_eq!(
        report.stacks[0].outputs["ApiUrl"],
        "https://api.staging.example.com/"
    );
    assert!(report.failures.is_empty());

    let evs = events(&mut rx);
    assert!(matches!(evs.first(), Some(DeployEvent::ChangeSet { .. })));
    assert!(matches!(
        evs.last(),
        Some(DeployEvent::Finished { ok: true, .. })
    ));
    let st = state_of(&evs);
    assert_eq!(st.stack(PRIMARY).unwrap().counter(), (150, 150));
    let calls = h.cfn.calls();
    let ops: Vec<&str> = calls
        .iter()
        .map(|c| c.split(' ').next().unwrap())
        .filter(|c| *c != "DescribeStacks")
        .collect();
    // The second DescribeChangeSet checks the change set is AVAILABLE just before executing.
    assert_eq!(
        ops[..4],
        [
            "CreateChangeSet",
            "DescribeChangeSet",
            "DescribeChangeSet",
            "ExecuteChangeSet"
        ]
    );
    assert!(
        h.store.staged.lock().unwrap().is_empty(),
        "a small template goes inline"
    );
    // About one DescribeStackEvents call per poll, though the stack ends with 450 events.
    assert!(
        h.cfn.event_calls() <= h.clock.sleeps().len() + 8,
        "{} calls",
        h.cfn.event_calls()
    );
}

#[tokio::test]
async fn a_failed_create_rolls_back_and_recaps_the_first_failure() {
    let recording = failure_recording();
    let mut resources: Vec<(String, String)> = recording
        .iter()
        .filter(|s| s.logical_id != "$STACK")
        .map(|s| (s.logical_id.clone(), s.resource_type.clone()))
        .collect();
    resources.dedup();
    resources.sort();
    resources.dedup();
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: recording.clone(),
                changes: adds(&resources),
                ..Default::default()
            },
        )
    });
    let (sink, mut rx) = DeploySink::channel();
    let d =
        Deployer::new(&h.backends, h.clock.as_ref(), sink).with_policy(PollPolicy::default(), 2);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    assert!(!report.cancelled);
    assert_eq!(report.stacks[0].status, "ROLLBACK_COMPLETE");
    assert_eq!(
        report.failures.len(),
        1,
        "cancellations are not causes: {:?}",
        report.failures
    );
    assert_eq!(report.failures[0].logical_id, "BackEndRedisCluster");
    assert!(report.failures[0].reason.contains("cache.t2.medium"));

    let evs = events(&mut rx);
    let st = state_of(&evs);
    let s = st.stack(PRIMARY).unwrap();
    assert!(s.rolling_back);
    assert!(
        s.row("BackEndRedisCluster").unwrap().reason.is_some(),
        "reason kept under the row"
    );
    match evs.last() {
        Some(DeployEvent::Finished {
            ok: false,
            failures,
            ..
        }) => assert_eq!(failures, &report.failures),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn throttled_polls_and_a_throttled_final_read_still_succeed() {
    let resources = medplum_like_resources(30);
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                throttle_calls: (2..40).collect(),
                ..Default::default()
            },
        )
    });
    let d = Deployer::new(&h.backends, h.clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 5);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    assert!(h.clock.sleeps().iter().any(|s| s.as_secs() >= 16));
    assert!(h.clock.sleeps().iter().all(|s| s.as_secs() <= 32));
}

#[tokio::test]
async fn no_changes_deletes_the_empty_change_set_and_keeps_the_stack() {
    let h = harness(|c| {
        FakeCfn::new("us-east-1", c, Script::default()).with_stack(PRIMARY, "UPDATE_COMPLETE")
    });
    let d = Deployer::new(&h.backends, h.clock.as_ref(), DeploySink::discard());
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &medplum_like_resources(3))])
        .await
        .unwrap();
    assert!(!plan.has_changes());
    assert_eq!(plan.stacks[0].diff.kind, ChangeSetKind::Update);
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok);
    assert!(!report.stacks[0].changed);
    let calls = h.cfn.calls();
    assert!(calls.iter().any(|c| c.starts_with("DeleteChangeSet")));
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("ExecuteChangeSet") || c.starts_with("DeleteStack")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn discarding_a_create_plan_deletes_the_review_stack_too() {
    let resources = medplum_like_resources(3);
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                changes: adds(&resources),
                ..Default::default()
            },
        )
    });
    let d = Deployer::new(&h.backends, h.clock.as_ref(), DeploySink::discard());
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    d.discard(&plan).await.unwrap();
    let calls = h.cfn.calls();
    assert!(calls.iter().any(|c| c.starts_with("DeleteChangeSet")));
    assert!(
        calls.iter().any(|c| c.starts_with("DeleteStack")),
        "{calls:?}"
    );
    // Deletes are asynchronous, even of an empty shell: the name is taken until DELETE_COMPLETE.
    let deleting = h.cfn.describe_stack(PRIMARY).await.unwrap().unwrap();
    assert_eq!(deleting.status, "DELETE_IN_PROGRESS");
    h.clock.advance(std::time::Duration::from_secs(5));
    assert_eq!(h.cfn.describe_stack(PRIMARY).await.unwrap(), None);
}

pub(super) fn modify(id: &str, ty: &str, replacement: Replacement) -> ResourceChange {
    ResourceChange {
        action: ChangeAction::Modify,
        logical_id: id.into(),
        resource_type: ty.into(),
        replacement: Some(replacement),
        replacing_properties: vec![],
        scope: vec!["Properties".into()],
        properties: Vec::new(),
    }
}

#[tokio::test]
async fn ctrl_c_during_an_update_cancels_it_and_watches_the_rollback() {
    let cancel = Cancel::new();
    let update = vec![
        stack_ev(0.0, "UPDATE_IN_PROGRESS", Some("User Initiated")),
        ev(
            2.0,
            "TaskDef",
            "AWS::ECS::TaskDefinition",
            "UPDATE_IN_PROGRESS",
            None,
        ),
        ev(
            5.0,
            "TaskDef",
            "AWS::ECS::TaskDefinition",
            "UPDATE_COMPLETE",
            None,
        ),
        ev(
            6.0,
            "Service",
            "AWS::ECS::Service",
            "UPDATE_IN_PROGRESS",
            None,
        ),
        ev(
            400.0,
            "Service",
            "AWS::ECS::Service",
            "UPDATE_COMPLETE",
            None,
        ),
        stack_ev(402.0, "UPDATE_COMPLETE", None),
    ];
    let rollback = vec![
        ev(
            1.0,
            "Service",
            "AWS::ECS::Service",
            "UPDATE_FAILED",
            Some("Resource update cancelled"),
        ),
        stack_ev(
            2.0,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some("Stack update cancelled"),
        ),
        ev(
            3.0,
            "Service",
            "AWS::ECS::Service",
            "UPDATE_IN_PROGRESS",
            None,
        ),
        ev(
            60.0,
            "Service",
            "AWS::ECS::Service",
            "UPDATE_COMPLETE",
            None,
        ),
        ev(
            61.0,
            "TaskDef",
            "AWS::ECS::TaskDefinition",
            "UPDATE_IN_PROGRESS",
            None,
        ),
        ev(
            63.0,
            "TaskDef",
            "AWS::ECS::TaskDefinition",
            "UPDATE_COMPLETE",
            None,
        ),
        stack_ev(64.0, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
        stack_ev(66.0, "UPDATE_ROLLBACK_COMPLETE", None),
    ];
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: update,
                cancel: rollback,
                changes: vec![
                    modify("TaskDef", "AWS::ECS::TaskDefinition", Replacement::Always),
                    modify("Service", "AWS::ECS::Service", Replacement::Never),
                ],
                interrupt_at: Some((T0 + 30_000, cancel.clone())),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "UPDATE_COMPLETE")
    });
    let (sink, mut rx) = DeploySink::channel();
    let d =
        Deployer::new(&h.backends, h.clock.as_ref(), sink).with_policy(PollPolicy::default(), 9);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &[])])
        .await
        .unwrap();
    assert_eq!(
        plan.summary().line(),
        "0 to add, 2 to change (1 replacement), 0 to remove"
    );
    let report = d.apply(plan, &cancel).await;
    assert!(report.cancelled);
    assert!(!report.ok);
    assert_eq!(report.stacks[0].status, "UPDATE_ROLLBACK_COMPLETE");
    assert!(
        h.cfn
            .calls()
            .iter()
            .any(|c| c.starts_with("CancelUpdateStack"))
    );
    let evs = events(&mut rx);
    assert!(evs.iter().any(|e| matches!(
        e,
        DeployEvent::Cancelling {
            action: CancelAction::CancelUpdate,
            accepted: true,
            ..
        }
    )));
    let st = state_of(&evs);
    assert!(st.cancelled);
    // The only resource "failure" is the cancellation itself, so the stack's reason stands in.
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].reason, "Stack update cancelled");
}

#[tokio::test]
async fn ctrl_c_during_a_create_deletes_the_half_created_stack() {
    let cancel = Cancel::new();
    let resources = medplum_like_resources(12);
    let delete = vec![
        stack_ev(0.5, "DELETE_IN_PROGRESS", Some("User Initiated")),
        ev(
            1.0,
            &resources[0].0,
            &resources[0].1,
            "DELETE_IN_PROGRESS",
            None,
        ),
        ev(
            9.0,
            &resources[0].0,
            &resources[0].1,
            "DELETE_COMPLETE",
            None,
        ),
        stack_ev(10.0, "DELETE_COMPLETE", None),
    ];
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: create_timeline(&resources),
                cancel: delete,
                changes: adds(&resources),
                interrupt_at: Some((T0 + 15_000, cancel.clone())),
                ..Default::default()
            },
        )
    });
    let (sink, mut rx) = DeploySink::channel();
    let d =
        Deployer::new(&h.backends, h.clock.as_ref(), sink).with_policy(PollPolicy::default(), 4);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    let report = d.apply(plan, &cancel).await;
    assert!(report.cancelled && !report.ok);
    assert_eq!(report.stacks[0].status, "DELETE_COMPLETE");
    let evs = events(&mut rx);
    assert!(evs.iter().any(|e| matches!(
        e,
        DeployEvent::Cancelling {
            action: CancelAction::DeleteStack,
            ..
        }
    )));
    let st = state_of(&evs);
    assert!(
        st.stack(PRIMARY).unwrap().rolling_back,
        "the delete is shown as undoing work"
    );
}

#[tokio::test]
async fn a_stack_whose_first_create_failed_is_deleted_and_created_again() {
    let resources = medplum_like_resources(4);
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                execute: create_timeline(&resources),
                changes: adds(&resources),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "ROLLBACK_COMPLETE")
    });
    let d = Deployer::new(&h.backends, h.clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 8);
    let plan = d
        .plan(&[template(PRIMARY, "us-east-1", &resources)])
        .await
        .unwrap();
    assert!(
        plan.stacks[0]
            .diff
            .note
            .as_deref()
            .unwrap()
            .contains("ROLLBACK_COMPLETE")
    );
    assert_eq!(plan.stacks[0].diff.changes.len(), 4);
    assert!(
        !h.cfn
            .calls()
            .iter()
            .any(|c| c.starts_with("CreateChangeSet")),
        "nothing made before confirmation"
    );
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{report:?}");
    let ops: Vec<String> = h
        .cfn
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("Describe"))
        .collect();
    assert_eq!(
        ops[0],
        format!("DeleteStack arn:aws:cloudformation:us-east-1:123456789012:stack/{PRIMARY}/1")
    );
    assert!(ops[1].starts_with("CreateChangeSet"));
}

#[tokio::test]
async fn large_templates_are_staged_and_passed_by_url() {
    let mut resources = medplum_like_resources(3);
    // A description long enough to cross 51,200 bytes.
    resources.push(("Big".into(), "AWS::SSM::Parameter".into()));
    let h = harness(|c| {
        FakeCfn::new(
            "us-east-1",
            c,
            Script {
                changes: adds(&resources),
                ..Default::default()
            },
        )
    });
    let mut t = template(PRIMARY, "us-east-1", &resources);
    t.template["Description"] = json!("x".repeat(60_000));
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&h.backends, h.clock.as_ref(), sink);
    let plan = d.plan(&[t]).await.unwrap();
    assert_eq!(h.store.staged.lock().unwrap().len(), 1);
    assert!(
        events(&mut rx)
            .iter()
            .any(|e| matches!(e, DeployEvent::Note { message, .. } if message.contains("staged")))
    );
    d.discard(&plan).await.unwrap();
}
