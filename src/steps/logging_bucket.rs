//! The optional bucket for load balancer (and ClamScan) access logs: private, encrypted with
//! SSE-S3 (the only encryption ELB log delivery supports), TLS-only, and with the policy that
//! lets Elastic Load Balancing in the stack's region write to it.

use async_trait::async_trait;
use aws_sdk_s3::types::{Tag, Tagging};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::certificates::ENV_TAG;
use crate::config::US_EAST_1;
use crate::engine::{Ctx, Outcome, PlannedCall, Step, StepError, StepId};

const ID: StepId = StepId::LoggingBucket;

pub struct LoggingBucket;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub bucket: String,
    pub created: bool,
}

/// Elastic Load Balancing's log-delivery account in regions opened before August 2022. Newer
/// regions deliver as the service principal `logdelivery.elasticloadbalancing.amazonaws.com`.
pub fn elb_account(region: &str) -> Option<&'static str> {
    Some(match region {
        US_EAST_1 => "127311923021",
        "us-east-2" => "033677994240",
        "us-west-1" => "027434742980",
        "us-west-2" => "797873946194",
        "af-south-1" => "098369216593",
        "ap-east-1" => "754344448648",
        "ap-southeast-3" => "589379963580",
        "ap-south-1" => "718504428378",
        "ap-northeast-3" => "383597477331",
        "ap-northeast-2" => "600734575887",
        "ap-southeast-1" => "114774131450",
        "ap-southeast-2" => "783225319266",
        "ap-northeast-1" => "582318560864",
        "ca-central-1" => "985666609251",
        "eu-central-1" => "054676820928",
        "eu-west-1" => "156460612806",
        "eu-west-2" => "652711504416",
        "eu-south-1" => "635631232127",
        "eu-west-3" => "009996457667",
        "eu-north-1" => "897822967062",
        "me-south-1" => "076674570225",
        "sa-east-1" => "507241528517",
        "us-gov-west-1" => "048591011584",
        "us-gov-east-1" => "190560391635",
        _ => return None,
    })
}

/// The bucket policy: ELB may put objects under `<prefix>/AWSLogs/<account>/`; nothing may use
/// plain HTTP.
pub fn policy(bucket: &str, region: &str, account: &str, prefix: Option<&str>) -> Value {
    let prefix = prefix
        .map(|p| format!("{}/", p.trim_matches('/')))
        .filter(|p| p != "/")
        .unwrap_or_default();
    let principal = match elb_account(region) {
        Some(a) => json!({ "AWS": format!("arn:aws:iam::{a}:root") }),
        None => json!({ "Service": "logdelivery.elasticloadbalancing.amazonaws.com" }),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ElbLogDelivery",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{bucket}/{prefix}AWSLogs/{account}/*")
            },
            crate::aws::s3::deny_insecure_transport(bucket)
        ]
    })
}

#[async_trait]
impl Step for LoggingBucket {
    fn id(&self) -> StepId {
        ID
    }

    fn plan(&self, ctx: &Ctx) -> Vec<PlannedCall> {
        let (true, Some(bucket)) = (
            ctx.answers.create_logging_bucket,
            ctx.answers.logging_bucket(),
        ) else {
            return Vec::new();
        };
        let r = ctx.region();
        vec![
            PlannedCall::read("s3", "HeadBucket", r, bucket),
            PlannedCall::write("s3", "CreateBucket", r, bucket).when("when it does not exist"),
            PlannedCall::write("s3", "PutPublicAccessBlock", r, bucket)
                .when("when it was just created"),
            PlannedCall::write("s3", "PutBucketEncryption", r, format!("{bucket} (SSE-S3)"))
                .when("when it was just created"),
            PlannedCall::read("s3", "GetBucketPolicy", r, bucket),
            PlannedCall::write(
                "s3",
                "PutBucketPolicy",
                r,
                format!("{bucket} (ELB log delivery, TLS only)"),
            )
            .when("when the policy differs"),
        ]
    }

