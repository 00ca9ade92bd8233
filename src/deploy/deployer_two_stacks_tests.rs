//! Deploys of two stacks (outside us-east-1): order, a failed primary, and the values the
//! us-east-1 stack takes from the primary's outputs.

use std::sync::Arc;

use super::tests::{PRIMARY, template};
use super::*;
use crate::deploy::testkit::*;

/// The primary stack's CloudFormation in eu-west-1 and the companion's in us-east-1.
fn two_regions(primary: &Arc<FakeCfn>, companion: &Arc<FakeCfn>) -> Backends {
    Backends {
        cloudformation: BTreeMap::from([
            (
                "eu-west-1".to_string(),
                primary.clone() as Arc<dyn CloudFormation>,
            ),
            (
                "us-east-1".to_string(),
                companion.clone() as Arc<dyn CloudFormation>,
            ),
        ]),
        store: Arc::new(MemStore::default()),
    }
}

#[tokio::test]
async fn a_failed_primary_stops_before_the_us_east_1_stack() {
    let recording = failure_recording();
    let clock = FakeClock::at(T0);
    let primary = Arc::new(FakeCfn::new(
        "eu-west-1",
        clock.clone(),
        Script {
            execute: recording,
            changes: adds(&medplum_like_resources(5)),
            ..Default::default()
        },
    ));
    let companion = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(2)),
            changes: adds(&medplum_like_resources(2)),
            ..Default::default()
        },
    ));
    let backends = two_regions(&primary, &companion);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 6);
    // Given companion first: the deployer still runs the primary first.
    let plan = d
        .plan(&[
            template(
                &format!("{PRIMARY}-us-east-1"),
                "us-east-1",
                &medplum_like_resources(2),
            ),
            template(PRIMARY, "eu-west-1", &medplum_like_resources(5)),
        ])
        .await
        .unwrap();
    assert_eq!(plan.stacks[0].template.name, PRIMARY);
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    assert_eq!(report.stacks.len(), 1);
    let calls = companion.calls();
    assert!(
        !calls.iter().any(|c| c.starts_with("ExecuteChangeSet")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.starts_with("DeleteChangeSet")),
        "its change set is cleaned up"
    );
}

#[tokio::test]
async fn the_us_east_1_stack_gets_the_primary_outputs_it_takes_as_inputs() {
    // A first deploy outside us-east-1: the primary stack does not exist, so the companion's
    // change set is planned with placeholders, then made again with the outputs the primary
    // reports once it has deployed, and only that one is executed.
    let clock = FakeClock::at(T0);
    let outputs = BTreeMap::from([
        (
            "AppOriginAccessIdentity".to_string(),
            "E1APPOAI".to_string(),
        ),
        (
            "StorageOriginAccessIdentity".to_string(),
            "E2STORAGEOAI".to_string(),
        ),
    ]);
    let primary = Arc::new(FakeCfn::new(
        "eu-west-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(3)),
            changes: adds(&medplum_like_resources(3)),
            outputs: outputs.clone(),
            ..Default::default()
        },
    ));
    let companion = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(2)),
            changes: adds(&medplum_like_resources(2)),
            ..Default::default()
        },
    ));
    let backends = two_regions(&primary, &companion);
    let mut second = template(
        &format!("{PRIMARY}-us-east-1"),
        "us-east-1",
        &medplum_like_resources(2),
    );
    second.inputs = outputs
        .keys()
        .map(|k| crate::deploy::StackInput {
            parameter: k.clone(),
            from_stack: PRIMARY.into(),
            output: k.clone(),
        })
        .collect();
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 7);
    let plan = d
        .plan(&[
            template(PRIMARY, "eu-west-1", &medplum_like_resources(3)),
            second,
        ])
        .await
        .unwrap();
    let planned = companion.requests.lock().unwrap().clone();
    assert_eq!(planned.len(), 1);
    assert!(
        planned[0]
            .parameters
            .iter()
            .all(|(_, v)| v.starts_with("pending:")),
        "{:?}",
        planned[0].parameters
    );
    assert!(
        plan.stacks[1]
            .diff
            .note
            .as_deref()
            .unwrap_or("")
            .contains("made again")
    );

    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{:?}", report.error);
    let made = companion.requests.lock().unwrap().clone();
    assert_eq!(made.len(), 2, "the change set was made again");
    let mut params = made[1].parameters.clone();
    params.sort();
    assert_eq!(
        params,
        vec![
            (
                "AppOriginAccessIdentity".to_string(),
                "E1APPOAI".to_string()
            ),
            (
                "StorageOriginAccessIdentity".to_string(),
                "E2STORAGEOAI".to_string()
            ),
        ]
    );
    let calls = companion.calls();
    let executes: Vec<_> = calls
        .iter()
        .filter(|c| c.starts_with("ExecuteChangeSet"))
        .collect();
    assert_eq!(executes.len(), 1, "{calls:?}");
    assert!(
        calls.iter().any(|c| c.starts_with("DeleteChangeSet")),
        "the placeholder change set is deleted: {calls:?}"
    );
}

#[tokio::test]
async fn a_missing_output_stops_the_dependent_stack() {
    let clock = FakeClock::at(T0);
    let primary = Arc::new(FakeCfn::new(
        "eu-west-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(1)),
            changes: adds(&medplum_like_resources(1)),
            ..Default::default()
        },
    ));
    let companion = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            changes: adds(&medplum_like_resources(1)),
            ..Default::default()
        },
    ));
    let backends = two_regions(&primary, &companion);
    let mut second = template(
        &format!("{PRIMARY}-us-east-1"),
        "us-east-1",
        &medplum_like_resources(1),
    );
    second.inputs = vec![crate::deploy::StackInput {
        parameter: "AppOriginAccessIdentity".into(),
        from_stack: PRIMARY.into(),
        output: "AppOriginAccessIdentity".into(),
    }];
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 8);
    let plan = d
        .plan(&[
            template(PRIMARY, "eu-west-1", &medplum_like_resources(1)),
            second,
        ])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    assert!(
        matches!(report.error, Some(DeployError::MissingInput { .. })),
        "{:?}",
        report.error
    );
    assert!(
        !companion
            .calls()
            .iter()
            .any(|c| c.starts_with("ExecuteChangeSet"))
    );
}
