//! The review before any write: what a run with these answers would do, found by reading AWS and
//! the journal only. The guided install shows it and asks for confirmation; nothing here
//! creates, changes or deletes anything (certificates are looked up, never requested; the
//! signing key is looked for in SSM, never generated; the config file is built, never written).
//!
//! Values a run only learns by writing (a new certificate's ARN, a new key's id) appear as
//! placeholders that say so.

use std::path::PathBuf;

use serde_json::Value;

use super::certificates::{self, CertRecord, full_covers, wanted};
use super::config_file;
use super::parameters::{self, MASK};
use super::signing_key::KeyRecord;
use super::{email, ssm};
use crate::answers::CertChoice;
use crate::config::infra::{ConfigDocument, config_path};
use crate::config::server::{parameter_name, parameter_path};
use crate::crypto::keypair::public_pem_of_encrypted;
use crate::engine::{Ctx, ParameterAction, ParameterChange, StepError, StepId};

/// Shown where a run fills in a certificate ARN after requesting the certificate.
pub const NEW_CERTIFICATE: &str = "(new certificate: ARN known after the request)";
/// Shown where a run fills in the id CloudFront gives a new public key.
pub const NEW_KEY_ID: &str = "(new key: id known after it is registered)";
/// Shown for the public key of a key that does not exist yet.
pub const NEW_PUBLIC_KEY: &str = "(public half of the new key)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertAction {
    /// An issued certificate already covers the name.
    Reuse {
        arn: String,
    },
    /// medplum-init requested one earlier (journal or tag); it is kept.
    Resume {
        arn: String,
        status: String,
    },
    /// A new certificate is requested, DNS validated.
    Request,
    /// The answers name this certificate.
    Given {
        arn: String,
    },
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPlan {
    pub purpose: String,
    pub domain: String,
    pub region: String,
    pub action: CertAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlan {
    /// `signingKeyId` in the answers.
    Given { id: String },
    /// Registered by an earlier run.
    Recorded { id: String },
    /// SSM already holds a private key; its public half is registered if CloudFront lacks it.
    InSsm,
    /// A new RSA-2048 key: private half and passphrase to SSM, public half to CloudFront.
    Generate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailPlan {
    pub identity: String,
    pub exists: bool,
    pub verified: bool,
}

impl EmailPlan {
    /// What the email step does with the identity, as the review and `step` say it.
    pub fn summary(&self) -> String {
        match (self.exists, self.verified) {
            (true, true) => format!("{} is known to SES, verified", self.identity),
            (true, false) => format!("{} is known to SES, not verified yet", self.identity),
            (false, _) => format!(
                "create identity {}; SES sends a verification link",
                self.identity
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPlan {
    pub name: String,
    pub exists: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LineChange {
    Added,
    Changed { old: Value },
    Same,
}

/// One key of the config file as the run would write it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigLine {
    pub key: String,
    pub value: Value,
    pub change: LineChange,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub account: Option<String>,
    pub caller_arn: Option<String>,
    pub certificates: Vec<CertPlan>,
    pub signing_key: KeyPlan,
    pub email: Option<EmailPlan>,
    pub logging_bucket: Option<BucketPlan>,
    /// Every Parameter Store value the run writes or keeps; secrets masked.
    pub parameters: Vec<ParameterChange>,
    pub config_path: PathBuf,
    pub config_exists: bool,
    pub config: Vec<ConfigLine>,
    /// Things the user should know before confirming (an account mismatch, a certificate that
    /// does not cover its name, values the config file will lack).
    pub notes: Vec<String>,
}

impl Preview {
    /// How many parameters would be added, changed, left alone.
    pub fn parameter_counts(&self) -> (usize, usize, usize) {
        let count = |a| self.parameters.iter().filter(|c| c.action == a).count();
        (
            count(ParameterAction::Add),
            count(ParameterAction::Change),
            count(ParameterAction::Unchanged),
        )
    }
}

/// Reads what the run would find. `ctx` must have AWS clients; its journal may be read-only and
/// its outputs should be fresh (they are filled with what the preview learns and placeholders).
pub async fn preview(ctx: &Ctx) -> Result<Preview, StepError> {
    let aws = ctx.aws()?;
    let mut notes = Vec::new();

    let who = ctx
        .call(
            StepId::Identity,
            "sts",
            "GetCallerIdentity",
            ctx.region(),
            "caller",
            aws.sts().get_caller_identity().send(),
        )
        .await?;
    let account = who.account().map(str::to_string);
    if let (Some(wanted), Some(got)) = (ctx.answers.account(), account.as_deref())
        && wanted != got
    {
        notes.push(format!(
            "the credentials belong to account {got}, but accountNumber is {wanted}: the run will stop"
        ));
    }
    ctx.outputs.update(|o| o.account = account.clone());

    let certificates = plan_certificates(ctx, &mut notes).await?;
    for c in &certificates {
        let arn = match &c.action {
            CertAction::Reuse { arn } | CertAction::Given { arn } => arn.clone(),
            CertAction::Resume { arn, .. } => arn.clone(),
            CertAction::Request => NEW_CERTIFICATE.to_string(),
            CertAction::Skip => continue,
        };
        ctx.outputs.update(|o| {
            o.certificates.insert(c.purpose.clone(), arn);
        });
    }

    let current = ssm::get_path(ctx, StepId::Parameters, &parameter_path(ctx.env())).await?;
    let (signing_key, key_id, public_pem) = plan_key(ctx, &current)?;
    ctx.outputs.update(|o| {
        o.signing_key_id = Some(key_id);
        o.public_key_pem = Some(public_pem);
    });

    let email = match email::identity(ctx) {
        None => None,
        Some(identity) => {
            let r = ctx.region();
            let found = ctx
                .call(
                    StepId::Email,
                    "ses",
                    "GetEmailIdentity",
                    r,
                    &identity,
                    aws.sesv2()
                        .get_email_identity()
                        .email_identity(&identity)
                        .send(),
                )
                .await;
            match found {
                Ok(d) => Some(EmailPlan {
                    identity,
                    exists: true,
                    verified: d.verified_for_sending_status(),
                }),
                Err(e) if e.is_not_found() => Some(EmailPlan {
                    identity,
                    exists: false,
                    verified: false,
                }),
                Err(e) => return Err(e.into()),
            }
        }
    };

    let logging_bucket = match (
        ctx.answers.create_logging_bucket,
        ctx.answers.logging_bucket(),
    ) {
        (true, Some(name)) => {
            let r = ctx.region();
            let head = ctx
                .call(
                    StepId::LoggingBucket,
                    "s3",
                    "HeadBucket",
                    r,
                    name,
                    aws.s3(r).head_bucket().bucket(name).send(),
                )
                .await;
            let exists = match head {
                Ok(_) => true,
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e.into()),
            };
            Some(BucketPlan {
                name: name.to_string(),
                exists,
            })
        }
        _ => None,
    };

    let mut params = parameters::diff(ctx.env(), &parameters::desired(ctx), &current);
    if signing_key == KeyPlan::Generate {
        for key in ["signingKey", "signingKeyPassphrase"] {
            let name = parameter_name(ctx.env(), key);
            if !current.contains_key(&name) {
                params.push(ParameterChange {
                    name,
                    action: ParameterAction::Add,
                    secret: true,
                    old: None,
                    new: MASK.into(),
                    kind: "SecureString".into(),
                });
            }
        }
    }

    let path = config_path(&ctx.dir, ctx.env());
    let existing = ConfigDocument::read(&path)?;
    let (doc, build_notes) = config_file::build(ctx, existing.clone());
    notes.extend(build_notes);
    let config = doc
        .ordered()
        .into_iter()
        .map(|(key, value)| {
            let change = match existing.as_ref().and_then(|e| e.map.get(&key)) {
                None => LineChange::Added,
                Some(old) if *old == value => LineChange::Same,
                Some(old) => LineChange::Changed { old: old.clone() },
            };
            ConfigLine { key, value, change }
        })
        .collect();

    Ok(Preview {
        account,
        caller_arn: who.arn().map(str::to_string),
        certificates,
        signing_key,
        email,
        logging_bucket,
        parameters: params,
        config_exists: existing.is_some(),
        config_path: path,
        config,
        notes,
    })
}

async fn plan_certificates(ctx: &Ctx, notes: &mut Vec<String>) -> Result<Vec<CertPlan>, StepError> {
    let record: certificates::Record = ctx.journal.data(StepId::Certificates)?.unwrap_or_default();
    let mut out = Vec::new();
    for w in wanted(ctx) {
        let acm = ctx.aws()?.acm(&w.region);
        let action = match &w.choice {
            CertChoice::Skip => CertAction::Skip,
            CertChoice::Arn(arn) => {
                match full_covers(ctx, &acm, &w, arn).await {
                    Ok(true) => {}
                    Ok(false) => notes.push(format!(
                        "{arn} does not cover {}: the run will stop at the certificates",
                        w.domain
                    )),
                    Err(e) => notes.push(format!("{arn} could not be read: {e}")),
                }
                CertAction::Given { arn: arn.clone() }
            }
            CertChoice::Auto | CertChoice::Request => {
                let recorded: Option<&CertRecord> = record
                    .certificates
                    .get(w.purpose)
                    .filter(|r| r.domain == w.domain && r.region == w.region);
                match certificates::find_existing(ctx, &acm, &w, recorded).await? {
                    Some((arn, true)) => {
                        let status = recorded
                            .filter(|r| r.arn == arn && !r.status.is_empty())
                            .map(|r| r.status.clone())
                            .unwrap_or_else(|| "PENDING_VALIDATION".into());
                        CertAction::Resume { arn, status }
                    }
                    Some((arn, false)) => CertAction::Reuse { arn },
                    None => CertAction::Request,
                }
            }
        };
        out.push(CertPlan {
            purpose: w.purpose.to_string(),
            domain: w.domain.clone(),
            region: w.region.clone(),
            action,
        });
    }
    Ok(out)
}

/// What the signing-key step will do, with the key id and public key the config would get.
fn plan_key(
    ctx: &Ctx,
    current: &std::collections::BTreeMap<String, ssm::Current>,
) -> Result<(KeyPlan, String, String), StepError> {
    let record: KeyRecord = ctx.journal.data(StepId::SigningKey)?.unwrap_or_default();
    if let Some(id) = ctx.answers.str("signingKeyId") {
        let pem = ctx
            .answers
            .str("storagePublicKey")
            .map(str::to_string)
            .or(record.public_key_pem)
            .unwrap_or_else(|| "(the public key CloudFront holds for it)".into());
        return Ok((KeyPlan::Given { id: id.to_string() }, id.to_string(), pem));
    }
    if let (Some(id), Some(pem)) = (record.key_id.clone(), record.public_key_pem.clone()) {
        return Ok((KeyPlan::Recorded { id: id.clone() }, id, pem));
    }
    let key = current.get(&parameter_name(ctx.env(), "signingKey"));
    let pass = current.get(&parameter_name(ctx.env(), "signingKeyPassphrase"));
    if let (Some(k), Some(p)) = (key, pass) {
        let pem = public_pem_of_encrypted(&k.value, &p.value)
            .unwrap_or_else(|_| "(the public half of the key in SSM)".into());
        let id = current
            .get(&parameter_name(ctx.env(), "signingKeyId"))
            .map(|c| c.value.expose().to_string())
            .unwrap_or_else(|| NEW_KEY_ID.into());
        return Ok((KeyPlan::InSsm, id, pem));
    }
    Ok((KeyPlan::Generate, NEW_KEY_ID.into(), NEW_PUBLIC_KEY.into()))
}
