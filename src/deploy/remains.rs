//! What an environment leaves behind once its stacks are gone, and `destroy --purge`'s removal
//! of the part medplum-init itself made.
//!
//! Two sources: the stacks' own kept resources ([`super::destroy::Kept`]: retained buckets,
//! with their object counts and sizes read from S3, a database's final snapshot), and what the
//! install made or found outside any stack, as its journal recorded it (certificates, the
//! CloudFront public key, the SES identity, the parameters under `/medplum/<env>/`, the logging
//! bucket, the bot layer) plus the account's staging bucket. An item is purgeable only when the
//! journal says medplum-init created it (a certificate it requested, not one it reused; the
//! public key whose CallerReference it recorded; the SES identity it created) and, at removal,
//! AWS agrees (the `medplum:environment` tag, the CallerReference). Everything else is only
//! listed. Nothing in here draws, prints or prompts.

use serde::Serialize;

use super::destroy::{Kept, StackPlan};
use super::templates::ENV_TAG;
use crate::aws::{AwsClients, AwsError};
use crate::engine::{Journal, JournalError, StepId};

/// One thing that stays (or, with `--purge`, goes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remaining {
    /// `bucket`, `database snapshot`, `resource`, `certificate`, `cloudfront public key`,
    /// `ses identity`, `parameters`, `logging bucket`, `bot layer`, `staging bucket`.
    pub kind: String,
    pub id: String,
    pub region: String,
    /// Why it stays, or where it came from.
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// For `parameters`: how many are under the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `--purge` removes it (medplum-init made it).
    pub purge: bool,
    #[serde(skip)]
    removal: Option<Removal>,
}

impl Remaining {
    fn new(kind: &str, id: &str, region: &str, note: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            region: region.into(),
            note: note.into(),
            objects: None,
            bytes: None,
            count: None,
            purge: false,
            removal: None,
        }
    }

    fn purgeable(mut self, removal: Removal) -> Self {
        self.purge = true;
        self.removal = Some(removal);
        self
    }
}

/// How `--purge` removes an item, with what it checks first.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Removal {
    /// The parameters the journal says medplum-init wrote (never others under the path).
    Parameters(Vec<String>),
    /// A certificate medplum-init requested; its `medplum:environment` tag must name the env.
    Certificate,
    /// The public key registered with this CallerReference.
    PublicKey { caller_reference: String },
    /// The identity medplum-init created; its tag must name the env.
    EmailIdentity,
}

/// An S3 bucket's object count and total size (ListObjectsV2, every page); `None` when there
/// is no such bucket.
pub async fn bucket_usage(
    aws: &AwsClients,
    region: &str,
    bucket: &str,
) -> Result<Option<(u64, u64)>, AwsError> {
    let s3 = aws.s3(region);
    let (mut objects, mut bytes) = (0u64, 0u64);
    let mut token: Option<String> = None;
    loop {
        let page = match s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let err = AwsError::from_sdk("s3", "ListObjectsV2", &e);
                if err.is_not_found() || err.code.as_deref() == Some("NoSuchBucket") {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        for o in page.contents() {
            objects += 1;
            bytes += o.size().unwrap_or(0).max(0) as u64;
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(Some((objects, bytes))),
        }
    }
}

/// What the stacks keep, as it stands now: a retained bucket that still exists with its usage,
/// other retained resources, and the final snapshot of each `Snapshot` resource.
pub async fn kept_by_stacks(
    aws: &AwsClients,
    plans: &[StackPlan],
) -> Result<Vec<Remaining>, AwsError> {
    let mut out = Vec::new();
    for p in plans {
        let region = &p.stack.region;
        for (r, kept) in &p.kept {
            let id = r
                .physical_id
                .clone()
                .unwrap_or_else(|| r.logical_id.clone());
            let from = format!("{} of {}", r.logical_id, p.stack.name);
            match kept {
                Kept::Retain if r.resource_type == "AWS::S3::Bucket" => {
                    if let Some((objects, bytes)) = bucket_usage(aws, region, &id).await? {
                        let mut item = Remaining::new(
                            "bucket",
                            &id,
                            region,
                            format!("{from}, DeletionPolicy: Retain"),
                        );
                        item.objects = Some(objects);
                        item.bytes = Some(bytes);
                        out.push(item);
                    }
                }
                Kept::Retain => out.push(Remaining::new(
                    "resource",
                    &id,
                    region,
                    format!("{} {from}, DeletionPolicy: Retain", r.resource_type),
                )),
                Kept::Snapshot => out.push(Remaining::new(
                    if r.resource_type.starts_with("AWS::RDS::") {
                        "database snapshot"
                    } else {
                        "snapshot"
                    },
                    &id,
                    region,
                    format!(
                        "the final snapshot CloudFormation takes of {} {from} (DeletionPolicy: Snapshot)",
                        r.resource_type
                    ),
                )),
            }
        }
    }
    Ok(out)
}

/// The journal's records that matter here, read without the lock.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub certificates: Vec<crate::steps::certificates::CertRecord>,
    pub key: Option<crate::steps::signing_key::KeyRecord>,
    pub email: Option<crate::steps::email::Record>,
    pub logging_bucket: Option<crate::steps::logging_bucket::Record>,
    pub bot_layer: Option<crate::steps::bot_layer::Record>,
    pub parameters: Vec<String>,
}

