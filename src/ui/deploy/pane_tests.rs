use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::deploy::changeset::ChangeSetKind;
use crate::deploy::event::{DeployEvent, PlannedResource, Time};
use crate::deploy::testkit::*;

const STACK: &str = "MedplumStagingStack";

/// The state after replaying `script` up to `until_s` seconds, planned with `resources`.
fn state(resources: &[(String, String)], script: &[Scripted], until_s: i64) -> DeployState {
    let mut st = DeployState::new();
    st.apply(&DeployEvent::StackStarted {
        stack: STACK.into(),
        region: "us-east-1".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/MedplumStagingStack/1"
            .into(),
        kind: ChangeSetKind::Create,
        at: Time(T0),
        resources: resources
            .iter()
            .map(|(id, ty)| PlannedResource {
                logical_id: id.clone(),
                resource_type: ty.clone(),
                action: crate::deploy::changeset::ChangeAction::Add,
                replaces: false,
            })
            .collect(),
    });
    for e in as_deploy_events(STACK, T0, script) {
        if let DeployEvent::Resource { at, .. } = &e
            && at.0 > T0 + until_s * 1000
        {
            break;
        }
        st.apply(&e);
    }
    st.apply(&DeployEvent::Tick {
        at: Time(T0 + until_s * 1000),
    });
    st
}

fn screen(st: &DeployState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw_with(st, f, f.area(), Palette { color: false }))
        .unwrap();
    t
}

