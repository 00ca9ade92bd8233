//! ACM certificates for the API (in the stack's region, for the load balancer) and for the app
//! and storage (in us-east-1, for CloudFront).
//!
//! Per certificate: reuse an ISSUED certificate that covers the name (SANs and wildcards count;
//! a PENDING_VALIDATION one only when medplum-init requested it), or request one with DNS
//! validation and an idempotency token derived from environment, region and domain, so a retry
//! never makes a second certificate. Validation CNAMEs are written to Route53 when the zone is
//! there; with `wait`, the step polls until ISSUED.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateStatus, KeyAlgorithm, Tag, ValidationMethod};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

pub mod lookup;
mod validation;

use lookup::check_supplied;
pub use lookup::{all_key_types, covers, idempotency_token, name_covers};
pub(crate) use lookup::{find_existing, full_covers};
use validation::{describe, describe_with_records, wait_issued};

use super::dns;
use crate::answers::CertChoice;
use crate::config::US_EAST_1;
use crate::engine::event::DnsRecord;
use crate::engine::{Ctx, Event, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::Certificates;
pub const ENV_TAG: &str = "medplum:environment";

pub struct Certificates;

/// One of the three certificates Medplum needs.
#[derive(Debug, Clone)]
pub struct Want {
    pub purpose: &'static str,
    pub domain: String,
    pub region: String,
    pub choice: CertChoice,
}

pub fn wanted(ctx: &Ctx) -> Vec<Want> {
    let a = &ctx.answers;
    let c = &a.certificates;
    vec![
        Want {
            purpose: "api",
            domain: a.api_domain().into(),
            region: a.region().into(),
            choice: c.api.clone(),
        },
        Want {
            purpose: "app",
            domain: a.app_domain().into(),
            region: US_EAST_1.into(),
            choice: c.app.clone(),
        },
        Want {
            purpose: "storage",
            domain: a.storage_domain().into(),
            region: US_EAST_1.into(),
            choice: c.storage.clone(),
        },
    ]
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CertRecord {
    pub arn: String,
    pub domain: String,
    pub region: String,
    /// medplum-init requested it (rather than reusing one).
    pub requested: bool,
    pub status: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub certificates: BTreeMap<String, CertRecord>,
}

#[async_trait]
impl Step for Certificates {
    fn id(&self) -> StepId {
        ID
    }

    fn validate(&self, ctx: &Ctx) -> Result<(), StepError> {
        // A record that does not parse would lose the idempotency tokens and ARNs that keep a
        // re-run from requesting duplicate certificates: refuse before the first AWS call.
        ctx.journal.data::<Record>(ID)?;
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        let mut calls = Vec::new();
        let dns = ctx.answers.certificates.dns_records && !ctx.answers.skip_dns();
        for w in wanted(ctx) {
            let d = &w.domain;
            match &w.choice {
                CertChoice::Skip => continue,
                CertChoice::Arn(arn) => calls.push(PlannedCall::read(
                    "acm",
                    "DescribeCertificate",
                    &w.region,
                    arn,
                )),
                CertChoice::Auto | CertChoice::Request => {
                    calls.push(PlannedCall::read(
                        "acm",
                        "ListCertificates",
                        &w.region,
                        format!("certificates covering {d}"),
                    ));
                    let cond = if w.choice == CertChoice::Auto {
                        format!("when no issued certificate covers {d}")
                    } else {
                        format!("unless medplum-init already requested one for {d}")
                    };
                    calls.push(
                        PlannedCall::write(
                            "acm",
                            "RequestCertificate",
                            &w.region,
                            format!("{d} (DNS validation)"),
                        )
                        .when(cond),
                    );
                    calls.push(PlannedCall::read(
                        "acm",
                        "DescribeCertificate",
                        &w.region,
                        format!("validation records of {d}"),
                    ));
                    if dns {
                        calls.push(PlannedCall::read(
                            "route53",
                            "ListHostedZones",
                            US_EAST_1,
                            "the zone that holds the name",
                        ));
                        calls.push(
                            PlannedCall::write(
                                "route53",
                                "ChangeResourceRecordSets",
                                US_EAST_1,
                                format!("validation CNAME of {d}"),
                            )
                            .when("when the hosted zone is in this account"),
                        );
                    }
                    if ctx.answers.certificates.wait {
                        calls.push(PlannedCall::read(
                            "acm",
                            "DescribeCertificate",
                            &w.region,
                            format!("{d}, until ISSUED"),
                        ));
                    }
                }
            }
        }
        calls
    }

    async fn dry_run(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        // An ARN the answers give, or one a previous run recorded, is known offline.
        let record: Record = ctx.journal.data(ID)?.unwrap_or_default();
        for w in wanted(ctx) {
            let arn = match &w.choice {
                CertChoice::Arn(a) => Some(a.clone()),
                CertChoice::Skip => None,
                _ => record.certificates.get(w.purpose).map(|r| r.arn.clone()),
            };
            if let Some(arn) = arn {
                ctx.outputs.update(|o| {
                    o.certificates.insert(w.purpose.into(), arn);
                });
            }
        }
        Ok(Outcome::Planned)
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let wants = wanted(ctx);
        if wants.iter().all(|w| w.choice == CertChoice::Skip) {
            return Ok(Outcome::Skipped);
        }
        // The three certificates are independent; their calls go out concurrently.
        let results = join_all(wants.iter().map(|w| one(ctx, w))).await;
        let mut changed = false;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(c) => changed |= c,
                Err(e) if first_err.is_none() => first_err = Some(e),
                Err(_) => {}
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        Ok(if changed {
            Outcome::Done
        } else {
            Outcome::Unchanged
        })
    }

    async fn verify(&self, ctx: &Ctx) -> Result<(), StepError> {
        let out = ctx.outputs.get();
        for w in wanted(ctx) {
            if w.choice == CertChoice::Skip {
                continue;
            }
            let Some(arn) = out.certificates.get(w.purpose) else {
                return Err(StepError::failed(
                    format!("no certificate for {}", w.domain),
                    None,
                ));
            };
            let acm = ctx.aws()?.acm(&w.region);
            let cert = describe(ctx, &acm, &w.region, arn).await?;
            if !covers(
                cert.domain_name(),
                cert.subject_alternative_names(),
                &w.domain,
            ) {
                return Err(StepError::failed(
                    format!("{arn} does not cover {}", w.domain),
                    None,
                ));
            }
        }
        Ok(())
    }
}

/// Handles one certificate; returns whether anything was created or written.
async fn one(ctx: &Ctx, w: &Want) -> Result<bool, StepError> {
    let acm = ctx.aws()?.acm(&w.region);
    let record: Record = ctx.journal.data(ID)?.unwrap_or_default();
    let mut changed = false;
    let (arn, requested) = match &w.choice {
        CertChoice::Skip => {
            ctx.events.progress(
                ID,
                format!(
                    "{}: skipped; set {}SslCertArn yourself before deploying",
                    w.domain, w.purpose
                ),
            );
            return Ok(false);
        }
        CertChoice::Arn(arn) => (arn.clone(), false),
        CertChoice::Auto | CertChoice::Request => {
            let recorded = record
                .certificates
                .get(w.purpose)
                .filter(|r| r.domain == w.domain && r.region == w.region);
            match find_existing(ctx, &acm, w, recorded).await? {
                Some((arn, requested)) => (arn, requested),
                None => {
                    let token = idempotency_token(ctx.env(), &w.region, &w.domain);
                    let req = acm
                        .request_certificate()
                        .domain_name(&w.domain)
                        .validation_method(ValidationMethod::Dns)
                        .key_algorithm(KeyAlgorithm::Rsa2048)
                        .idempotency_token(&token)
                        .tags(
                            Tag::builder()
                                .key(ENV_TAG)
                                .value(ctx.env())
                                .build()
                                .expect("key set"),
                        );
                    let out = ctx
                        .call(
                            ID,
                            "acm",
                            "RequestCertificate",
                            &w.region,
                            &w.domain,
                            req.send(),
                        )
                        .await?;
                    let arn = out.certificate_arn().unwrap_or_default().to_string();
                    if arn.is_empty() {
                        return Err(StepError::failed(
                            format!("ACM returned no ARN for {}", w.domain),
                            None,
                        ));
                    }
                    changed = true;
                    (arn, true)
                }
            }
        }
    };
    ctx.journal.update::<Record, _>(ID, |r| {
        let e = r.certificates.entry(w.purpose.into()).or_default();
        e.arn = arn.clone();
        e.domain = w.domain.clone();
        e.region = w.region.clone();
        e.requested = requested || (e.requested && e.arn == arn);
    })?;

    let (mut status, records) = describe_with_records(ctx, &acm, w, &arn).await?;
    if let CertChoice::Arn(_) = w.choice {
        check_supplied(ctx, &acm, w, &arn).await?;
    }
    let mut shown: Vec<DnsRecord> = records
        .iter()
        .map(|(n, v)| DnsRecord {
            name: n.clone(),
            kind: "CNAME".into(),
            value: v.clone(),
            written: false,
        })
        .collect();
    if status == CertificateStatus::PendingValidation && !shown.is_empty() {
        let dns_ok = ctx.answers.certificates.dns_records && !ctx.answers.skip_dns();
        let zone = if dns_ok {
            dns::zone_for(ctx, ID, &w.domain).await?
        } else {
            None
        };
        for rec in &mut shown {
            if let Some(z) = zone.as_ref().filter(|z| {
                crate::config::validators::is_within(rec.name.trim_end_matches('.'), &z.name)
            }) {
                changed |= dns::ensure_cname(ctx, ID, z, &rec.name, &rec.value).await?;
                rec.written = true;
            }
        }
        if shown.iter().any(|r| !r.written) {
            ctx.events.warn(
                ID,
                format!("{}: add the validation record(s) below to your DNS; ACM issues the certificate once it sees them", w.domain),
                None,
            );
        }
    }
    // Validation records only matter while ACM waits for them.
    if status != CertificateStatus::PendingValidation {
        shown.clear();
    }
    emit(ctx, w, &arn, &status, shown);

    if status == CertificateStatus::PendingValidation && ctx.answers.certificates.wait {
        status = wait_issued(ctx, &acm, w, &arn).await?;
        emit(ctx, w, &arn, &status, Vec::new());
    }
    match status {
        CertificateStatus::Issued | CertificateStatus::PendingValidation => {}
        other => {
            return Err(StepError::failed(
                format!("certificate {arn} for {} is {}", w.domain, other.as_str()),
                Some(
                    "request a new one: set certificates.".to_string()
                        + w.purpose
                        + " = \"request\" or give another ARN",
                ),
            ));
        }
    }
    ctx.journal.update::<Record, _>(ID, |r| {
        if let Some(e) = r.certificates.get_mut(w.purpose) {
            e.status = status.as_str().to_string();
        }
    })?;
    ctx.outputs.update(|o| {
        o.certificates.insert(w.purpose.into(), arn);
    });
    Ok(changed)
}

fn emit(ctx: &Ctx, w: &Want, arn: &str, status: &CertificateStatus, records: Vec<DnsRecord>) {
    ctx.events.emit(Event::Certificate {
        step: ID,
        purpose: w.purpose.into(),
        domain: w.domain.clone(),
        arn: arn.into(),
        region: w.region.clone(),
        status: status.as_str().into(),
        records,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "api.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(name_covers("api.example.com", "API.example.com"));
        assert!(!name_covers("api.example.com", "app.example.com"));
        assert!(covers(
            Some("example.com"),
            &["*.staging.example.com".into()],
            "api.staging.example.com"
        ));
    }

    #[test]
    fn tokens_are_stable_and_acm_shaped() {
        let t = idempotency_token("staging", "us-east-1", "api.example.com");
        assert_eq!(
            t,
            idempotency_token("staging", "us-east-1", "api.example.com")
        );
        assert_ne!(t, idempotency_token("prod", "us-east-1", "api.example.com"));
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
