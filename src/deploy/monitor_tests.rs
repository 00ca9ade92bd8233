use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::deploy::cfn::{CloudFormation, EventsPage};
use crate::deploy::event::DeployEvent;
use crate::deploy::testkit::*;

const STACK: &str = "MedplumStagingStack";

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<DeployEvent>) -> Vec<DeployEvent> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

/// A fake with `script` executed at T0 on a stack created by a change set.
async fn executed(clock: &Arc<FakeClock>, mut script: Script) -> (FakeCfn, String) {
    if script.changes.is_empty() {
        // Only a change set with changes can be executed.
        script.changes = adds(&[("R".into(), "AWS::SSM::Parameter".into())]);
    }
    let cfn = FakeCfn::new("us-east-1", clock.clone(), script);
    let ids = cfn
        .create_change_set(&crate::deploy::cfn::ChangeSetRequest {
            parameters: vec![],
            stack_name: STACK.into(),
            change_set_name: "cs".into(),
            kind: crate::deploy::changeset::ChangeSetKind::Create,
            template: crate::deploy::staging::TemplateSource::Body("{}".into()),
            tags: vec![],
            description: String::new(),
            role_arn: None,
        })
        .await
        .unwrap();
    cfn.describe_change_set(&ids.stack_id, &ids.id)
        .await
        .unwrap();
    cfn.execute_change_set(&ids.stack_id, &ids.id, "token")
        .await
        .unwrap();
    (cfn, ids.stack_id)
}

#[test]
fn the_delay_stays_in_its_window() {
    let p = PollPolicy::default();
    for u in [0.0, 0.3, 0.999] {
        let d = p.delay(0, u);
        assert!(
            d >= Duration::from_secs(1) && d <= Duration::from_secs(4),
            "{d:?}"
        );
    }
    assert_eq!(p.bound(1), Duration::from_secs(8));
    assert_eq!(p.bound(3), Duration::from_secs(32));
    assert_eq!(p.bound(40), Duration::from_secs(32), "capped, no overflow");
    assert_eq!(
        p.delay(3, 0.0),
        Duration::from_secs(16),
        "never below half the bound"
    );
}

#[tokio::test]
async fn a_150_resource_create_is_followed_to_the_end_each_event_once_in_order() {
    let clock = FakeClock::at(T0);
    let resources = medplum_like_resources(150);
    let timeline = create_timeline(&resources);
    let (cfn, id) = executed(
        &clock,
        Script {
            execute: timeline.clone(),
            ..Default::default()
        },
    )
    .await;
    let (sink, mut rx) = DeploySink::channel();
    let mut watch = Watch::new(&cfn, clock.as_ref(), &sink, STACK, &id, T0)
        .with_policy(PollPolicy::default(), 7);
    assert_eq!(
        watch.run(None).await,
        WatchEnd::Settled("CREATE_COMPLETE".into())
    );

    let events = drain(&mut rx);
    let resources_seen: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DeployEvent::Resource { at, .. } => Some(at.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        resources_seen.len(),
        timeline.len(),
        "every event exactly once"
    );
    assert!(
        resources_seen.windows(2).all(|w| w[0] <= w[1]),
        "chronological"
    );

    // Gentle: one page per poll (at most 100 events can appear between two polls here).
    let polls = clock.sleeps().len() + 1;
    assert!(
        watch.pages_fetched() <= polls + 1,
        "{} pages for {polls} polls",
        watch.pages_fetched()
    );
    for d in clock.sleeps() {
        assert!(
            d >= Duration::from_secs(1) && d <= Duration::from_secs(4),
            "{d:?}"
        );
    }
    // The longest resource (the Redis group, 9 minutes) bounds the deploy.
    let took = clock.now_ms() - T0;
    assert!((540_000..700_000).contains(&took), "took {took} ms");

    let mut state = crate::deploy::progress::DeployState::new();
    events.iter().for_each(|e| {
        state.apply(e);
    });
    let s = state.stack(STACK).unwrap();
    assert_eq!(s.counter(), (150, 150));
    assert_eq!(s.status.as_deref(), Some("CREATE_COMPLETE"));
}

