//! ACM certificates for the API (in the stack's region, for the load balancer) and for the app
//! and storage (in us-east-1, for CloudFront).
//!
//! Per certificate: reuse an ISSUED certificate that covers the name (SANs and wildcards count;
//! a PENDING_VALIDATION one only when medplum-init requested it), or request one with DNS
//! validation and an idempotency token derived from environment, region and domain, so a retry
//! never makes a second certificate. Validation CNAMEs are written to Route53 when the zone is
//! there; with `wait`, the step polls until ISSUED.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm, Tag, ValidationMethod};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dns;
use crate::answers::CertChoice;
use crate::aws::clients::GLOBAL_REGION;
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
            region: GLOBAL_REGION.into(),
            choice: c.app.clone(),
        },
        Want {
            purpose: "storage",
            domain: a.storage_domain().into(),
            region: GLOBAL_REGION.into(),
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

/// ACM idempotency tokens: `\w+`, at most 32 characters. Same environment, region and domain,
/// same token, so a repeated request returns the same certificate.
pub fn idempotency_token(env: &str, region: &str, domain: &str) -> String {
    let d = Sha256::digest(format!("medplum-init|{env}|{region}|{domain}"));
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether a certificate name (possibly a wildcard) covers `domain`.
pub fn name_covers(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    match name.strip_prefix("*.") {
        // A wildcard covers exactly one label.
        Some(base) => domain
            .strip_suffix(&format!(".{base}"))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => name == domain,
    }
}

#[async_trait]
impl Step for Certificates {
    fn id(&self) -> StepId {
        ID
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
                            GLOBAL_REGION,
                            "the zone that holds the name",
                        ));
                        calls.push(
                            PlannedCall::write(
                                "route53",
                                "ChangeResourceRecordSets",
                                GLOBAL_REGION,
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
        let record: Record = ctx.journal.data(ID).unwrap_or_default();
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
            let d = ctx
                .call(
                    ID,
                    "acm",
                    "DescribeCertificate",
                    &w.region,
                    arn,
                    acm.describe_certificate().certificate_arn(arn).send(),
                )
                .await?;
            let cert = d
                .certificate()
                .ok_or_else(|| StepError::failed(format!("{arn} has no details"), None))?;
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

pub fn covers(domain_name: Option<&str>, sans: &[String], domain: &str) -> bool {
    domain_name
        .into_iter()
        .chain(sans.iter().map(String::as_str))
        .any(|n| name_covers(n, domain))
}

/// Handles one certificate; returns whether anything was created or written.
async fn one(ctx: &Ctx, w: &Want) -> Result<bool, StepError> {
    let acm = ctx.aws()?.acm(&w.region);
    let record: Record = ctx.journal.data(ID).unwrap_or_default();
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
                crate::answers::validators::is_within(rec.name.trim_end_matches('.'), &z.name)
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

/// A certificate to reuse: the journal's, else an issued one covering the name (Auto only), else
/// a pending one tagged for this environment. Returns the ARN and whether medplum-init requested it.
pub(crate) async fn find_existing(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    recorded: Option<&CertRecord>,
) -> Result<Option<(String, bool)>, StepError> {
    if let Some(r) = recorded {
        let d = ctx
            .call(
                ID,
                "acm",
                "DescribeCertificate",
                &w.region,
                &r.arn,
                acm.describe_certificate().certificate_arn(&r.arn).send(),
            )
            .await;
        match d {
            Ok(d) => {
                let usable = d.certificate().is_some_and(|c| {
                    matches!(
                        c.status(),
                        Some(CertificateStatus::Issued | CertificateStatus::PendingValidation)
                    ) && covers(c.domain_name(), c.subject_alternative_names(), &w.domain)
                });
                if usable {
                    return Ok(Some((r.arn.clone(), r.requested)));
                }
                ctx.events.progress(
                    ID,
                    format!(
                        "{}: the recorded certificate is no longer usable; looking again",
                        w.domain
                    ),
                );
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    // All key types, both statuses, every page: ACM's default filter shows RSA-2048 only.
    let filters = Filters::builder()
        .key_types(KeyAlgorithm::Rsa1024)
        .key_types(KeyAlgorithm::Rsa2048)
        .key_types(KeyAlgorithm::Rsa3072)
        .key_types(KeyAlgorithm::Rsa4096)
        .key_types(KeyAlgorithm::EcPrime256v1)
        .key_types(KeyAlgorithm::EcSecp384r1)
        .key_types(KeyAlgorithm::EcSecp521r1)
        .build();
    let mut issued = Vec::new();
    let mut pending = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = acm
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .certificate_statuses(CertificateStatus::PendingValidation)
            .includes(filters.clone())
            .max_items(1000)
            .set_next_token(token.clone());
        let page = ctx
            .call(
                ID,
                "acm",
                "ListCertificates",
                &w.region,
                &format!("certificates covering {}", w.domain),
                req.send(),
            )
            .await?;
        for s in page.certificate_summary_list() {
            let Some(arn) = s.certificate_arn() else {
                continue;
            };
            let listed = covers(
                s.domain_name(),
                s.subject_alternative_name_summaries(),
                &w.domain,
            );
            // Long SAN lists are cut short in summaries, and moto leaves them out altogether;
            // those need a closer look (ACM always lists at least the domain name itself).
            let maybe = listed
                || s.has_additional_subject_alternative_names() == Some(true)
                || s.subject_alternative_name_summaries().is_empty();
            if !maybe {
                continue;
            }
            match s.status() {
                Some(CertificateStatus::Issued) => issued.push((
                    arn.to_string(),
                    listed,
                    s.not_after().map(|t| t.secs()).unwrap_or(0),
                )),
                Some(CertificateStatus::PendingValidation) => pending.push(arn.to_string()),
                _ => {}
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if w.choice == CertChoice::Auto {
        // Longest-lived first.
        issued.sort_by_key(|(_, _, not_after)| std::cmp::Reverse(*not_after));
        for (arn, listed, _) in issued {
            if listed || full_covers(ctx, acm, w, &arn).await? {
                ctx.events.progress(
                    ID,
                    format!("{}: reusing issued certificate {arn}", w.domain),
                );
                return Ok(Some((arn, false)));
            }
        }
    }
    for arn in pending {
        if !full_covers(ctx, acm, w, &arn).await? {
            continue;
        }
        let tags = ctx
            .call(
                ID,
                "acm",
                "ListTagsForCertificate",
                &w.region,
                &arn,
                acm.list_tags_for_certificate().certificate_arn(&arn).send(),
            )
            .await?;
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == ENV_TAG && t.value() == Some(ctx.env()))
        {
            ctx.events.progress(
                ID,
                format!(
                    "{}: found the certificate medplum-init requested earlier, {arn}",
                    w.domain
                ),
            );
            return Ok(Some((arn, true)));
        }
    }
    Ok(None)
}

pub(crate) async fn full_covers(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    arn: &str,
) -> Result<bool, StepError> {
    let d = ctx
        .call(
            ID,
            "acm",
            "DescribeCertificate",
            &w.region,
            arn,
            acm.describe_certificate().certificate_arn(arn).send(),
        )
        .await?;
    Ok(d.certificate()
        .is_some_and(|c| covers(c.domain_name(), c.subject_alternative_names(), &w.domain)))
}

/// An ARN from the answers must exist, cover the name and not be failed or expired.
async fn check_supplied(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    arn: &str,
) -> Result<(), StepError> {
    if !full_covers(ctx, acm, w, arn).await? {
        return Err(StepError::invalid(
            format!("certificate {arn} does not cover {}", w.domain),
            format!(
                "give a certificate for {} (or a wildcard over it), or let medplum-init request one",
                w.domain
            ),
        ));
    }
    Ok(())
}

/// Status and validation CNAMEs. ACM fills the records in a few seconds after a request, so an
/// empty list is polled briefly.
async fn describe_with_records(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    arn: &str,
) -> Result<(CertificateStatus, Vec<(String, String)>), StepError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        let d = ctx
            .call(
                ID,
                "acm",
                "DescribeCertificate",
                &w.region,
                arn,
                acm.describe_certificate().certificate_arn(arn).send(),
            )
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    StepError::invalid(
                        format!("certificate {arn} does not exist in {}", w.region),
                        "check the ARN and its region",
                    )
                } else {
                    e.into()
                }
            })?;
        let cert = d
            .certificate()
            .ok_or_else(|| StepError::failed(format!("{arn} has no details"), None))?;
        let status = cert
            .status()
            .cloned()
            .unwrap_or(CertificateStatus::PendingValidation);
        let mut records: Vec<(String, String)> = cert
            .domain_validation_options()
            .iter()
            .filter_map(|o| o.resource_record())
            .map(|r| (r.name().to_string(), r.value().to_string()))
            .collect();
        records.sort();
        records.dedup();
        if status != CertificateStatus::PendingValidation
            || !records.is_empty()
            || started.elapsed() > Duration::from_secs(60)
        {
            return Ok((status, records));
        }
        if !ctx.cancel.sleep(delay).await {
            return Err(StepError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Polls until ISSUED (or a final failure), gently: 5 s growing to 30 s.
async fn wait_issued(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    arn: &str,
) -> Result<CertificateStatus, StepError> {
    let timeout = ctx.answers.certificates.wait_timeout;
    let started = Instant::now();
    let mut delay = Duration::from_secs(2);
    ctx.events.progress(
        ID,
        format!(
            "{}: waiting for ACM to issue the certificate (up to {} min)",
            w.domain,
            timeout.as_secs() / 60
        ),
    );
    loop {
        if !ctx.cancel.sleep(delay).await {
            return Err(StepError::Cancelled);
        }
        let d = ctx
            .call(
                ID,
                "acm",
                "DescribeCertificate",
                &w.region,
                arn,
                acm.describe_certificate().certificate_arn(arn).send(),
            )
            .await?;
        let status = d
            .certificate()
            .and_then(|c| c.status())
            .cloned()
            .unwrap_or(CertificateStatus::PendingValidation);
        if status != CertificateStatus::PendingValidation {
            ctx.events.progress(
                ID,
                format!(
                    "{}: {} after {}",
                    w.domain,
                    status.as_str(),
                    crate::engine::time::format_elapsed(started.elapsed())
                ),
            );
            return Ok(status);
        }
        if started.elapsed() >= timeout {
            return Err(StepError::Timeout {
                what: format!("validation of the {} certificate", w.domain),
                minutes: timeout.as_secs() / 60,
            });
        }
        delay = (delay * 3 / 2).min(Duration::from_secs(30));
    }
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