fn failure_state(until_s: i64) -> DeployState {
    let rec = failure_recording();
    let mut resources: Vec<(String, String)> = rec
        .iter()
        .filter(|s| s.logical_id != "$STACK")
        .map(|s| (s.logical_id.clone(), s.resource_type.clone()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    resources.retain(|r| seen.insert(r.0.clone()));
    state(&resources, &rec, until_s)
}

#[test]
fn a_150_resource_create_at_80x24() {
    let resources = medplum_like_resources(150);
    let st = state(&resources, &create_timeline(&resources), 150);
    insta::assert_snapshot!(screen(&st, 80, 24).backend());
}

#[test]
fn a_150_resource_create_at_120x40() {
    let resources = medplum_like_resources(150);
    let st = state(&resources, &create_timeline(&resources), 150);
    insta::assert_snapshot!(screen(&st, 120, 40).backend());
}

#[test]
fn a_failure_with_rollback_at_80x24() {
    insta::assert_snapshot!(screen(&failure_state(60), 80, 24).backend());
}

#[test]
fn a_failure_with_rollback_at_120x40() {
    insta::assert_snapshot!(screen(&failure_state(60), 120, 40).backend());
}

#[test]
fn a_finished_rollback_at_120x40() {
    let mut st = failure_state(400);
    st.apply(&DeployEvent::StackFinished {
        stack: STACK.into(),
        status: "ROLLBACK_COMPLETE".into(),
        ok: false,
        reason: None,
        outputs: Default::default(),
        at: Time(T0 + 400_000),
    });
    let failures = st.failure_recap();
    st.apply(&DeployEvent::Finished {
        ok: false,
        cancelled: false,
        failures,
        at: Time(T0 + 400_000),
    });
    insta::assert_snapshot!(screen(&st, 120, 40).backend());
}

#[test]
fn the_failure_reason_stays_visible_under_its_row() {
    for (w, h) in [(80, 24), (120, 40)] {
        let t = screen(&failure_state(60), w, h);
        let text = format!("{}", t.backend());
        assert!(text.contains("BackEndRedisCluster"), "{w}x{h}\n{text}");
        assert!(text.contains("cache.t2.medium"), "{w}x{h}\n{text}");
        assert!(text.contains("[9/11]"), "{w}x{h}\n{text}");
        assert!(text.contains("create failed"), "{w}x{h}\n{text}");
        assert!(
            !text.contains("RequestToken"),
            "support details are left to the recap"
        );
    }
}

#[test]
fn nothing_to_draw_before_the_first_stack() {
    let t = screen(&DeployState::new(), 80, 24);
    assert!(format!("{}", t.backend()).contains("Waiting for CloudFormation"));
}

#[test]
fn reasons_are_made_concise_for_the_pane() {
    assert_eq!(
        concise(
            "Resource handler returned message: \"Invalid parameter: x (Service: ElastiCache, Status Code: 400, Request ID: 6b1f)\" (RequestToken: 0c9d, HandlerErrorCode: InvalidRequest)"
        ),
        "Invalid parameter: x (Service: ElastiCache, Status Code: 400)"
    );
    assert_eq!(
        concise("Resource creation cancelled"),
        "Resource creation cancelled"
    );
}

#[test]
fn long_reasons_wrap_and_ids_are_cut_with_an_ellipsis() {
    assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
    assert_eq!(fit("BackEndDatabaseCluster", 8), "BackEnd…");
    assert_eq!(fit("Db", 4), "Db  ");
}

/// A finished create, then the web app's publish up to `events`.
fn publishing(events: &[crate::deploy::event::AppEvent]) -> DeployState {
    let resources = medplum_like_resources(150);
    let mut st = state(&resources, &create_timeline(&resources), 2000);
    st.apply(&DeployEvent::StackFinished {
        stack: STACK.into(),
        status: "CREATE_COMPLETE".into(),
        ok: true,
        reason: None,
        outputs: Default::default(),
        at: Time(T0 + 2_000_000),
    });
    st.apply(&DeployEvent::Finished {
        ok: true,
        cancelled: false,
        failures: vec![],
        at: Time(T0 + 2_000_000),
    });
    for e in events {
        st.apply(&DeployEvent::App(e.clone()));
    }
    st
}

fn app_events() -> Vec<crate::deploy::event::AppEvent> {
    use crate::deploy::event::AppEvent;
    let mut events = vec![
        AppEvent::Fetching {
            package: "@medplum/app".into(),
            version: Some("5.0.10".into()),
            source: "https://registry.npmjs.org".into(),
        },
        AppEvent::Download {
            received: 2_100_000,
            total: Some(3_000_000),
        },
    ];
    events.push(AppEvent::Planned {
        version: "5.0.10".into(),
        bucket: "app.example.com".into(),
        uploads: 40,
        unchanged: 0,
        deletes: 0,
    });
    for done in 1..=12 {
        events.push(AppEvent::Uploaded {
            key: format!("assets/chunk-{done:02}-3f9a1c.js"),
            done,
            total: 40,
        });
    }
    events
}

#[test]
fn the_web_apps_download_shows_as_a_gauge_under_the_resources() {
    let st = publishing(&app_events()[..2]);
    insta::assert_snapshot!(screen(&st, 80, 24).backend());
}

#[test]
fn the_web_apps_uploads_at_120x40() {
    let st = publishing(&app_events());
    insta::assert_snapshot!(screen(&st, 120, 40).backend());
}

#[test]
fn the_web_apps_end_is_in_the_block_and_the_footer() {
    use crate::deploy::event::AppEvent;
    let mut events = app_events();
    events.push(AppEvent::Finished {
        ok: true,
        message: "@medplum/app 5.0.10 serves at https://app.example.com/ (40 uploaded)".into(),
    });
    let text = format!("{}", screen(&publishing(&events), 80, 24).backend());
    assert!(text.contains("✓ published"), "{text}");
    assert!(
        text.contains("serves at https://app.example.com/"),
        "{text}"
    );
    assert!(text.contains("the web app is published"), "{text}");

    let mut events = app_events();
    events.push(AppEvent::Finished {
        ok: false,
        message: "the app bucket refused the upload: AccessDenied".into(),
    });
    let text = format!("{}", screen(&publishing(&events), 80, 24).backend());
    assert!(text.contains("✗ stopped"), "{text}");
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(text.contains("the web app was not published"), "{text}");
}

#[test]
fn a_delete_shows_its_resources_and_says_ctrl_c_only_stops_following() {
    let mut st = DeployState::new();
    st.apply(&DeployEvent::DeleteStarted {
        stack: STACK.into(),
        region: "us-east-1".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/MedplumStagingStack/1"
            .into(),
        at: Time(T0),
    });
    for (i, (id, ty, status)) in [
        (
            "FrontEndAppDistributionA2F700A1",
            "AWS::CloudFront::Distribution",
            "DELETE_IN_PROGRESS",
        ),
        (
            "BackEndFargateServiceD3B260C0",
            "AWS::ECS::Service",
            "DELETE_COMPLETE",
        ),
        (
            "BackEndDatabaseCluster8B2F7305",
            "AWS::RDS::DBCluster",
            "DELETE_SKIPPED",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        st.apply(&DeployEvent::Resource {
            stack: STACK.into(),
            logical_id: id.into(),
            resource_type: ty.into(),
            physical_id: None,
            status: status.into(),
            reason: None,
            at: Time(T0 + 10_000 * (i as i64 + 1)),
        });
    }
    st.apply(&DeployEvent::Tick {
        at: Time(T0 + 95_000),
    });
    let t = screen(&st, 80, 24);
    let text = format!("{}", t.backend());
    assert!(text.contains("delete in progress"), "{text}");
    assert!(text.contains("FrontEndAppDistribution"), "{text}");
    assert!(
        text.contains("Ctrl-C: stop following (CloudFormation goes on deleting on its own)"),
        "{text}"
    );
    assert!(
        !text.contains("rolls back"),
        "nothing is rolled back: {text}"
    );
    insta::assert_snapshot!(t.backend());
}