impl Recorded {
    pub fn read(journal: &Journal, env: &str) -> Result<Self, JournalError> {
        let certificates = journal
            .data::<crate::steps::certificates::Record>(StepId::Certificates)?
            .map(|r| r.certificates.into_values().collect())
            .unwrap_or_default();
        let key: Option<crate::steps::signing_key::KeyRecord> = journal.data(StepId::SigningKey)?;
        let mut parameters: Vec<String> = journal
            .data::<crate::steps::parameters::Record>(StepId::Parameters)?
            .map(|r| r.written.into_keys().collect())
            .unwrap_or_default();
        // The signing key's two halves are written by its own step, not the parameters step.
        if key.as_ref().is_some_and(|k| k.stored_in_ssm) {
            for k in ["signingKey", "signingKeyPassphrase"] {
                parameters.push(crate::config::server::parameter_name(env, k));
            }
        }
        let path = crate::config::server::parameter_path(env);
        parameters.retain(|p| p.starts_with(&path));
        parameters.sort();
        parameters.dedup();
        Ok(Self {
            certificates,
            key,
            email: journal.data(StepId::Email)?,
            logging_bucket: journal.data(StepId::LoggingBucket)?,
            bot_layer: journal.data(StepId::BotLayer)?,
            parameters,
        })
    }
}

/// What the install recorded outside the stacks, each marked purgeable or not. Pure.
pub fn recorded_items(rec: &Recorded, region: &str) -> Vec<Remaining> {
    let mut out = Vec::new();
    for c in &rec.certificates {
        if c.arn.is_empty() {
            continue;
        }
        let item = Remaining::new(
            "certificate",
            &c.arn,
            &c.region,
            if c.requested {
                format!("{}, requested by medplum-init", c.domain)
            } else {
                format!("{}, reused: not medplum-init's to delete", c.domain)
            },
        );
        out.push(if c.requested {
            item.purgeable(Removal::Certificate)
        } else {
            item
        });
    }
    if let Some(k) = &rec.key
        && let Some(id) = &k.key_id
    {
        let item = Remaining::new(
            "cloudfront public key",
            id,
            crate::config::US_EAST_1,
            k.key_name.clone().unwrap_or_default(),
        );
        out.push(match &k.caller_reference {
            // Only a key registered by medplum-init has a CallerReference in the journal.
            Some(r) => item.purgeable(Removal::PublicKey {
                caller_reference: r.clone(),
            }),
            None => Remaining {
                note: "adopted from Medplum's own init: not medplum-init's to delete".into(),
                ..item
            },
        });
    }
    if let Some(e) = &rec.email
        && !e.identity.is_empty()
    {
        let item = Remaining::new(
            "ses identity",
            &e.identity,
            region,
            if e.created {
                "created by medplum-init"
            } else {
                "existed before: not medplum-init's to delete"
            },
        );
        out.push(if e.created {
            item.purgeable(Removal::EmailIdentity)
        } else {
            item
        });
    }
    if let Some(b) = &rec.logging_bucket
        && !b.bucket.is_empty()
    {
        out.push(Remaining::new(
            "logging bucket",
            &b.bucket,
            region,
            "holds the access logs; kept, delete it yourself once they are no longer needed",
        ));
    }
    if let Some(l) = &rec.bot_layer
        && !l.version_arn.is_empty()
    {
        out.push(Remaining::new(
            "bot layer",
            &l.version_arn,
            region,
            "a Lambda layer version other environments may use; kept",
        ));
    }
    out
}

