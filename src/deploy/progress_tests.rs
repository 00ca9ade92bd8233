use super::*;
use crate::deploy::testkit::{T0, as_deploy_events, failure_recording, stack_started as started};

#[test]
fn every_reference_type_has_a_group() {
    let t: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/reference/MedplumStagingStack.template.json"
    ))
    .unwrap();
    for r in t["Resources"].as_object().unwrap().values() {
        let ty = r["Type"].as_str().unwrap();
        let g = Group::of(ty);
        assert!(
            g != Group::Other || ty == "AWS::CDK::Metadata",
            "{ty} has no group"
        );
    }
    assert_eq!(Group::of("AWS::RDS::DBCluster"), Group::Database);
    assert_eq!(Group::of("AWS::CloudFront::Distribution"), Group::FrontEnd);
    assert_eq!(Group::of("Custom::Thing"), Group::Other);
}

#[test]
fn a_failed_create_keeps_the_reason_under_the_row_through_the_rollback() {
    let mut st = DeployState::new();
    st.apply(&started(
        "MedplumStagingStack",
        &[("BackEndRedisCluster", "AWS::ElastiCache::ReplicationGroup")],
    ));
    let script = failure_recording();
    let mut transitions = Vec::new();
    for e in as_deploy_events("MedplumStagingStack", T0, &script) {
        transitions.extend(st.apply(&e));
    }
    let s = st.stack("MedplumStagingStack").unwrap();
    assert!(s.rolling_back, "the rollback is remembered");
    assert_eq!(s.status.as_deref(), Some("ROLLBACK_COMPLETE"));

    let redis = s.row("BackEndRedisCluster").unwrap();
    assert_eq!(
        redis.state,
        RowState::Failed,
        "still shown failed after its delete"
    );
    assert_eq!(redis.status, "DELETE_COMPLETE");
    assert!(redis.reason.as_deref().unwrap().contains("cache.t2.medium"));
    assert!(redis.rollback);

    let db = s.row("BackEndDatabaseCluster").unwrap();
    assert_eq!(db.state, RowState::Cancelled);
    let vpc = s.row("BackEndVPC").unwrap();
    assert_eq!(vpc.state, RowState::Done);
    assert!(vpc.rollback, "deleted during the rollback");
    assert_eq!(vpc.group, Group::Network);

    // The recap names the cause, not the cancellations it caused.
    let recap = st.failure_recap();
    assert_eq!(recap.len(), 1, "{recap:?}");
    assert_eq!(recap[0].logical_id, "BackEndRedisCluster");
    assert_eq!(recap[0].status, "CREATE_FAILED");

    // One transition per change of state, not per event: the VPC starts, completes, starts
    // deleting and is deleted.
    let vpc_moves: Vec<_> = transitions
        .iter()
        .filter(|t| t.logical_id == "BackEndVPC")
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(
        vpc_moves,
        vec![
            (RowState::Pending, RowState::InProgress),
            (RowState::InProgress, RowState::Done),
            (RowState::Done, RowState::InProgress),
            (RowState::InProgress, RowState::Done),
        ]
    );
    assert_eq!(st.log.len(), script.len());
    assert!(st.log.back().unwrap().rollback);
}

#[test]
fn failures_are_recapped_first_failure_first_across_stacks() {
    let mut st = DeployState::new();
    let fail = |stack: &str, id: &str, at: i64, reason: &str| DeployEvent::Resource {
        stack: stack.into(),
        logical_id: id.into(),
        resource_type: "AWS::S3::Bucket".into(),
        physical_id: None,
        status: "CREATE_FAILED".into(),
        reason: Some(reason.into()),
        at: Time(T0 + at),
    };
    st.apply(&fail("A", "Late", 9_000, "second"));
    st.apply(&fail("B", "Early", 1_000, "first"));
    st.apply(&fail("A", "Noise", 500, "Resource creation cancelled"));
    let recap = st.failure_recap();
    let ids: Vec<_> = recap.iter().map(|f| f.logical_id.as_str()).collect();
    assert_eq!(ids, ["Early", "Late"]);
}

#[test]
fn a_stack_failure_without_resource_failures_recaps_the_stack_reason() {
    let mut st = DeployState::new();
    st.apply(&DeployEvent::StackFinished {
        stack: "S".into(),
        status: "UPDATE_ROLLBACK_COMPLETE".into(),
        ok: false,
        reason: Some("Stack update cancelled".into()),
        outputs: Default::default(),
        at: Time(T0),
    });
    let recap = st.failure_recap();
    assert_eq!(recap.len(), 1);
    assert_eq!(recap[0].reason, "Stack update cancelled");
}

#[test]
fn the_counter_counts_final_rows_out_of_the_plan() {
    let mut st = DeployState::new();
    st.apply(&started(
        "S",
        &[
            ("A", "AWS::SSM::Parameter"),
            ("B", "AWS::SSM::Parameter"),
            ("C", "AWS::S3::Bucket"),
        ],
    ));
    let ev = |id: &str, status: &str| DeployEvent::Resource {
        stack: "S".into(),
        logical_id: id.into(),
        resource_type: "AWS::SSM::Parameter".into(),
        physical_id: None,
        status: status.into(),
        reason: None,
        at: Time(T0 + 1000),
    };
    st.apply(&ev("A", "CREATE_IN_PROGRESS"));
    assert_eq!(st.current_stack().unwrap().counter(), (0, 3));
    assert!(
        st.apply(&ev("A", "CREATE_IN_PROGRESS")).is_none(),
        "no repeat transition"
    );
    st.apply(&ev("A", "CREATE_COMPLETE"));
    st.apply(&ev("B", "CREATE_COMPLETE"));
    assert_eq!(st.current_stack().unwrap().counter(), (2, 3));
    assert_eq!(verb("UPDATE_IN_PROGRESS"), "updating");
    assert_eq!(status_words("CREATE_IN_PROGRESS"), "create in progress");
    assert_eq!(short_status("CREATE_IN_PROGRESS"), "creating");
    assert_eq!(short_status("DELETE_COMPLETE"), "deleted");
    assert_eq!(short_status("UPDATE_FAILED"), "update failed");
    assert_eq!(short_status("DELETE_SKIPPED"), "kept");
}
