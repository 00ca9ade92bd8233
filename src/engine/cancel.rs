//! Cooperative cancellation: Ctrl-C sets it; steps check it at their waiting points and between
//! AWS calls, so a run stops at a clean boundary with the journal up to date. AWS calls race it
//! ([`Cancel::race`]): a call waiting on an endpoint that does not answer is dropped at once
//! (the SDK closes its connection), not waited out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<(AtomicBool, Notify)>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cancel({})", self.is_cancelled())
    }
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.inner.0.store(true, Ordering::SeqCst);
        self.inner.1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.0.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `fut` unless cancelled first (or already): `None` then, and `fut` is dropped. A
    /// call abandoned this way may still have reached AWS; steps are idempotent, so the next run
    /// finds what it did.
    pub async fn race<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.cancelled() => None,
            out = fut => Some(out),
        }
    }

    /// Sleeps for `d` unless cancelled first; returns false when cancelled.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_cancelled(),
            _ = self.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_race_ends_when_cancelled_and_drops_the_pending_call() {
        let cancel = Cancel::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.cancel();
        });
        let never = std::future::pending::<u8>();
        assert_eq!(cancel.race(never).await, None);
        // Already cancelled: the call is not even started.
        assert_eq!(cancel.race(async { 1 }).await, None);
    }

    #[tokio::test]
    async fn a_race_returns_the_answer_when_not_cancelled() {
        assert_eq!(Cancel::new().race(async { 7 }).await, Some(7));
    }
}