/// Everything outside the stacks as it stands: the recorded items, the parameters under
/// `/medplum/<env>/` (counted in Parameter Store; only the journal's are purgeable) and the
/// staging buckets of the stacks' regions.
pub async fn outside(
    aws: &AwsClients,
    env: &str,
    region: &str,
    stack_regions: &[String],
    rec: &Recorded,
) -> Result<Vec<Remaining>, AwsError> {
    let mut out = recorded_items(rec, region);
    let path = crate::config::server::parameter_path(env);
    let present = parameters_under(aws, region, &path).await?;
    if !present.is_empty() {
        let ours: Vec<String> = rec
            .parameters
            .iter()
            .filter(|p| present.contains(p))
            .cloned()
            .collect();
        let mut item = Remaining::new(
            "parameters",
            &path,
            region,
            format!(
                "{} written by medplum-init, {} by someone else",
                ours.len(),
                present.len() - ours.len()
            ),
        );
        item.count = Some(present.len() as u64);
        out.push(if ours.is_empty() {
            item
        } else {
            item.purgeable(Removal::Parameters(ours))
        });
    }
    if let Some(account) = account(aws).await {
        let mut regions = stack_regions.to_vec();
        regions.push(region.to_string());
        regions.sort();
        regions.dedup();
        for r in regions {
            let bucket = super::staging::bucket_name(&account, &r);
            if let Some((objects, bytes)) = bucket_usage(aws, &r, &bucket).await? {
                let mut item = Remaining::new(
                    "staging bucket",
                    &bucket,
                    &r,
                    "the account's template staging bucket, shared by every environment; kept",
                );
                item.objects = Some(objects);
                item.bytes = Some(bytes);
                out.push(item);
            }
        }
    }
    Ok(out)
}

async fn account(aws: &AwsClients) -> Option<String> {
    aws.sts()
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|o| o.account().map(str::to_string))
}

/// The names of the parameters under `path` (recursive).
async fn parameters_under(
    aws: &AwsClients,
    region: &str,
    path: &str,
) -> Result<Vec<String>, AwsError> {
    let ssm = aws.ssm_in(region);
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ssm", "GetParametersByPath", &e))?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(names),
        }
    }
}

/// What `--purge` did with one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub kind: String,
    pub id: String,
    pub region: String,
    /// `deleted`, `already gone`, or why it was left (a tag that does not name the env).
    pub result: String,
}

/// Removes the purgeable items. NotFound is success (a re-run); an item AWS does not confirm as
/// this environment's is left and said so. Other errors stop the purge.
pub async fn purge(
    aws: &AwsClients,
    env: &str,
    items: &[Remaining],
) -> Result<Vec<Purged>, AwsError> {
    let mut out = Vec::new();
    for item in items {
        let Some(removal) = &item.removal else {
            continue;
        };
        let result = match removal {
            Removal::Parameters(names) => delete_parameters(aws, &item.region, names).await?,
            Removal::Certificate => delete_certificate(aws, env, item).await?,
            Removal::PublicKey { caller_reference } => {
                delete_public_key(aws, &item.id, caller_reference).await?
            }
            Removal::EmailIdentity => delete_email_identity(aws, env, &item.id).await?,
        };
        out.push(Purged {
            kind: item.kind.clone(),
            id: item.id.clone(),
            region: item.region.clone(),
            result,
        });
    }
    Ok(out)
}

const DELETED: &str = "deleted";
const GONE: &str = "already gone";

/// A NotFound is what a re-run meets: the item is gone, which is what was wanted.
fn gone(err: AwsError) -> Result<String, AwsError> {
    if err.is_not_found() || err.code.as_deref().is_some_and(|c| c.starts_with("NoSuch")) {
        Ok(GONE.into())
    } else {
        Err(err)
    }
}

async fn delete_parameters(
    aws: &AwsClients,
    region: &str,
    names: &[String],
) -> Result<String, AwsError> {
    let ssm = aws.ssm_in(region);
    let mut deleted = 0;
    // DeleteParameters takes at most ten names; names already gone come back as invalid.
    for chunk in names.chunks(10) {
        let out = ssm
            .delete_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ssm", "DeleteParameters", &e))?;
        deleted += out.deleted_parameters().len();
    }
    Ok(format!("{DELETED} {deleted} of {}", names.len()))
}

