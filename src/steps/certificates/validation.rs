//! After a certificate is chosen: its status and DNS validation records, and the wait for ISSUED.

use std::time::{Duration, Instant};

use aws_sdk_acm::types::CertificateStatus;

use aws_sdk_acm::types::CertificateDetail;

use super::{ID, Want};
use crate::aws::AwsError;
use crate::engine::{Ctx, StepError};

/// DescribeCertificate, announced like every call. A certificate without details is reported
/// as not found.
pub(crate) async fn describe(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    region: &str,
    arn: &str,
) -> Result<CertificateDetail, AwsError> {
    let out = ctx
        .call(
            ID,
            "acm",
            "DescribeCertificate",
            region,
            arn,
            acm.describe_certificate().certificate_arn(arn).send(),
        )
        .await?;
    out.certificate().cloned().ok_or_else(|| AwsError {
        service: "acm".into(),
        operation: "DescribeCertificate".into(),
        code: None,
        message: format!("{arn} has no details"),
        kind: crate::aws::AwsErrorKind::NotFound,
    })
}

/// Status and validation CNAMEs. ACM fills the records in a few seconds after a request, so an
/// empty list is polled briefly.
pub(super) async fn describe_with_records(
    ctx: &Ctx,
    acm: &aws_sdk_acm::Client,
    w: &Want,
    arn: &str,
) -> Result<(CertificateStatus, Vec<(String, String)>), StepError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        let cert = describe(ctx, acm, &w.region, arn).await.map_err(|e| {
            if e.is_not_found() {
                StepError::invalid(
                    format!("certificate {arn} does not exist in {}", w.region),
                    "check the ARN and its region",
                )
            } else {
                e.into()
            }
        })?;
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
pub(super) async fn wait_issued(
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
        let status = describe(ctx, acm, &w.region, arn)
            .await?
            .status()
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
