//! Read-only look-ups the guided install offers as choices before any answer is final: who the
//! credentials belong to, the account's public hosted zones, and its issued ACM certificates.
//!
//! Plain data out, nothing written. Each call is announced on the event sink like a step's
//! calls, so a front end shows it (spinner, elapsed time, failure with hint) the same way, and
//! races `cancel` like a step's calls.

use aws_sdk_acm::types::CertificateStatus;

use super::certificates::covers;
use super::dns::list_public_zones;
use crate::aws::{AwsClients, AwsError};
use crate::config::zones::Zone;
use crate::engine::ctx::announced_call;
use crate::engine::{Cancel, EventSink, StepId};

/// The identity behind the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// One issued certificate, as a choice for the API, app or storage name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub arn: String,
    pub region: String,
    /// The certificate's domain name and every SAN.
    pub names: Vec<String>,
    /// Expiry, seconds since the epoch, when ACM says.
    pub not_after: Option<i64>,
}

impl CertSummary {
    /// Whether the certificate covers `domain` (SANs and one-label wildcards count).
    pub fn covers(&self, domain: &str) -> bool {
        covers(None, &self.names, domain)
    }
}

pub async fn caller(
    aws: &AwsClients,
    events: &EventSink,
    cancel: &Cancel,
) -> Result<Caller, AwsError> {
    let out = announced_call(
        events,
        cancel,
        StepId::Identity,
        "sts",
        "GetCallerIdentity",
        aws.region(),
        "caller",
        aws.sts().get_caller_identity().send(),
    )
    .await?;
    Ok(Caller {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// The account's public hosted zones, by name.
pub async fn hosted_zones(
    aws: &AwsClients,
    events: &EventSink,
    cancel: &Cancel,
) -> Result<Vec<Zone>, AwsError> {
    let mut zones = list_public_zones(aws, events, cancel, StepId::Certificates).await?;
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(zones)
}

/// Every ISSUED certificate in `region`, all key types, every page. Summaries whose SAN list ACM
/// cut short are described once to get the full list.
pub async fn issued_certificates(
    aws: &AwsClients,
    events: &EventSink,
    cancel: &Cancel,
    region: &str,
) -> Result<Vec<CertSummary>, AwsError> {
    let acm = aws.acm(region);
    let filters = crate::steps::certificates::all_key_types();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = announced_call(
            events,
            cancel,
            StepId::Certificates,
            "acm",
            "ListCertificates",
            region,
            "issued certificates",
            acm.list_certificates()
                .certificate_statuses(CertificateStatus::Issued)
                .includes(filters.clone())
                .max_items(1000)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for s in page.certificate_summary_list() {
            let Some(arn) = s.certificate_arn() else {
                continue;
            };
            let mut names: Vec<String> = s.domain_name().into_iter().map(str::to_string).collect();
            for san in s.subject_alternative_name_summaries() {
                if !names.contains(san) {
                    names.push(san.clone());
                }
            }
            if s.has_additional_subject_alternative_names() == Some(true) {
                let d = announced_call(
                    events,
                    cancel,
                    StepId::Certificates,
                    "acm",
                    "DescribeCertificate",
                    region,
                    arn,
                    acm.describe_certificate().certificate_arn(arn).send(),
                )
                .await?;
                if let Some(c) = d.certificate() {
                    for san in c.subject_alternative_names() {
                        if !names.contains(san) {
                            names.push(san.clone());
                        }
                    }
                }
            }
            out.push(CertSummary {
                arn: arn.to_string(),
                region: region.to_string(),
                names,
                not_after: s.not_after().map(|t| t.secs()),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Longest-lived first: the one a user most likely wants on top.
    out.sort_by_key(|c| std::cmp::Reverse(c.not_after.unwrap_or(0)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_cover_by_san_and_wildcard() {
        let c = CertSummary {
            arn: "arn:aws:acm:us-east-1:123456789012:certificate/x".into(),
            region: "us-east-1".into(),
            names: vec!["example.com".into(), "*.example.com".into()],
            not_after: None,
        };
        assert!(c.covers("example.com"));
        assert!(c.covers("api.example.com"));
        assert!(!c.covers("api.staging.example.com"));
    }
}
