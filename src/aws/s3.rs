//! The settings every bucket medplum-init creates gets: created in the region it names, no public
//! access, SSE-S3 by default, and a policy statement refusing plain HTTP. (SSE-S3 rather than
//! KMS: ELB access-log delivery supports only SSE-S3, and CloudFormation reads templates from
//! SSE-S3 buckets without extra grants.)
//!
//! These build request parts, not requests: each caller still makes the call itself, through its
//! own client and error mapping.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::config::US_EAST_1;

/// CreateBucket's configuration for a bucket in `region`, for `set_create_bucket_configuration`:
/// none in us-east-1 (S3 refuses a LocationConstraint naming it, the region a request without
/// one creates in), the region as LocationConstraint everywhere else.
pub fn bucket_location(region: &str) -> Option<CreateBucketConfiguration> {
    (region != US_EAST_1).then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build()
    })
}

/// The bucket-policy statement that denies every request to `bucket` not made over TLS.
pub fn deny_insecure_transport(bucket: &str) -> serde_json::Value {
    serde_json::json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// All four public-access blocks on.
pub fn block_all_public_access() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

/// Default encryption with S3-managed keys (AES256).
pub fn sse_s3() -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .expect("algorithm set"),
                )
                .build(),
        )
        .build()
        .expect("rules set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_outside_us_east_1_names_its_region() {
        assert_eq!(bucket_location(US_EAST_1), None);
        let c = bucket_location("eu-west-1").unwrap();
        assert_eq!(
            c.location_constraint(),
            Some(&BucketLocationConstraint::EuWest1)
        );
    }
}
