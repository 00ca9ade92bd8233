//! Frame render time of the deploy progress pane with 150 resources, at 80x24 and 120x40.
//!
//! Not a test: run with `cargo bench --bench deploy_pane` and record the figures in
//! docs/benchmarks.md. The state is a first install mid-way (some rows done, some in progress,
//! one failed with a long reason, a full event log), drawn into ratatui's TestBackend so the
//! figure is the pane's own cost, not the terminal's.

use std::time::{Duration, Instant};

use medplum_init::deploy::changeset::{ChangeAction, ChangeSetKind};
use medplum_init::deploy::event::{DeployEvent, PlannedResource, Time};
use medplum_init::deploy::progress::DeployState;
use medplum_init::ui::deploy::pane::{Palette, draw_with};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const T0: i64 = 1_735_689_600_000;
const TYPES: [&str; 10] = [
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::RDS::DBInstance",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ECS::Service",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::CloudFront::Distribution",
    "AWS::S3::Bucket",
    "AWS::SSM::Parameter",
    "AWS::IAM::Role",
];

/// The state, and how many events built it.
fn state() -> (DeployState, usize) {
    let ids: Vec<(String, &str)> = (0..150)
        .map(|i| {
            (
                format!("BackEndResource{i:03}Abcdef12"),
                TYPES[i % TYPES.len()],
            )
        })
        .collect();
    let mut st = DeployState::new();
    let mut n = 1;
    st.apply(&DeployEvent::StackStarted {
        stack: "MedplumStagingStack".into(),
        region: "us-east-1".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/MedplumStagingStack/1"
            .into(),
        kind: ChangeSetKind::Create,
        at: Time(T0),
        resources: ids
            .iter()
            .map(|(id, ty)| PlannedResource {
                logical_id: id.clone(),
                resource_type: ty.to_string(),
                action: ChangeAction::Add,
                replaces: false,
            })
            .collect(),
    });
    for (i, (id, ty)) in ids.iter().enumerate() {
        let ev = |status: &str, reason: Option<&str>, at: i64| DeployEvent::Resource {
            stack: "MedplumStagingStack".into(),
            logical_id: id.clone(),
            resource_type: ty.to_string(),
            physical_id: None,
            status: status.into(),
            reason: reason.map(str::to_string),
            at: Time(T0 + at),
        };
        let start = i as i64 * 2_000;
        st.apply(&ev("CREATE_IN_PROGRESS", None, start));
        n += 1;
        match i % 3 {
            0 => {
                st.apply(&ev("CREATE_COMPLETE", None, start + 30_000));
                n += 1;
            }
            1 if i == 7 => {
                st.apply(&ev(
                    "CREATE_FAILED",
                    Some("Resource handler returned message: \"Invalid parameter: cache.t2.medium is not a supported node type for new Redis replication groups. (Service: ElastiCache, Status Code: 400, Request ID: 6b1f2e9c)\" (RequestToken: 0c9d8e7f, HandlerErrorCode: InvalidRequest)"),
                    start + 5_000,
                ));
                n += 1;
            }
            _ => {}
        }
    }
    st.apply(&DeployEvent::Tick {
        at: Time(T0 + 400_000),
    });
    (st, n + 1)
}

fn measure(st: &DeployState, w: u16, h: u16, frames: usize) -> (Duration, Duration, Duration) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let palette = Palette { color: true };
    // Warm up.
    for _ in 0..50 {
        term.draw(|f| draw_with(st, f, f.area(), palette)).unwrap();
    }
    let mut times: Vec<Duration> = (0..frames)
        .map(|_| {
            let t = Instant::now();
            term.draw(|f| draw_with(st, f, f.area(), palette)).unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[frames / 2], times[frames * 99 / 100])
}

fn main() {
    let (st, events) = state();
    let frames = 2000;
    println!("deploy pane, 150 resources, {frames} frames each (TestBackend):");
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let (min, median, p99) = measure(&st, w, h, frames);
        println!(
            "  {w}x{h}: median {:.1} µs, min {:.1} µs, p99 {:.1} µs",
            median.as_secs_f64() * 1e6,
            min.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    // Folding events into the model: what every renderer pays per CloudFormation event.
    let t = Instant::now();
    let n = 200;
    for _ in 0..n {
        std::hint::black_box(state());
    }
    let per = t.elapsed() / n;
    println!(
        "  model: 150-resource state built from {events} events in {:.1} µs ({:.2} µs/event)",
        per.as_secs_f64() * 1e6,
        per.as_secs_f64() * 1e6 / events as f64
    );
}
