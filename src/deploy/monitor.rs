//! The stack-event monitor: reads DescribeStackEvents gently and only for display.
//!
//! * Window: only events at or after the change set's creation time, deduplicated by EventId;
//!   paging (newest first) stops at the first event already seen or older than the window, so a
//!   poll usually costs one call however long the stack's history is.
//! * Pace: a poll every 1–4 s with jitter; after throttling, exponential backoff up to 32 s
//!   (never below half the current bound, so the back-off really grows), reset by a good poll.
//! * Failure: a failed poll is a warning. The stack's status is then read with DescribeStacks,
//!   and the final status always comes from DescribeStacks with retries. Only when neither can
//!   be read [`PollPolicy::max_failures`] times in a row (an endpoint gone or hung) does the
//!   watch give up, with the last error ([`WatchEnd::Unreadable`]): CloudFormation carries on,
//!   and the next deploy follows it.
//! * Ctrl-C: every read races the cancel signal, so a read hung on an unanswering endpoint does
//!   not hold the interrupt back.
//!
//! The source of events and the clock are parameters, so recorded event streams and a fake
//! clock drive this exactly as CloudFormation does.

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cfn::{StackEventRecord, StackEventsSource, StackInfo, status};
use super::clock::{Clock, EpochMs};
use super::diagnose::ServiceWatch;
use super::event::{DeployEvent, DeploySink, Time};
use crate::aws::{AwsError, AwsErrorKind};
use crate::engine::Cancel;

/// How often to poll, and how far to back off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub min: Duration,
    pub max: Duration,
    pub cap: Duration,
    /// Every this many polls, DescribeStacks double-checks the status (and after a failed poll).
    pub status_every: u64,
    /// Polls in a row that read nothing (events nor status) before the watch gives up.
    pub max_failures: u32,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(1),
            max: Duration::from_secs(4),
            cap: Duration::from_secs(32),
            status_every: 10,
            max_failures: Self::MAX_FAILURES,
        }
    }
}

impl PollPolicy {
    /// The default of `--max-poll-failures`: with SDK retries inside each read, ten failed polls
    /// in a row are minutes of an unreachable endpoint, not a blip.
    pub const MAX_FAILURES: u32 = 10;

    /// The bound after `throttles` throttled polls in a row: 4 s, 8 s, 16 s, 32 s, 32 s, ...
    pub fn bound(&self, throttles: u32) -> Duration {
        (self.max * 2u32.saturating_pow(throttles.min(16))).min(self.cap)
    }

    /// The wait before the next poll; `unit` is a random number in [0, 1).
    pub fn delay(&self, throttles: u32, unit: f64) -> Duration {
        let hi = self.bound(throttles);
        let lo = if throttles == 0 { self.min } else { hi / 2 };
        lo + (hi - lo).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// New events of one stack, oldest first, each once.
pub struct Monitor<'a> {
    source: &'a dyn StackEventsSource,
    /// A stack id: unlike the name, it still answers after the stack is deleted.
    stack: String,
    since_ms: EpochMs,
    seen: HashSet<String>,
    /// DescribeStackEvents calls made (for tests and the benchmark of paging).
    pub pages_fetched: usize,
}

impl<'a> Monitor<'a> {
    pub fn new(source: &'a dyn StackEventsSource, stack: &str, since_ms: EpochMs) -> Self {
        Self {
            source,
            stack: stack.to_string(),
            since_ms,
            seen: HashSet::new(),
            pages_fetched: 0,
        }
    }

