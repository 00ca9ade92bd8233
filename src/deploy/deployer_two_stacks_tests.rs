//! Deploys of two stacks (outside us-east-1): order, a failed primary, and the values the
//! us-east-1 stack takes from the primary's outputs.

use std::sync::Arc;

use super::tests::{PRIMARY, modify, template};
use super::*;
use crate::deploy::changeset::{ChangeAction, Replacement, ResourceChange};
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
        diagnostics: None,
        empty_buckets: None,
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

fn oai_outputs() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "AppOriginAccessIdentity".to_string(),
            "E1APPOAI".to_string(),
        ),
        (
            "StorageOriginAccessIdentity".to_string(),
            "E2STORAGEOAI".to_string(),
        ),
    ])
}

/// The us-east-1 stack as synth makes it: its two inputs declared with CloudFormation's
/// `AllowedPattern`, which the strict fake checks at CreateChangeSet.
fn companion_template(resources: &[(String, String)]) -> StackTemplate {
    let mut t = template(&format!("{PRIMARY}-us-east-1"), "us-east-1", resources);
    let mut params = serde_json::Map::new();
    for k in oai_outputs().keys() {
        params.insert(
            k.clone(),
            serde_json::json!({"Type": "String", "AllowedPattern": "^[A-Z0-9]+$"}),
        );
        t.inputs.push(crate::deploy::StackInput {
            parameter: k.clone(),
            from_stack: PRIMARY.into(),
            output: k.clone(),
        });
    }
    t.template["Parameters"] = serde_json::Value::Object(params);
    t
}

#[tokio::test]
async fn a_first_deploy_outside_us_east_1_plans_the_synthesized_stacks_without_placeholders() {
    // The real templates of the reference config in eu-west-1, against a CloudFormation that
    // validates parameters at CreateChangeSet as the service does. Planning the us-east-1 stack
    // with made-up values for its AllowedPattern parameters stopped every first deploy here.
    let text = include_str!("../../tests/fixtures/reference/medplum.staging.config.json");
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    map.insert("region".into(), "eu-west-1".into());
    // The API certificate must be in the load balancer's region.
    map.insert(
        "apiSslCertArn".into(),
        "arn:aws:acm:eu-west-1:123456789012:certificate/api".into(),
    );
    let config = crate::config::infra::InfraConfig::from_map(map).unwrap();
    let stacks = crate::deploy::synth(
        &config,
        &crate::deploy::Lookups {
            availability_zones: None,
            hosted_zones: BTreeMap::from([("example.com".into(), "Z123EXAMPLE".into())]),
            vpc: None,
        },
    )
    .unwrap();
    assert_eq!(stacks.len(), 2);
    let clock = FakeClock::at(T0);
    let store = Arc::new(MemStore::default());
    let primary = Arc::new(
        FakeCfn::new(
            "eu-west-1",
            clock.clone(),
            Script {
                execute: create_timeline(&medplum_like_resources(3)),
                changes: adds(&medplum_like_resources(3)),
                outputs: oai_outputs(),
                ..Default::default()
            },
        )
        .reading(store.clone()),
    );
    let second = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                execute: create_timeline(&medplum_like_resources(2)),
                changes: adds(&medplum_like_resources(2)),
                ..Default::default()
            },
        )
        .reading(store.clone()),
    );
    let mut backends = two_regions(&primary, &second);
    backends.store = store;
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 9);
    let plan = d.plan(&stacks).await.expect("the plan reaches no refusal");
    assert!(
        second.requests.lock().unwrap().is_empty(),
        "no change set before the primary stack has its outputs"
    );
    let us = &plan.stacks[1];
    assert!(us.deferred && us.change_set.is_none());
    assert_eq!(
        us.diff.changes.len(),
        changeset::all_added(&stacks[1]).len()
    );
    assert!(
        us.diff.changes.len() > 5,
        "the template's resources, all added"
    );
    assert!(
        us.diff
            .note
            .as_deref()
            .unwrap_or("")
            .contains("once MedplumStagingStack has deployed"),
        "{:?}",
        us.diff.note
    );
    assert!(plan.has_changes());

    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{:?}", report.error);
    let made = second.requests.lock().unwrap().clone();
    assert_eq!(made.len(), 1);
    let mut params = made[0].parameters.clone();
    params.sort();
    assert_eq!(params, oai_outputs().into_iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn the_us_east_1_stack_gets_the_primary_outputs_it_takes_as_inputs() {
    // A first deploy outside us-east-1: the companion's change set is made only once the
    // primary stack has deployed and reported its outputs, with those values, and executed.
    let clock = FakeClock::at(T0);
    let primary = Arc::new(FakeCfn::new(
        "eu-west-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(3)),
            changes: adds(&medplum_like_resources(3)),
            outputs: oai_outputs(),
            ..Default::default()
        },
    ));
    let second = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(2)),
            changes: adds(&medplum_like_resources(2)),
            ..Default::default()
        },
    ));
    let backends = two_regions(&primary, &second);
    let (sink, mut rx) = DeploySink::channel();
    let d = Deployer::new(&backends, clock.as_ref(), sink).with_policy(PollPolicy::default(), 7);
    let plan = d
        .plan(&[
            template(PRIMARY, "eu-west-1", &medplum_like_resources(3)),
            companion_template(&medplum_like_resources(2)),
        ])
        .await
        .unwrap();
    assert!(
        second
            .calls()
            .iter()
            .all(|c| !c.starts_with("CreateChangeSet"))
    );
    assert_eq!(
        plan.stacks[1].diff.summary().line(),
        "2 to add, 0 to change, 0 to remove"
    );

    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{:?}", report.error);
    let made = second.requests.lock().unwrap().clone();
    assert_eq!(made.len(), 1, "made once, with the real values");
    let mut params = made[0].parameters.clone();
    params.sort();
    assert_eq!(params, oai_outputs().into_iter().collect::<Vec<_>>());
    let executes = second
        .calls()
        .iter()
        .filter(|c| c.starts_with("ExecuteChangeSet"))
        .count();
    assert_eq!(executes, 1);
    // The change set made during the deploy is shown like the plan's.
    let shown = std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|e| matches!(e, DeployEvent::ChangeSet { diff, .. } if diff.stack.ends_with("-us-east-1")))
        .count();
    assert_eq!(shown, 2, "the template's plan, then the change set's");
}

