//! Where a template goes before CloudFormation reads it. Up to 51,200 bytes it travels inline
//! (`TemplateBody`); above that CloudFormation only takes a `TemplateURL`, so the template is
//! uploaded to a private staging bucket of the account, `medplum-init-<account>-<region>`,
//! under a content-hash key (a re-deploy of the same template uploads nothing).
//!
//! The bucket name is predictable, so every call names the expected owner: if someone else's
//! account holds that name, S3 answers 403 and nothing is uploaded to it. The bucket blocks
//! public access, encrypts at rest (SSE-S3), refuses plain HTTP, and expires old templates.

use crate::error::Diagnostic;
use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ServerSideEncryption,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::StackTemplate;
use super::error::DeployError;
use crate::aws::{AwsClients, AwsError};

/// CloudFormation's limit for an inline template.
pub const MAX_BODY_BYTES: usize = 51_200;
/// CloudFormation's limit for a template read from S3.
pub const MAX_URL_BYTES: usize = 1_048_576;
/// Staged templates are kept this long (a rollback or a drift check may read them again).
pub const EXPIRE_DAYS: i32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Body(String),
    Url {
        url: String,
        bucket: String,
        key: String,
    },
}

/// Uploads templates too large to send inline.
#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Makes `body` readable by CloudFormation in `region` and returns its URL.
    async fn stage(
        &self,
        stack: &str,
        region: &str,
        body: &str,
    ) -> Result<TemplateSource, DeployError>;
}

/// The template as CloudFormation receives it: compact JSON (about a third smaller than
/// pretty-printed, which keeps mid-sized stacks inline).
pub fn body_of(t: &StackTemplate) -> String {
    serde_json::to_string(&t.template).expect("JSON values serialise")
}

/// Inline when it fits, staged otherwise.
pub async fn source_for(
    store: &dyn TemplateStore,
    t: &StackTemplate,
) -> Result<TemplateSource, DeployError> {
    let body = body_of(t);
    if body.len() <= MAX_BODY_BYTES {
        Ok(TemplateSource::Body(body))
    } else if body.len() > MAX_URL_BYTES {
        Err(DeployError::TemplateTooLarge {
            stack: t.name.clone(),
            size: body.len(),
        })
    } else {
        store.stage(&t.name, &t.region, &body).await
    }
}

pub fn bucket_name(account: &str, region: &str) -> String {
    format!("medplum-init-{account}-{region}")
}

/// `templates/<stack>/<sha256>.json`: the same template always lands on the same key.
pub fn template_key(stack: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("templates/{stack}/{hex}.json")
}

/// The virtual-hosted URL CloudFormation reads the template from.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

/// Denies every request that does not use TLS.
pub fn bucket_policy(bucket: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [crate::aws::s3::deny_insecure_transport(bucket)]
    })
}

/// Whether the bucket can require TLS: not when S3 is reached over plain HTTP (an emulator or
/// a local proxy through `--endpoint-url http://…`), or our own uploads would be refused.
pub fn tls_reachable(endpoint_url: Option<&str>) -> bool {
    !endpoint_url.is_some_and(|u| u.to_ascii_lowercase().starts_with("http://"))
}

/// An S3 error with the HTTP status when S3 sent no error code (HEAD requests, bare 403s).
fn s3_error<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut err = AwsError::from_sdk("s3", op, e);
    if err.code.is_none()
        && let Some(status) = e.raw_response().map(|r| r.status().as_u16())
    {
        err.message = format!(
            "HTTP {status}{}",
            if status == 403 {
                " (access denied)"
            } else {
                ""
            }
        );
        if status == 403 {
            err.code = Some("Forbidden".into());
        }
    }
    err
}

/// The staging bucket in S3.
pub struct S3TemplateStore {
    aws: AwsClients,
    account: OnceCell<String>,
    /// Regions whose bucket was checked and configured during this run.
    ready: Mutex<HashSet<String>>,
}

impl S3TemplateStore {
    pub fn new(aws: AwsClients) -> Self {
        Self {
            aws,
            account: OnceCell::new(),
            ready: Mutex::new(HashSet::new()),
        }
    }

    /// With the account already known (saves the STS call).
    pub fn with_account(aws: AwsClients, account: &str) -> Self {
        let s = Self::new(aws);
        let _ = s.account.set(account.to_string());
        s
    }