    /// Events that appeared since the last poll, in chronological order.
    pub async fn poll(&mut self) -> Result<Vec<StackEventRecord>, AwsError> {
        let mut fresh: Vec<StackEventRecord> = Vec::new();
        let mut in_batch = HashSet::new();
        let mut token = None;
        'pages: loop {
            let page = self.source.stack_events(&self.stack, token.take()).await?;
            self.pages_fetched += 1;
            for e in page.events {
                if e.at_ms < self.since_ms || self.seen.contains(&e.event_id) {
                    break 'pages;
                }
                // New events arriving between two pages shift older ones onto the next page.
                if in_batch.insert(e.event_id.clone()) {
                    fresh.push(e);
                }
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        self.seen.extend(in_batch);
        fresh.reverse();
        Ok(fresh)
    }
}

/// How a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// The stack left `*_IN_PROGRESS` with this status.
    Settled(String),
    /// Ctrl-C: the caller decides what to ask of CloudFormation, then watches again.
    Interrupted,
    /// The deadline passed with the stack still in progress (`--timeout`).
    TimedOut,
    /// Neither events nor status could be read `failures` times in a row; `error` is the last
    /// failed DescribeStackEvents.
    Unreadable { failures: u32, error: AwsError },
}

/// `fut`, raced against `cancel` when there is one: `None` when cancelled first.
async fn raced<F: std::future::Future>(cancel: Option<&Cancel>, fut: F) -> Option<F::Output> {
    match cancel {
        Some(c) => c.race(fut).await,
        None => Some(fut.await),
    }
}

/// Polls one stack until it settles, sending every event to the sink.
pub struct Watch<'a> {
    monitor: Monitor<'a>,
    source: &'a dyn StackEventsSource,
    clock: &'a dyn Clock,
    sink: &'a DeploySink,
    stack_name: String,
    policy: PollPolicy,
    rng: StdRng,
    throttles: u32,
    /// Polls in a row that read neither events nor status.
    failures: u32,
    polls: u64,
    deadline: Option<EpochMs>,
    services: Option<ServiceWatch<'a>>,
}

impl<'a> Watch<'a> {
    pub fn new(
        source: &'a dyn StackEventsSource,
        clock: &'a dyn Clock,
        sink: &'a DeploySink,
        stack_name: &str,
        stack_id: &str,
        since_ms: EpochMs,
    ) -> Self {
        Self {
            monitor: Monitor::new(source, stack_id, since_ms),
            source,
            clock,
            sink,
            stack_name: stack_name.to_string(),
            policy: PollPolicy::default(),
            rng: StdRng::from_entropy(),
            throttles: 0,
            failures: 0,
            polls: 0,
            deadline: None,
            services: None,
        }
    }

    /// Diagnose ECS services that stay in progress ([`super::diagnose`]).
    pub fn with_services(mut self, services: ServiceWatch<'a>) -> Self {
        self.services = Some(services);
        self
    }

    /// Stop waiting (and return [`WatchEnd::TimedOut`]) once the clock passes `at`.
    pub fn with_deadline(mut self, at: EpochMs) -> Self {
        self.deadline = Some(at);
        self
    }

    /// Deterministic jitter and a chosen policy (tests, benchmarks).
    pub fn with_policy(mut self, policy: PollPolicy, seed: u64) -> Self {
        self.policy = policy;
        self.rng = StdRng::seed_from_u64(seed);
        self
    }

    pub fn pages_fetched(&self) -> usize {
        self.monitor.pages_fetched
    }

    fn emit(&self, e: &StackEventRecord) {
        self.sink.emit(DeployEvent::Resource {
            stack: self.stack_name.clone(),
            logical_id: e.logical_id.clone(),
            resource_type: e.resource_type.clone(),
            physical_id: e.physical_id.clone(),
            status: e.status.clone(),
            reason: e.reason.clone(),
            at: Time(e.at_ms),
        });
    }