/// Events in pages of 100, with a history older than the window and an injected overlap.
struct Paged {
    /// Newest first.
    events: Vec<crate::deploy::cfn::StackEventRecord>,
    /// Each later page repeats this many events of the page before (a race CloudFormation has
    /// when events arrive between two page reads).
    overlap: usize,
    calls: std::sync::Mutex<usize>,
}

#[async_trait]
impl StackEventsSource for Paged {
    async fn stack_events(&self, _: &str, token: Option<String>) -> Result<EventsPage, AwsError> {
        *self.calls.lock().unwrap() += 1;
        let from: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
        let start = from.saturating_sub(if from > 0 { self.overlap } else { 0 });
        let to = (from + 100).min(self.events.len());
        Ok(EventsPage {
            events: self.events[start..to].to_vec(),
            next_token: (to < self.events.len()).then(|| to.to_string()),
        })
    }
    async fn describe_stack(&self, _: &str) -> Result<Option<StackInfo>, AwsError> {
        Ok(None)
    }
}

fn record(i: usize, at_ms: i64) -> crate::deploy::cfn::StackEventRecord {
    crate::deploy::cfn::StackEventRecord {
        event_id: format!("e{i}"),
        stack_id: "id".into(),
        stack_name: STACK.into(),
        logical_id: format!("R{i}"),
        physical_id: None,
        resource_type: "AWS::SSM::Parameter".into(),
        status: "CREATE_COMPLETE".into(),
        reason: None,
        at_ms,
        client_request_token: None,
    }
}

#[tokio::test]
async fn paging_stops_at_the_window_and_at_the_first_seen_event_and_dedups() {
    // 250 new events (inside the window) over 5,000 old ones: 3 pages, not 53.
    let mut events: Vec<_> = (0..250).rev().map(|i| record(i, T0 + i as i64)).collect();
    events.extend((0..5000).map(|i| record(10_000 + i, T0 - 1 - i as i64)));
    let src = Paged {
        events,
        overlap: 7,
        calls: Default::default(),
    };
    let mut m = Monitor::new(&src, "id", T0);
    let first = m.poll().await.unwrap();
    assert_eq!(first.len(), 250, "overlapping pages are deduplicated");
    assert_eq!(first[0].event_id, "e0", "oldest first");
    assert_eq!(first[249].event_id, "e249");
    assert_eq!(*src.calls.lock().unwrap(), 3);

    // Nothing new: one page, stopped at its first (already seen) event.
    assert!(m.poll().await.unwrap().is_empty());
    assert_eq!(*src.calls.lock().unwrap(), 4);
    assert_eq!(m.pages_fetched, 4);
}