    async fn apply(&self, ctx: &Ctx) -> Result<Outcome, StepError> {
        let (true, Some(bucket)) = (
            ctx.answers.create_logging_bucket,
            ctx.answers.logging_bucket(),
        ) else {
            return Ok(Outcome::Skipped);
        };
        let region = ctx.region().to_string();
        let account = ctx
            .outputs
            .get()
            .account
            .or_else(|| ctx.answers.account().map(str::to_string))
            .unwrap_or_default();
        let s3 = ctx.aws()?.s3(&region);
        let mut changed = false;

        let exists = match ctx
            .call(
                ID,
                "s3",
                "HeadBucket",
                &region,
                bucket,
                s3.head_bucket()
                    .bucket(bucket)
                    .expected_bucket_owner(&account)
                    .send(),
            )
            .await
        {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) if e.code.as_deref() == Some("Forbidden") || e.message.contains("403") => {
                return Err(StepError::invalid(
                    format!("bucket {bucket} exists but belongs to another account"),
                    "choose another loadBalancerLoggingBucket name",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if !exists {
            let req = s3
                .create_bucket()
                .bucket(bucket)
                .set_create_bucket_configuration(crate::aws::s3::bucket_location(&region));
            match ctx
                .call(ID, "s3", "CreateBucket", &region, bucket, req.send())
                .await
            {
                Ok(_) => {}
                Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) => return Err(e.into()),
            }
            changed = true;
            ctx.journal.update::<Record, _>(ID, |r| {
                r.bucket = bucket.to_string();
                r.created = true;
            })?;
            let block = crate::aws::s3::block_all_public_access();
            ctx.call(
                ID,
                "s3",
                "PutPublicAccessBlock",
                &region,
                bucket,
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(block)
                    .send(),
            )
            .await?;
            let sse = crate::aws::s3::sse_s3();
            ctx.call(
                ID,
                "s3",
                "PutBucketEncryption",
                &region,
                bucket,
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(sse)
                    .send(),
            )
            .await?;
            let tagging = Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key(ENV_TAG)
                        .value(ctx.env())
                        .build()
                        .expect("key and value set"),
                )
                .build()
                .expect("tags set");
            ctx.call(
                ID,
                "s3",
                "PutBucketTagging",
                &region,
                bucket,
                s3.put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging)
                    .send(),
            )
            .await?;
        }

        let want = policy(
            bucket,
            &region,
            &account,
            ctx.answers.str("loadBalancerLoggingPrefix"),
        );
        let current = match ctx
            .call(
                ID,
                "s3",
                "GetBucketPolicy",
                &region,
                bucket,
                s3.get_bucket_policy().bucket(bucket).send(),
            )
            .await
        {
            Ok(p) => p
                .policy()
                .and_then(|t| serde_json::from_str::<Value>(t).ok()),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        if current.as_ref() != Some(&want) {
            if current.is_some() && exists {
                ctx.events.warn(
                    ID,
                    format!(
                        "replacing the bucket policy of {bucket} with the ELB log-delivery policy"
                    ),
                    None,
                );
            }
            ctx.call(
                ID,
                "s3",
                "PutBucketPolicy",
                &region,
                bucket,
                s3.put_bucket_policy()
                    .bucket(bucket)
                    .policy(want.to_string())
                    .send(),
            )
            .await?;
            changed = true;
        }
        if exists && !changed {
            ctx.journal
                .update::<Record, _>(ID, |r| r.bucket = bucket.to_string())?;
        }
        Ok(if changed {
            Outcome::Done
        } else {
            Outcome::Unchanged
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_regions_use_the_elb_account_new_ones_the_service() {
        let p = policy("logs", "us-east-1", "123456789012", Some("elb"));
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::127311923021:root"
        );
        assert_eq!(
            p["Statement"][0]["Resource"],
            "arn:aws:s3:::logs/elb/AWSLogs/123456789012/*"
        );
        let p = policy("logs", "eu-central-2", "123456789012", None);
        assert_eq!(
            p["Statement"][0]["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
        assert_eq!(
            p["Statement"][0]["Resource"],
            "arn:aws:s3:::logs/AWSLogs/123456789012/*"
        );
    }
}