    /// Polls until the stack settles, or until `cancel` fires (pass `None` once Ctrl-C has been
    /// handled, so a second watch runs to the end).
    pub async fn run(&mut self, cancel: Option<&Cancel>) -> WatchEnd {
        loop {
            let mut settled = None;
            let mut failed = None;
            let Some(polled) = raced(cancel, self.monitor.poll()).await else {
                return WatchEnd::Interrupted;
            };
            match polled {
                Ok(events) => {
                    self.throttles = 0;
                    self.failures = 0;
                    for e in &events {
                        self.emit(e);
                        if e.is_stack() && !status::in_progress(&e.status) {
                            settled = Some(e.status.clone());
                        }
                    }
                    if let Some(services) = &mut self.services {
                        services.observe(&events);
                        if settled.is_none() {
                            let now = self.clock.now_ms();
                            let check = services.check(now, &self.stack_name, self.sink);
                            if raced(cancel, check).await.is_none() {
                                return WatchEnd::Interrupted;
                            }
                        }
                    }
                }
                Err(err) => {
                    let throttled = err.kind == AwsErrorKind::Throttled;
                    if throttled {
                        self.throttles += 1;
                    }
                    let delay = self.policy.bound(self.throttles);
                    self.sink.emit(DeployEvent::PollWarning {
                        stack: self.stack_name.clone(),
                        message: if throttled {
                            format!("CloudFormation is throttling event reads; slowing down (up to {}s between reads)", delay.as_secs())
                        } else {
                            format!("could not read stack events: {err}; the deploy goes on")
                        },
                        throttled,
                        retry_in_ms: delay.as_millis() as u64,
                    });
                    failed = Some(err);
                }
            }
            self.polls += 1;
            self.sink.emit(DeployEvent::Tick {
                at: Time(self.clock.now_ms()),
            });
            if settled.is_none()
                && (failed.is_some() || self.polls.is_multiple_of(self.policy.status_every))
            {
                // Double-check with DescribeStacks: events can lag or fail, the status cannot.
                let read = self.source.describe_stack(&self.monitor.stack);
                let Some(read) = raced(cancel, read).await else {
                    return WatchEnd::Interrupted;
                };
                let now = match &read {
                    Ok(Some(info)) if !status::in_progress(&info.status) => {
                        Some(info.status.clone())
                    }
                    // Gone altogether: it was deleted.
                    Ok(None) => Some("DELETE_COMPLETE".to_string()),
                    _ => None,
                };
                match (read.is_ok(), failed) {
                    (false, Some(err)) => {
                        self.failures += 1;
                        if self.failures >= self.policy.max_failures {
                            return WatchEnd::Unreadable {
                                failures: self.failures,
                                error: err,
                            };
                        }
                    }
                    // The status answered: the stack is still being followed.
                    (true, _) => self.failures = 0,
                    (false, None) => {}
                }
                if now.is_some() {
                    // Catch up on the events that explain it, best effort.
                    if let Some(Ok(events)) = raced(cancel, self.monitor.poll()).await {
                        events.iter().for_each(|e| self.emit(e));
                    }
                    settled = now;
                }
            }
            if let Some(s) = settled {
                return WatchEnd::Settled(s);
            }
            if self.deadline.is_some_and(|d| self.clock.now_ms() >= d) {
                return WatchEnd::TimedOut;
            }
            let delay = self.policy.delay(self.throttles, self.rng.r#gen::<f64>());
            match cancel {
                Some(c) => {
                    tokio::select! {
                        biased;
                        _ = c.cancelled() => return WatchEnd::Interrupted,
                        _ = self.clock.sleep(delay) => {}
                    }
                }
                None => self.clock.sleep(delay).await,
            }
        }
    }
}

/// The stack's final status and outputs from DescribeStacks, retried with backoff (1 s, 2 s,
/// 4 s, ... up to 32 s, 8 tries) so a throttled last read cannot fail a finished deploy. A
/// stack that is gone (deleted on Ctrl-C) reads as DELETE_COMPLETE.
pub async fn final_status(
    source: &dyn StackEventsSource,
    clock: &dyn Clock,
    stack_id: &str,
    stack_name: &str,
) -> Result<StackInfo, AwsError> {
    let mut delay = Duration::from_secs(1);
    let mut last = None;
    for _ in 0..8 {
        match source.describe_stack(stack_id).await {
            Ok(Some(info)) if !status::in_progress(&info.status) => return Ok(info),
            Ok(Some(_)) => {}
            Ok(None) => {
                return Ok(StackInfo {
                    stack_id: stack_id.into(),
                    name: stack_name.into(),
                    status: "DELETE_COMPLETE".into(),
                    ..Default::default()
                });
            }
            Err(e) => last = Some(e),
        }
        clock.sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(32));
    }
    Err(last.unwrap_or_else(|| AwsError {
        service: "cloudformation".into(),
        operation: "DescribeStacks".into(),
        code: None,
        message: format!("{stack_name} is still in progress"),
        kind: AwsErrorKind::Other,
    }))
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
