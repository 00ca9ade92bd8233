//! Rotating the CloudFront signing key with no downtime: what a rotation records in the journal,
//! the order of its stages, and when its grace period ends. The AWS work of each stage is in
//! [`key`] (the new key: registered, then written to SSM; the old one deleted) and [`restart`]
//! (the servers' forced new deployment); `commands::rotate` runs the stages, the two deploys
//! among them through the deploy engine.
//!
//! The stages, each recorded when done, so a run killed anywhere resumes at the next one:
//! 1. `registered`: a new key pair made (its private half waits in a 0600 file) and its public
//!    half registered in CloudFront (CallerReference journaled before the create);
//! 2. `both_trusted`: the config names the new key in `signingKeyId` and the old one in
//!    `medplumInitRetiringSigningKeyId`, and the stack is deployed: the key group trusts both;
//! 3. `written`: SSM holds the new `signingKey`, `signingKeyPassphrase` and `signingKeyId`;
//! 4. `restarted`: the servers were redeployed (ECS forced new deployment, waited until it
//!    completed) and now sign with the new key; the grace period starts;
//! 5. after the grace period (URLs the old key signed last an hour): the config drops the
//!    retiring key, the stack is deployed with the new key alone, and the old public key is
//!    deleted from CloudFront. The record is then removed.
//!
//! Until stage 5 both keys verify, so a failure anywhere leaves every signed URL working.

pub mod key;
pub mod restart;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::steps::signing_key::KeyRecord;

/// The journal's key for a rotation in progress.
pub const JOURNAL_KEY: &str = "rotation";

/// Medplum's server signs storage URLs valid for one hour; five more minutes cover clock skew
/// and a URL signed just before the restart finished.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(65 * 60);

/// The last stage a rotation completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Started: the new key is being made and registered.
    #[default]
    Started,
    Registered,
    BothTrusted,
    Written,
    Restarted,
}

impl Stage {
    /// What the next step of the rotation does, for plans and `status`.
    pub fn next(self) -> &'static str {
        match self {
            Stage::Started => "register the new public key in CloudFront",
            Stage::Registered => "deploy the key group with both keys",
            Stage::BothTrusted => "write the new key to Parameter Store",
            Stage::Written => "restart the Medplum servers on the new key",
            Stage::Restarted => {
                "after the grace period, deploy the key group with the new key alone and delete the old key"
            }
        }
    }

    /// The stage's number, 1 to 5, of the one that comes next.
    pub fn number_of_next(self) -> u8 {
        match self {
            Stage::Started => 1,
            Stage::Registered => 2,
            Stage::BothTrusted => 3,
            Stage::Written => 4,
            Stage::Restarted => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Started => "started",
            Stage::Registered => "registered",
            Stage::BothTrusted => "both_trusted",
            Stage::Written => "written",
            Stage::Restarted => "restarted",
        }
    }
}

/// A rotation in progress, as the journal keeps it: public facts only. The new private key and
/// its passphrase wait in [`key::PENDING_FILE`] (0600) until SSM holds them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub stage: Stage,
    /// The key being retired (CloudFront id) and its public half.
    pub old_key_id: String,
    #[serde(default)]
    pub old_public_key_pem: Option<String>,
    /// The new key, as the signing key step records its own.
    #[serde(default)]
    pub next: KeyRecord,
    pub started: String,
    pub grace_seconds: u64,
    /// The ECS deployment the restart started, recorded as soon as ECS answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// When the servers ran the new key: the grace period counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
}

impl Rotation {
    pub fn new(old_key_id: String, old_public_key_pem: Option<String>, grace: Duration) -> Self {
        Self {
            stage: Stage::Started,
            old_key_id,
            old_public_key_pem,
            next: KeyRecord::default(),
            started: crate::engine::time::now_rfc3339(),
            grace_seconds: grace.as_secs(),
            deployment: None,
            restarted_at: None,
        }
    }

    /// When the last stage may run (epoch milliseconds), once the servers were restarted.
    pub fn may_finish_at(&self) -> Option<i64> {
        let restarted = crate::deploy::clock::parse_rfc3339(self.restarted_at.as_deref()?)?;
        Some(restarted + self.grace_seconds as i64 * 1000)
    }

    /// How long until the last stage may run, at `now_ms`; zero when it may run now. `None`
    /// before the restart.
    pub fn grace_left(&self, now_ms: i64) -> Option<Duration> {
        let at = self.may_finish_at()?;
        Some(Duration::from_millis((at - now_ms).max(0) as u64))
    }

    /// The time the last stage may run, as `2026-12-02T19:05:00Z`.
    pub fn may_finish_text(&self) -> Option<String> {
        let at = self.may_finish_at()?;
        Some(crate::engine::time::format_rfc3339(
            std::time::UNIX_EPOCH + Duration::from_millis(at.max(0) as u64),
        ))
    }
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_period_counts_from_the_restart() {
        let mut r = Rotation::new("K1OLD".into(), None, Duration::from_secs(3900));
        assert_eq!(r.grace_left(0), None, "no restart yet");
        r.restarted_at = Some("2026-12-02T18:00:00Z".into());
        let at = r.may_finish_at().unwrap();
        assert_eq!(r.may_finish_text().as_deref(), Some("2026-12-02T19:05:00Z"));
        assert_eq!(r.grace_left(at - 60_000), Some(Duration::from_secs(60)));
        assert_eq!(r.grace_left(at + 1), Some(Duration::ZERO));
    }

    #[test]
    fn stages_are_ordered_and_say_what_comes_next() {
        assert!(Stage::Started < Stage::Registered && Stage::Written < Stage::Restarted);
        assert_eq!(Stage::Written.number_of_next(), 4);
        assert!(Stage::Restarted.next().contains("grace period"));
        let r = Rotation::new("K1OLD".into(), None, DEFAULT_GRACE);
        let back: Rotation = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            serde_json::to_value(Stage::BothTrusted).unwrap(),
            "both_trusted"
        );
    }
}
