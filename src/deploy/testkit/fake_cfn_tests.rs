//! The scripted CloudFormation refuses what CloudFormation refuses, so a deployer test cannot
//! pass on behaviour the service would reject.

use std::time::Duration;

use super::*;
use crate::deploy::testkit::{T0, adds};

const STACK: &str = "MedplumStagingStack-us-east-1";

fn request(kind: ChangeSetKind, parameters: &[(&str, &str)]) -> ChangeSetRequest {
    ChangeSetRequest {
        stack_name: STACK.into(),
        change_set_name: "cs".into(),
        kind,
        template: TemplateSource::Body(
            serde_json::json!({
                "Parameters": {"AppOriginAccessIdentity": {"Type": "String", "AllowedPattern": "^[A-Z0-9]+$"}},
                "Resources": {"X": {"Type": "AWS::SSM::Parameter"}}
            })
            .to_string(),
        ),
        tags: vec![],
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        description: String::new(),
        role_arn: None,
    }
}

fn fake(clock: &Arc<FakeClock>) -> FakeCfn {
    FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            changes: adds(&[("X".into(), "AWS::SSM::Parameter".into())]),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn parameters_are_validated_at_create_change_set() {
    let clock = FakeClock::at(T0);
    let cfn = fake(&clock);
    let err = cfn
        .create_change_set(&request(
            ChangeSetKind::Create,
            &[(
                "AppOriginAccessIdentity",
                "pending:MedplumStagingStack:AppOriginAccessIdentity",
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ValidationError"));
    assert_eq!(
        err.message,
        "Parameter 'AppOriginAccessIdentity' must match pattern ^[A-Z0-9]+$"
    );
    let err = cfn
        .create_change_set(&request(ChangeSetKind::Create, &[]))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Parameters: [AppOriginAccessIdentity] must have values"
    );
    assert!(
        cfn.describe_stack(STACK).await.unwrap().is_none(),
        "a refused change set makes no stack"
    );
    cfn.create_change_set(&request(
        ChangeSetKind::Create,
        &[("AppOriginAccessIdentity", "E1APPOAI")],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn busy_and_rolled_back_stacks_refuse_change_sets() {
    let clock = FakeClock::at(T0);
    let cfn = fake(&clock)
        .with_stack(STACK, "REVIEW_IN_PROGRESS")
        .with_running(
            STACK,
            1.0,
            &[super::super::stack_ev(
                0.0,
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
            )],
        );
    let ok = [("AppOriginAccessIdentity", "E1")];
    let err = cfn
        .create_change_set(&request(ChangeSetKind::Update, &ok))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "Stack:arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/1 is in CREATE_IN_PROGRESS state and can not be updated."
        )
    );
    let cfn = fake(&clock).with_stack(STACK, "ROLLBACK_COMPLETE");
    let err = cfn
        .create_change_set(&request(ChangeSetKind::Update, &ok))
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("ROLLBACK_COMPLETE state and can not be updated")
    );
    let err = cfn
        .create_change_set(&request(ChangeSetKind::Create, &ok))
        .await
        .unwrap_err();
    assert!(err.message.contains("can not be updated"), "{err}");
}

#[tokio::test]
async fn a_deleted_name_is_free_only_after_delete_complete() {
    let clock = FakeClock::at(T0);
    let cfn = fake(&clock).with_stack(STACK, "ROLLBACK_COMPLETE");
    let old = cfn.describe_stack(STACK).await.unwrap().unwrap().stack_id;
    cfn.delete_stack(&old, None).await.unwrap();
    let ok = [("AppOriginAccessIdentity", "E1")];
    let st = cfn.describe_stack(STACK).await.unwrap().unwrap().status;
    assert_eq!(st, "DELETE_IN_PROGRESS");
    let err = cfn
        .create_change_set(&request(ChangeSetKind::Create, &ok))
        .await
        .unwrap_err();
    assert!(err.message.contains("DELETE_IN_PROGRESS"), "{err}");
    clock.advance(Duration::from_secs(21));
    assert!(cfn.describe_stack(STACK).await.unwrap().is_none());
    assert_eq!(
        cfn.describe_stack(&old).await.unwrap().unwrap().status,
        "DELETE_COMPLETE",
        "the id still answers"
    );
    let ids = cfn
        .create_change_set(&request(ChangeSetKind::Create, &ok))
        .await
        .unwrap();
    assert_ne!(ids.stack_id, old, "a new stack, a new id");
}

#[tokio::test]
async fn only_an_available_change_set_executes_and_its_events_carry_the_token() {
    let clock = FakeClock::at(T0);
    let cfn = FakeCfn::new(
        "us-east-1",
        clock.clone(),
        Script {
            changes: adds(&[("X".into(), "AWS::SSM::Parameter".into())]),
            execute: vec![super::super::stack_ev(
                0.0,
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
            )],
            ..Default::default()
        },
    );
    let ids = cfn
        .create_change_set(&request(
            ChangeSetKind::Create,
            &[("AppOriginAccessIdentity", "E1")],
        ))
        .await
        .unwrap();
    let err = cfn
        .execute_change_set(&ids.stack_id, &ids.id, "tok")
        .await
        .unwrap_err();
    assert!(err.message.contains("UNAVAILABLE"), "{err}");
    let info = cfn
        .describe_change_set(&ids.stack_id, &ids.id)
        .await
        .unwrap();
    assert_eq!(info.execution_status.as_deref(), Some("AVAILABLE"));
    cfn.execute_change_set(&ids.stack_id, &ids.id, "tok")
        .await
        .unwrap();
    let page = cfn.stack_events(&ids.stack_id, None).await.unwrap();
    assert_eq!(page.events[0].client_request_token.as_deref(), Some("tok"));
}