#[tokio::test]
async fn an_existing_us_east_1_stack_is_planned_with_the_known_outputs_and_says_the_primary_changes()
 {
    let clock = FakeClock::at(T0);
    let outputs: Vec<(&str, &str)> = vec![
        ("AppOriginAccessIdentity", "E1APPOAI"),
        ("StorageOriginAccessIdentity", "E2STORAGEOAI"),
    ];
    let primary = Arc::new(
        FakeCfn::new(
            "eu-west-1",
            clock.clone(),
            Script {
                execute: vec![
                    stack_ev(0.0, "UPDATE_IN_PROGRESS", Some("User Initiated")),
                    stack_ev(30.0, "UPDATE_COMPLETE", None),
                ],
                changes: vec![modify("Db", "AWS::SSM::Parameter", Replacement::Never)],
                outputs: oai_outputs(),
                ..Default::default()
            },
        )
        .with_stack(PRIMARY, "UPDATE_COMPLETE")
        .with_outputs(PRIMARY, &outputs),
    );
    let us = format!("{PRIMARY}-us-east-1");
    let second = Arc::new(
        FakeCfn::new(
            "us-east-1",
            clock.clone(),
            Script {
                execute: vec![
                    stack_ev(0.0, "UPDATE_IN_PROGRESS", Some("User Initiated")),
                    stack_ev(30.0, "UPDATE_COMPLETE", None),
                ],
                changes: vec![modify(
                    "Dist",
                    "AWS::CloudFront::Distribution",
                    Replacement::Never,
                )],
                ..Default::default()
            },
        )
        .with_stack(&us, "UPDATE_COMPLETE"),
    );
    let backends = two_regions(&primary, &second);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 10);
    let plan = d
        .plan(&[
            template(PRIMARY, "eu-west-1", &[]),
            companion_template(&medplum_like_resources(1)),
        ])
        .await
        .unwrap();
    let planned = second.requests.lock().unwrap().clone();
    assert_eq!(planned.len(), 1, "a change set at plan time");
    assert!(
        planned[0]
            .parameters
            .iter()
            .all(|(_, v)| v.starts_with('E'))
    );
    let note = plan.stacks[1].diff.note.clone().unwrap_or_default();
    assert!(note.contains("which this deploy changes too"), "{note}");
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(report.ok, "{:?}", report.error);
    assert_eq!(
        second.requests.lock().unwrap().len(),
        1,
        "the outputs did not change: the planned change set runs"
    );
}

#[tokio::test]
async fn a_change_set_made_during_the_deploy_is_refused_when_it_puts_data_at_risk() {
    let clock = FakeClock::at(T0);
    let primary = Arc::new(FakeCfn::new(
        "eu-west-1",
        clock.clone(),
        Script {
            execute: create_timeline(&medplum_like_resources(1)),
            changes: adds(&medplum_like_resources(1)),
            outputs: oai_outputs(),
            ..Default::default()
        },
    ));
    let removal = ResourceChange {
        action: ChangeAction::Remove,
        logical_id: "StorageStorageBucket".into(),
        resource_type: "AWS::S3::Bucket".into(),
        replacement: None,
        replacing_properties: vec![],
        scope: vec![],
        properties: vec![],
    };
    let second = Arc::new(FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            changes: vec![removal],
            ..Default::default()
        },
    ));
    let backends = two_regions(&primary, &second);
    let d = Deployer::new(&backends, clock.as_ref(), DeploySink::discard())
        .with_policy(PollPolicy::default(), 11);
    let plan = d
        .plan(&[
            template(PRIMARY, "eu-west-1", &medplum_like_resources(1)),
            companion_template(&medplum_like_resources(1)),
        ])
        .await
        .unwrap();
    let report = d.apply(plan, &Cancel::new()).await;
    assert!(!report.ok);
    match &report.error {
        Some(DeployError::DataAtRisk { stack, resources }) => {
            assert!(stack.ends_with("-us-east-1"));
            assert_eq!(resources, &["StorageStorageBucket"]);
        }
        other => panic!("{other:?}"),
    }
    let calls = second.calls();
    assert!(
        !calls.iter().any(|c| c.starts_with("ExecuteChangeSet")),
        "{calls:?}"
    );
    assert!(calls.iter().any(|c| c.starts_with("DeleteChangeSet")));
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
    let second = companion_template(&medplum_like_resources(1));
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
