//! Finding a certificate to reuse: the journal's, an ISSUED one that covers the name (SANs and
//! one-label wildcards count), or a pending one this environment requested; and the idempotency
//! token that makes a repeated request return the same certificate.

use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm};
use sha2::{Digest, Sha256};

use super::validation::describe;
use super::{CertRecord, ENV_TAG, ID, Want};
use crate::answers::CertChoice;
use crate::engine::{Ctx, StepError};

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

pub fn covers(domain_name: Option<&str>, sans: &[String], domain: &str) -> bool {
    domain_name
        .into_iter()
        .chain(sans.iter().map(String::as_str))
        .any(|n| name_covers(n, domain))
}

/// ACM's list filter with every key type: its default lists RSA-2048 certificates only.
pub fn all_key_types() -> Filters {
    Filters::builder()
        .key_types(KeyAlgorithm::Rsa1024)
        .key_types(KeyAlgorithm::Rsa2048)
        .key_types(KeyAlgorithm::Rsa3072)
        .key_types(KeyAlgorithm::Rsa4096)
        .key_types(KeyAlgorithm::EcPrime256v1)
        .key_types(KeyAlgorithm::EcSecp384r1)
        .key_types(KeyAlgorithm::EcSecp521r1)
        .build()
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
        match describe(ctx, acm, &w.region, &r.arn).await {
            Ok(c) => {
                let usable = matches!(
                    c.status(),
                    Some(CertificateStatus::Issued | CertificateStatus::PendingValidation)
                ) && covers(c.domain_name(), c.subject_alternative_names(), &w.domain);
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
    // All key types, both statuses, every page.
    let filters = all_key_types();
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
    let c = describe(ctx, acm, &w.region, arn).await?;
    Ok(covers(
        c.domain_name(),
        c.subject_alternative_names(),
        &w.domain,
    ))
}

/// An ARN from the answers must exist, cover the name and not be failed or expired.
pub(super) async fn check_supplied(
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
