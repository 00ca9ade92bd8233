//! Medplum's two configurations: the CDK infra config (`medplum.<env>.config.json`) and the
//! server config (parameters under `/medplum/<env>/`), plus the values derived from them, and the
//! rules every layer that reads or writes them shares: single-value validators
//! ([`validators`]) and the hosted-zone pick ([`zones`]). Those live here, not in `answers/` or
//! `steps/`, so the synthesizer can apply them without depending on either.

pub mod cloudtrail;
pub mod derive;
pub mod infra;
pub mod server;
pub mod validators;
pub mod zones;

/// us-east-1, the region with more than one role: AWS's global services (CloudFront and the
/// certificates and WAF it uses, Route53) live and are signed there, S3 creates a bucket there
/// when the request names no LocationConstraint, and it is the region used when nothing names
/// one.
pub const US_EAST_1: &str = "us-east-1";