    async fn account(&self) -> Result<&str, DeployError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .aws
                    .sts()
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        DeployError::aws(
                            "staging",
                            AwsError::from_sdk("sts", "GetCallerIdentity", &e),
                        )
                    })?;
                Ok(out.account().unwrap_or_default().to_string())
            })
            .await
            .map(String::as_str)
    }

    fn staging_error(bucket: &str, e: AwsError) -> DeployError {
        DeployError::Staging {
            bucket: bucket.to_string(),
            hint: e.hint(),
            message: e.to_string(),
        }
    }

    async fn ensure_bucket(
        &self,
        bucket: &str,
        region: &str,
        account: &str,
    ) -> Result<(), DeployError> {
        if self.ready.lock().expect("staging lock").contains(region) {
            return Ok(());
        }
        let s3 = self.aws.s3(region);
        let head = s3
            .head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .send()
            .await;
        let exists = match head {
            Ok(_) => true,
            Err(e) => {
                let e = s3_error("HeadBucket", &e);
                if e.is_not_found() || e.code.as_deref() == Some("NotFound") {
                    false
                } else if e.code.as_deref() == Some("Forbidden") || e.message.contains("403") {
                    return Err(DeployError::Staging {
                        bucket: bucket.into(),
                        message: "the bucket exists and does not belong to this account".into(),
                        hint: Some(
                            "someone else holds this name; nothing was uploaded. Keep templates under 51,200 bytes or report this".into(),
                        ),
                    });
                } else {
                    return Err(Self::staging_error(bucket, e));
                }
            }
        };
        if !exists {
            let req = s3
                .create_bucket()
                .bucket(bucket)
                .set_create_bucket_configuration(crate::aws::s3::bucket_location(region));
            if let Err(e) = req.send().await {
                let e = s3_error("CreateBucket", &e);
                if e.code.as_deref() != Some("BucketAlreadyOwnedByYou") {
                    return Err(Self::staging_error(bucket, e));
                }
            }
        }
        // Applied on every first use in a run, not just at creation: a run that died between
        // CreateBucket and these calls leaves a bucket the next run completes.
        let block = crate::aws::s3::block_all_public_access();
        s3.put_public_access_block()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(|e| Self::staging_error(bucket, s3_error("PutPublicAccessBlock", &e)))?;
        let sse = crate::aws::s3::sse_s3();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .server_side_encryption_configuration(sse)
            .send()
            .await
            .map_err(|e| Self::staging_error(bucket, s3_error("PutBucketEncryption", &e)))?;
        if tls_reachable(self.aws.endpoint_url()) {
            s3.put_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(account)
                .policy(bucket_policy(bucket).to_string())
                .send()
                .await
                .map_err(|e| Self::staging_error(bucket, s3_error("PutBucketPolicy", &e)))?;
        }
        let rule = LifecycleRule::builder()
            .id("expire-staged-templates")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("templates/").build())
            .expiration(LifecycleExpiration::builder().days(EXPIRE_DAYS).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()
            .expect("status set");
        s3.put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(rule)
                    .build()
                    .expect("rules set"),
            )
            .send()
            .await
            .map_err(|e| {
                Self::staging_error(bucket, s3_error("PutBucketLifecycleConfiguration", &e))
            })?;
        self.ready
            .lock()
            .expect("staging lock")
            .insert(region.to_string());
        Ok(())
    }
}

#[async_trait]
impl TemplateStore for S3TemplateStore {
    async fn stage(
        &self,
        stack: &str,
        region: &str,
        body: &str,
    ) -> Result<TemplateSource, DeployError> {
        let account = self.account().await?.to_string();
        let bucket = bucket_name(&account, region);
        self.ensure_bucket(&bucket, region, &account).await?;
        let key = template_key(stack, body);
        let s3 = self.aws.s3(region);
        let present = s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .expected_bucket_owner(&account)
            .send()
            .await
            .is_ok();
        if !present {
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .expected_bucket_owner(&account)
                .content_type("application/json")
                .server_side_encryption(ServerSideEncryption::Aes256)
                .body(ByteStream::from(body.as_bytes().to_vec()))
                .send()
                .await
                .map_err(|e| Self::staging_error(&bucket, s3_error("PutObject", &e)))?;
        }
        Ok(TemplateSource::Url {
            url: template_url(&bucket, region, &key),
            bucket,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoStore;
    #[async_trait]
    impl TemplateStore for NoStore {
        async fn stage(&self, _: &str, _: &str, _: &str) -> Result<TemplateSource, DeployError> {
            Ok(TemplateSource::Url {
                url: "staged".into(),
                bucket: "b".into(),
                key: "k".into(),
            })
        }
    }

    fn template(bytes: usize) -> StackTemplate {
        StackTemplate {
            name: "S".into(),
            region: "us-east-1".into(),
            template: json!({ "Description": "x".repeat(bytes) }),
            tags: vec![],
            inputs: Vec::new(),
        }
    }

    #[tokio::test]
    async fn small_templates_go_inline_large_ones_are_staged() {
        // `{"Description":"…"}` adds 18 bytes around the text.
        let inline = source_for(&NoStore, &template(MAX_BODY_BYTES - 18))
            .await
            .unwrap();
        assert!(matches!(inline, TemplateSource::Body(b) if b.len() == MAX_BODY_BYTES));
        let staged = source_for(&NoStore, &template(MAX_BODY_BYTES - 17))
            .await
            .unwrap();
        assert!(matches!(staged, TemplateSource::Url { .. }));
        assert!(matches!(
            source_for(&NoStore, &template(MAX_URL_BYTES)).await,
            Err(DeployError::TemplateTooLarge { .. })
        ));
    }

    #[test]
    fn keys_are_content_addressed_and_urls_virtual_hosted() {
        let a = template_key("S", "{}");
        assert_eq!(a, template_key("S", "{}"));
        assert_ne!(a, template_key("S", "{ }"));
        assert!(a.starts_with("templates/S/") && a.ends_with(".json") && a.len() == 12 + 64 + 5);
        assert_eq!(
            template_url(
                "medplum-init-1-eu-west-1",
                "eu-west-1",
                "templates/S/x.json"
            ),
            "https://medplum-init-1-eu-west-1.s3.eu-west-1.amazonaws.com/templates/S/x.json"
        );
        let p = bucket_policy("b");
        assert_eq!(
            p["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
    }
}