#[tokio::test]
async fn throttling_backs_off_to_32_seconds_and_the_deploy_still_settles() {
    let clock = FakeClock::at(T0);
    let mut resources = medplum_like_resources(20);
    // Nine minutes: the stack is still creating when the throttling ends.
    resources.push(("Redis".into(), "AWS::ElastiCache::ReplicationGroup".into()));
    let (cfn, id) = executed(
        &clock,
        Script {
            execute: create_timeline(&resources),
            // Polls 3 to 10 are throttled.
            throttle_calls: (3..=10).collect(),
            ..Default::default()
        },
    )
    .await;
    let (sink, mut rx) = DeploySink::channel();
    let policy = PollPolicy {
        status_every: 1000, // DescribeStacks only after a failed poll
        ..Default::default()
    };
    let mut watch = Watch::new(&cfn, clock.as_ref(), &sink, STACK, &id, T0).with_policy(policy, 3);
    assert_eq!(
        watch.run(None).await,
        WatchEnd::Settled("CREATE_COMPLETE".into())
    );

    let sleeps: Vec<u64> = clock
        .sleeps()
        .iter()
        .map(|d| d.as_millis() as u64)
        .collect();
    // Sleeps 0-2 are normal polls; sleep k (k >= 3) follows the (k-2)th throttle in a row.
    for (k, &ms) in sleeps.iter().enumerate().take(3) {
        assert!((1000..=4000).contains(&ms), "poll {k}: {ms} ms");
    }
    let bounds = [
        8_000u64, 16_000, 32_000, 32_000, 32_000, 32_000, 32_000, 32_000,
    ];
    for (n, bound) in bounds.iter().enumerate() {
        let ms = sleeps[3 + n];
        assert!(
            ms <= *bound && ms >= bound / 2,
            "throttle {}: {ms} ms, bound {bound}",
            n + 1
        );
    }
    assert!(
        sleeps[5..11].iter().all(|&ms| ms >= 16_000),
        "the back-off reached 32 s: {sleeps:?}"
    );
    // A good poll resets the pace.
    assert!((1000..=4000).contains(&sleeps[11]), "{sleeps:?}");

    let warnings = drain(&mut rx)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                DeployEvent::PollWarning {
                    throttled: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(warnings, 8);
}

/// Every events read fails: the status still comes from DescribeStacks.
struct Broken(FakeCfn);

#[async_trait]
impl StackEventsSource for Broken {
    async fn stack_events(&self, _: &str, _: Option<String>) -> Result<EventsPage, AwsError> {
        Err(AwsError {
            service: "cloudformation".into(),
            operation: "DescribeStackEvents".into(),
            code: None,
            message: "connection reset".into(),
            kind: crate::aws::AwsErrorKind::Network,
        })
    }
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError> {
        self.0.describe_stack(stack).await
    }
}

#[tokio::test]
async fn a_failing_event_read_never_fails_the_deploy() {
    let clock = FakeClock::at(T0);
    let (cfn, id) = executed(
        &clock,
        Script {
            execute: create_timeline(&medplum_like_resources(3)),
            ..Default::default()
        },
    )
    .await;
    let broken = Broken(cfn);
    let (sink, mut rx) = DeploySink::channel();
    let mut watch = Watch::new(&broken, clock.as_ref(), &sink, STACK, &id, T0)
        .with_policy(PollPolicy::default(), 1);
    assert_eq!(
        watch.run(None).await,
        WatchEnd::Settled("CREATE_COMPLETE".into())
    );
    assert!(drain(&mut rx)
        .iter()
        .any(|e| matches!(e, DeployEvent::PollWarning { throttled: false, message, .. } if message.contains("connection reset"))));
}

#[tokio::test]
async fn the_final_status_is_read_with_retries() {
    let clock = FakeClock::at(T0);
    let (cfn, id) = executed(
        &clock,
        Script {
            execute: create_timeline(&medplum_like_resources(2)),
            describe_failures: 4,
            ..Default::default()
        },
    )
    .await;
    clock.advance(Duration::from_secs(3600));
    let info = final_status(&cfn, clock.as_ref(), &id, STACK)
        .await
        .unwrap();
    assert_eq!(info.status, "CREATE_COMPLETE");
    let sleeps: Vec<_> = clock.sleeps().iter().map(|d| d.as_secs()).collect();
    assert_eq!(sleeps, [1, 2, 4, 8]);
}

#[tokio::test]
async fn ctrl_c_interrupts_the_watch() {
    let clock = FakeClock::at(T0);
    let cancel = Cancel::new();
    let (cfn, id) = executed(
        &clock,
        Script {
            execute: create_timeline(&medplum_like_resources(10)),
            interrupt_at: Some((T0 + 20_000, cancel.clone())),
            ..Default::default()
        },
    )
    .await;
    let sink = DeploySink::discard();
    let mut watch = Watch::new(&cfn, clock.as_ref(), &sink, STACK, &id, T0)
        .with_policy(PollPolicy::default(), 1);
    assert_eq!(watch.run(Some(&cancel)).await, WatchEnd::Interrupted);
    assert!(clock.now_ms() - T0 < 30_000);
    // Watching again without the cancel runs to the end.
    assert!(matches!(watch.run(None).await, WatchEnd::Settled(_)));
}

fn network_error(operation: &str) -> AwsError {
    AwsError {
        service: "cloudformation".into(),
        operation: operation.into(),
        code: None,
        message: "no answer in time".into(),
        kind: crate::aws::AwsErrorKind::TimedOut,
    }
}

/// Neither events nor status can be read (an endpoint gone or hung), except every
/// `status_ok_every`-th DescribeStacks, which answers "still in progress".
struct Unreachable {
    describes: std::sync::atomic::AtomicU32,
    status_ok_every: u32,
}

#[async_trait]
impl StackEventsSource for Unreachable {
    async fn stack_events(&self, _: &str, _: Option<String>) -> Result<EventsPage, AwsError> {
        Err(network_error("DescribeStackEvents"))
    }
    async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError> {
        let n = self
            .describes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if (n + 1).is_multiple_of(self.status_ok_every) {
            return Ok(Some(StackInfo {
                stack_id: stack.into(),
                name: STACK.into(),
                status: "CREATE_IN_PROGRESS".into(),
                ..Default::default()
            }));
        }
        Err(network_error("DescribeStacks"))
    }
}

#[tokio::test]
async fn a_stack_that_cannot_be_read_ends_the_watch_after_the_cap_with_the_last_error() {
    let clock = FakeClock::at(T0);
    let source = Unreachable {
        describes: 0.into(),
        status_ok_every: u32::MAX,
    };
    let sink = DeploySink::discard();
    let policy = PollPolicy {
        max_failures: 3,
        ..Default::default()
    };
    let mut watch =
        Watch::new(&source, clock.as_ref(), &sink, STACK, "id", T0).with_policy(policy, 1);
    let end = watch.run(None).await;
    let WatchEnd::Unreadable { failures, error } = end else {
        panic!("{end:?}");
    };
    assert_eq!(failures, 3);
    assert_eq!(error.operation, "DescribeStackEvents");
    assert_eq!(
        clock.sleeps().len(),
        2,
        "two waits between three failed polls"
    );
}

#[tokio::test]
async fn a_readable_status_resets_the_count_of_failed_polls() {
    let clock = FakeClock::at(T0);
    // Events never answer; DescribeStacks answers every third time, so failures come two in a
    // row at most: the watch still follows the stack and must not give up (the deadline ends
    // it). Without the reset the count would reach 3 at the fourth failure.
    let source = Unreachable {
        describes: 0.into(),
        status_ok_every: 3,
    };
    let sink = DeploySink::discard();
    let policy = PollPolicy {
        max_failures: 3,
        ..Default::default()
    };
    let mut watch = Watch::new(&source, clock.as_ref(), &sink, STACK, "id", T0)
        .with_policy(policy, 1)
        .with_deadline(T0 + 600_000);
    assert_eq!(watch.run(None).await, WatchEnd::TimedOut);
    assert!(source.describes.load(std::sync::atomic::Ordering::SeqCst) > 6);
}

/// An events read that never answers, as on an endpoint that accepts and stays silent.
struct Hung;

#[async_trait]
impl StackEventsSource for Hung {
    async fn stack_events(&self, _: &str, _: Option<String>) -> Result<EventsPage, AwsError> {
        std::future::pending().await
    }
    async fn describe_stack(&self, _: &str) -> Result<Option<StackInfo>, AwsError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn ctrl_c_interrupts_a_read_that_never_answers() {
    let clock = FakeClock::at(T0);
    let cancel = Cancel::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.cancel();
    });
    let sink = DeploySink::discard();
    let mut watch = Watch::new(&Hung, clock.as_ref(), &sink, STACK, "id", T0);
    let end = tokio::time::timeout(Duration::from_secs(10), watch.run(Some(&cancel))).await;
    assert_eq!(end, Ok(WatchEnd::Interrupted));
}
