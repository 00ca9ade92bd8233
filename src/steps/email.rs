//! The SES identity Medplum sends from: the `supportEmail` address, or its whole domain (with
//! DKIM records in Route53 when the zone is there). Existing identities are left alone; the step
//! reports their verification state and whether the account is still in the SES sandbox.

use crate::error::Diagnostic;
use async_trait::async_trait;
use aws_sdk_sesv2::types::Tag;
use serde::{Deserialize, Serialize};

use super::certificates::ENV_TAG;
use super::dns;
use crate::answers::EmailIdentity;
use crate::aws::AwsError;
use crate::config::US_EAST_1;
use crate::engine::event::DnsRecord;
use crate::engine::{Ctx, Event, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::Email;

pub struct Email;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub identity: String,
    pub kind: String,
    pub created: bool,
    pub verified: bool,
}

/// The identity to verify for the answers' choice.
pub fn identity(ctx: &Ctx) -> Option<String> {
    let email = ctx.answers.support_email();
    match ctx.answers.email {
        EmailIdentity::Address => Some(email.to_string()),
        EmailIdentity::Domain => email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()),
        EmailIdentity::Skip => None,
    }
}

#[async_trait]
impl Step for Email {
    fn id(&self) -> StepId {
        ID
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        let Some(identity) = identity(ctx) else {
            return Vec::new();
        };
        let r = ctx.region();
        let mut calls = vec![
            PlannedCall::read("ses", "GetEmailIdentity", r, &identity),
            PlannedCall::write("ses", "CreateEmailIdentity", r, &identity)
                .when("when SES does not know it yet"),
        ];
        if ctx.answers.email == EmailIdentity::Domain && !ctx.answers.skip_dns() {
            calls.push(
                PlannedCall::write(
                    "route53",
                    "ChangeResourceRecordSets",
                    US_EAST_1,
                    format!("DKIM CNAMEs of {identity}"),
                )
                .when("when the zone is in this account"),
            );
        }
        calls.push(PlannedCall::read("ses", "GetAccount", r, "sandbox status"));
        calls
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let Some(identity) = identity(ctx) else {
            return Ok(Outcome::Skipped);
        };
        let ses = ctx.aws()?.sesv2();
        let r = ctx.region().to_string();
        let mut changed = false;

        // A verified domain already covers every address in it.
        if ctx.answers.email == EmailIdentity::Address
            && let Some((_, domain)) = identity.rsplit_once('@')
            && let Ok(d) = ctx
                .call(
                    ID,
                    "ses",
                    "GetEmailIdentity",
                    &r,
                    domain,
                    ses.get_email_identity().email_identity(domain).send(),
                )
                .await
            && d.verified_for_sending_status()
        {
            ctx.events.progress(
                ID,
                format!(
                    "{domain} is a verified SES domain; {identity} needs no identity of its own"
                ),
            );
            record(ctx, &identity, "domain", false, true)?;
            sandbox(ctx, &ses, &r).await?;
            return Ok(Outcome::Unchanged);
        }

        let existing = match get_identity(ctx, &ses, &r, &identity).await {
            Ok(out) => Some(out),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let (verified, tokens) = match existing {
            Some(out) => {
                ctx.events.progress(
                    ID,
                    format!("{identity} is already an SES identity; left as it is"),
                );
                state(out.verified_for_sending_status(), out.dkim_attributes())
            }
            None => {
                let created = ctx
                    .call(
                        ID,
                        "ses",
                        "CreateEmailIdentity",
                        &r,
                        &identity,
                        ses.create_email_identity()
                            .email_identity(&identity)
                            .tags(
                                Tag::builder()
                                    .key(ENV_TAG)
                                    .value(ctx.env())
                                    .build()
                                    .expect("key and value set"),
                            )
                            .send(),
                    )
                    .await;
                changed = true;
                let out = match created {
                    Ok(out) => state(out.verified_for_sending_status(), out.dkim_attributes()),
                    // Absent a moment ago: our own create went through and its answer was lost
                    // (the SDK retried it). Read what it made.
                    Err(e) if e.kind == crate::aws::AwsErrorKind::AlreadyExists => {
                        let out = get_identity(ctx, &ses, &r, &identity).await?;
                        state(out.verified_for_sending_status(), out.dkim_attributes())
                    }
                    Err(e) => return Err(e.into()),
                };
                if ctx.answers.email == EmailIdentity::Address {
                    ctx.events.progress(
                        ID,
                        format!("SES sent a verification link to {identity}; open it to finish"),
                    );
                }
                out
            }
        };
        record(ctx, &identity, ctx.answers.email.label(), changed, verified)?;

        if ctx.answers.email == EmailIdentity::Domain {
            // moto returns no DKIM tokens, so this branch is covered by the unit tests of dkim_records.
            let mut records = dkim_records(&identity, &tokens);
            if !records.is_empty()
                && !ctx.answers.skip_dns()
                && let Some(zone) = dns::zone_for(ctx, ID, &identity).await?
            {
                for rec in &mut records {
                    changed |= dns::ensure_cname(ctx, ID, &zone, &rec.name, &rec.value).await?;
                    rec.written = true;
                }
            }
            if !records.is_empty() {
                ctx.events.emit(Event::DnsRecords { step: ID, records });
            }
        }
        if !verified {
            ctx.events.warn(
                ID,
                format!("{identity} is not verified for sending yet"),
                Some("Medplum cannot send email until SES shows it as verified".into()),
            );
        }
        sandbox(ctx, &ses, &r).await?;
        Ok(if changed {
            Outcome::Done
        } else {
            Outcome::Unchanged
        })
    }
}

fn record(
    ctx: &Ctx,
    identity: &str,
    kind: &str,
    created: bool,
    verified: bool,
) -> Result<(), StepError> {
    ctx.journal.update::<Record, _>(ID, |rec| {
        rec.created |= created;
        rec.identity = identity.into();
        rec.kind = kind.into();
        rec.verified = verified;
    })?;
    Ok(())
}

/// Easy DKIM: three CNAMEs `<token>._domainkey.<domain>` → `<token>.dkim.amazonses.com`.
pub fn dkim_records(domain: &str, tokens: &[String]) -> Vec<DnsRecord> {
    tokens
        .iter()
        .map(|t| DnsRecord {
            name: format!("{t}._domainkey.{domain}"),
            kind: "CNAME".into(),
            value: format!("{t}.dkim.amazonses.com"),
            written: false,
        })
        .collect()
}

/// Reports whether the account is still in the SES sandbox. Informational: a failure to ask
/// (moto does not implement GetAccount; a policy may deny it) is a warning, not a failed step.
async fn sandbox(ctx: &Ctx, ses: &aws_sdk_sesv2::Client, region: &str) -> Result<(), StepError> {
    match ctx
        .call(
            ID,
            "ses",
            "GetAccount",
            region,
            "account",
            ses.get_account().send(),
        )
        .await
    {
        Ok(acct) => {
            if let Some((message, hint)) = sandbox_warning(acct.production_access_enabled(), region)
            {
                ctx.events.warn(ID, message, Some(hint));
            }
        }
        Err(e) => ctx.events.warn(
            ID,
            format!("could not check the SES sandbox status: {}", e.message),
            e.hint(),
        ),
    }
    Ok(())
}

/// The warning for an account still in the sandbox.
pub fn sandbox_warning(production_access: bool, region: &str) -> Option<(String, String)> {
    (!production_access).then(|| {
        (
            format!("SES in {region} is in the sandbox: Medplum can only email verified addresses"),
            "request production access in the SES console (Account dashboard, Request production access)".to_string(),
        )
    })
}

async fn get_identity(
    ctx: &Ctx,
    ses: &aws_sdk_sesv2::Client,
    region: &str,
    identity: &str,
) -> Result<aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput, AwsError> {
    ctx.call(
        ID,
        "ses",
        "GetEmailIdentity",
        region,
        identity,
        ses.get_email_identity().email_identity(identity).send(),
    )
    .await
}

/// Whether SES lets the identity send yet, and its DKIM tokens (a domain's CNAMEs).
fn state(
    verified: bool,
    dkim: Option<&aws_sdk_sesv2::types::DkimAttributes>,
) -> (bool, Vec<String>) {
    (
        verified,
        dkim.map(|d| d.tokens().to_vec()).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_records_follow_easy_dkim() {
        let r = dkim_records("example.com", &["abc".into(), "def".into()]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "abc._domainkey.example.com");
        assert_eq!(r[0].value, "abc.dkim.amazonses.com");
    }

    #[test]
    fn sandbox_is_reported_only_without_production_access() {
        // moto has no GetAccount, so the decision is tested here.
        assert!(sandbox_warning(true, "us-east-1").is_none());
        let (msg, hint) = sandbox_warning(false, "eu-west-1").unwrap();
        assert!(msg.contains("eu-west-1") && msg.contains("sandbox"));
        assert!(hint.contains("production access"));
    }
}
