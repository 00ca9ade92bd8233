//! The settings every bucket medplum-init creates gets: no public access, SSE-S3 by default, and a
//! policy statement refusing plain HTTP. (SSE-S3 rather than KMS: ELB access-log delivery
//! supports only SSE-S3, and CloudFormation reads templates from SSE-S3 buckets without extra
//! grants.)

use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

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