async fn delete_certificate(
    aws: &AwsClients,
    env: &str,
    item: &Remaining,
) -> Result<String, AwsError> {
    let acm = aws.acm(&item.region);
    let tags = match acm
        .list_tags_for_certificate()
        .certificate_arn(&item.id)
        .send()
        .await
    {
        Ok(t) => t,
        Err(e) => return gone(AwsError::from_sdk("acm", "ListTagsForCertificate", &e)),
    };
    let tagged = tags
        .tags()
        .iter()
        .any(|t| t.key() == ENV_TAG && t.value() == Some(env));
    if !tagged {
        return Ok(format!("left: its {ENV_TAG} tag does not name {env}"));
    }
    match acm
        .delete_certificate()
        .certificate_arn(&item.id)
        .send()
        .await
    {
        Ok(_) => Ok(DELETED.into()),
        Err(e) => gone(AwsError::from_sdk("acm", "DeleteCertificate", &e)),
    }
}

async fn delete_public_key(
    aws: &AwsClients,
    id: &str,
    caller_reference: &str,
) -> Result<String, AwsError> {
    let cf = aws.cloudfront();
    let got = match cf.get_public_key().id(id).send().await {
        Ok(g) => g,
        Err(e) => return gone(AwsError::from_sdk("cloudfront", "GetPublicKey", &e)),
    };
    let theirs = got
        .public_key()
        .and_then(|k| k.public_key_config())
        .map(|c| c.caller_reference());
    if theirs != Some(caller_reference) {
        return Ok("left: its CallerReference is not the one medplum-init recorded".into());
    }
    match cf
        .delete_public_key()
        .id(id)
        .set_if_match(got.e_tag().map(str::to_string))
        .send()
        .await
    {
        Ok(_) => Ok(DELETED.into()),
        Err(e) => gone(AwsError::from_sdk("cloudfront", "DeletePublicKey", &e)),
    }
}

async fn delete_email_identity(
    aws: &AwsClients,
    env: &str,
    identity: &str,
) -> Result<String, AwsError> {
    let ses = aws.sesv2();
    let got = match ses
        .get_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(g) => g,
        Err(e) => return gone(AwsError::from_sdk("ses", "GetEmailIdentity", &e)),
    };
    if !got
        .tags()
        .iter()
        .any(|t| t.key() == ENV_TAG && t.value() == env)
    {
        return Ok(format!("left: its {ENV_TAG} tag does not name {env}"));
    }
    match ses
        .delete_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(_) => Ok(DELETED.into()),
        Err(e) => gone(AwsError::from_sdk("ses", "DeleteEmailIdentity", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::certificates::CertRecord;

    #[test]
    fn only_what_medplum_init_made_is_purgeable() {
        let cert = |domain: &str, requested: bool| CertRecord {
            arn: format!("arn:aws:acm:us-east-1:1:certificate/{domain}"),
            domain: domain.into(),
            region: "us-east-1".into(),
            requested,
            status: "ISSUED".into(),
        };
        let rec = Recorded {
            certificates: vec![
                cert("api.example.com", true),
                cert("app.example.com", false),
            ],
            key: Some(crate::steps::signing_key::KeyRecord {
                key_id: Some("K1".into()),
                caller_reference: Some("medplum-init-prod-abc".into()),
                ..Default::default()
            }),
            email: Some(crate::steps::email::Record {
                identity: "example.com".into(),
                kind: "domain".into(),
                created: false,
                verified: true,
            }),
            logging_bucket: Some(crate::steps::logging_bucket::Record {
                bucket: "logs".into(),
                created: true,
            }),
            bot_layer: None,
            parameters: vec![],
        };
        let items = recorded_items(&rec, "eu-west-1");
        let got: Vec<(&str, &str, bool)> = items
            .iter()
            .map(|i| (i.kind.as_str(), i.id.as_str(), i.purge))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "certificate",
                    "arn:aws:acm:us-east-1:1:certificate/api.example.com",
                    true
                ),
                (
                    "certificate",
                    "arn:aws:acm:us-east-1:1:certificate/app.example.com",
                    false
                ),
                ("cloudfront public key", "K1", true),
                // Existed before the install: listed, never deleted.
                ("ses identity", "example.com", false),
                // Created, but it holds logs: kept, even with --purge.
                ("logging bucket", "logs", false),
            ]
        );
        // A key adopted from Medplum's init has no CallerReference of ours.
        let adopted = Recorded {
            key: Some(crate::steps::signing_key::KeyRecord {
                key_id: Some("K2".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!recorded_items(&adopted, "eu-west-1")[0].purge);
    }
}
