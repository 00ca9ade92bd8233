//! Pieces the app and storage parts share: the private, versioned, TLS-only buckets and their
//! policies, the origin access identities and their grants, where each piece lives when the stack
//! is split across two regions, and distribution fragments (S3 origin, logging, certificate).
//!
//! Placement: CloudFront's web ACLs must be created in us-east-1, so outside us-east-1 the CDK
//! puts everything CloudFront into a second `<stack>-us-east-1` stack. The buckets stay in the
//! primary stack, where the CDK cannot grant them to identities created in the other stack (the
//! reason for `medplum aws update-bucket-policies`). medplum-init creates the origin access
//! identities in the primary stack instead (CloudFront identities are global and can be created
//! from any region), grants them in the same bucket policy, and passes their IDs to the us-east-1
//! stack as parameters: the primary stack deploys first, the us-east-1 stack second, with no
//! manual step.

use serde_json::{Value, json};

use super::template::{Resource, Template, att, join, r#ref};

/// Which of the three layouts a template is built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// us-east-1: one stack holds everything.
    Single,
    /// The primary stack outside us-east-1: buckets, policies, origin access identities.
    Primary,
    /// The `-us-east-1` stack: web ACLs, policies, distributions, DNS records.
    Global,
}

impl Placement {
    pub fn has_buckets(self) -> bool {
        self != Placement::Global
    }
}

/// A private bucket as `s3.Bucket` builds it for Medplum.
pub fn bucket(name: &str) -> Value {
    json!({
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
        "BucketName": name,
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true
        },
        "VersioningConfiguration": {"Status": "Enabled"}
    })
}

pub fn bucket_arn(bucket: &str) -> Value {
    att(bucket, "Arn")
}

pub fn objects_arn(bucket: &str) -> Value {
    join(vec![att(bucket, "Arn"), json!("/*")])
}

/// `enforceSSL: true`
pub fn deny_insecure_transport(bucket: &str) -> Value {
    json!({
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [bucket_arn(bucket), objects_arn(bucket)]
    })
}

/// The CloudFront origin access identity's canonical user.
pub fn oai_principal(oai: &str) -> Value {
    json!({"CanonicalUser": att(oai, "S3CanonicalUserId")})
}

/// Medplum's `grantBucketAccessToOriginAccessIdentity` and the S3 origin's own read grant.
pub fn oai_grants(bucket: &str, oai: &str) -> [Value; 2] {
    [
        json!({
            "Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
            "Effect": "Allow",
            "Principal": oai_principal(oai),
            "Resource": [bucket_arn(bucket), objects_arn(bucket)]
        }),
        json!({
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Principal": oai_principal(oai),
            "Resource": objects_arn(bucket)
        }),
    ]
}

pub fn bucket_policy(bucket: &str, statements: Vec<Value>) -> Resource {
    Resource::new(
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": r#ref(bucket),
            "PolicyDocument": {"Statement": statements, "Version": "2012-10-17"}
        }),
    )
}

pub fn oai() -> Resource {
    Resource::new(
        "AWS::CloudFront::CloudFrontOriginAccessIdentity",
        json!({"CloudFrontOriginAccessIdentityConfig": {"Comment": "Allows CloudFront to reach the bucket"}}),
    )
}

/// How a distribution names its identity: a resource in the same template, or a parameter filled
/// from the primary stack's output.
pub fn oai_reference(
    t: &mut Template,
    placement: Placement,
    oai_id: &str,
    parameter: &str,
) -> Value {
    let target = if placement == Placement::Global {
        t.parameters.insert(
            parameter.into(),
            json!({
                "Type": "String",
                "AllowedPattern": "^[A-Z0-9]+$",
                "Description": "ID of the CloudFront origin access identity the primary stack creates"
            }),
        );
        parameter.to_string()
    } else {
        oai_id.to_string()
    };
    join(vec![
        json!("origin-access-identity/cloudfront/"),
        r#ref(&target),
    ])
}

/// Exposes an identity created in the primary stack to the us-east-1 stack.
pub fn export_oai(t: &mut Template, output: &str, oai_id: &str, what: &str) {
    t.outputs.insert(
        output.into(),
        json!({
            "Description": format!("ID of the origin access identity of the {what} distribution"),
            "Value": r#ref(oai_id)
        }),
    );
}

/// The S3 origin domain: the bucket's attribute in one stack, its regional name across regions.
pub fn bucket_domain(
    placement: Placement,
    bucket_id: &str,
    bucket_name: &str,
    region: &str,
) -> Value {
    if placement == Placement::Global {
        json!(format!("{bucket_name}.s3.{region}.amazonaws.com"))
    } else {
        att(bucket_id, "RegionalDomainName")
    }
}

/// `logBucket`/`logFilePrefix`: the CDK names the bucket by its regional domain in the stack's
/// region.
pub fn logging(bucket: &str, prefix: Option<&str>, stack_region: &str) -> Value {
    let mut l = json!({"Bucket": format!("{bucket}.s3.{stack_region}.amazonaws.com")});
    if let Some(p) = prefix {
        l["Prefix"] = json!(p);
    }
    l
}

/// The distribution at `path` and, when the hosted zone is known, the alias record at
/// `record_path` that points `domain` at it.
pub fn distribution_with_alias(
    t: &mut Template,
    path: &[&str],
    config: Value,
    zone: Option<&super::settings::Zone>,
    domain: &str,
    record_path: &[&str],
) {
    let distribution = t.add(
        path,
        Resource::new(
            "AWS::CloudFront::Distribution",
            json!({"DistributionConfig": config}),
        ),
    );
    if let Some(zone) = zone {
        let target_zone = super::dns::cloudfront_zone(t);
        super::dns::alias(
            t,
            record_path,
            zone,
            domain,
            att(&distribution, "DomainName"),
            target_zone,
        );
    }
}

pub fn viewer_certificate(arn: &str) -> Value {
    json!({
        "AcmCertificateArn": arn,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only"
    })
}

/// AWS's "Managed-CachingOptimized" cache policy.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// Security headers both response header policies share, with the parts that differ.
pub fn security_headers(csp: &str, referrer: &str) -> Value {
    json!({
        "ContentSecurityPolicy": {"ContentSecurityPolicy": csp, "Override": true},
        "ContentTypeOptions": {"Override": true},
        "FrameOptions": {"FrameOption": "DENY", "Override": true},
        "ReferrerPolicy": {"Override": true, "ReferrerPolicy": referrer},
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": 63072000,
            "IncludeSubdomains": true,
            "Override": true,
            "Preload": true
        },
        "XSSProtection": {"ModeBlock": true, "Override": true, "Protection": true}
    })
}

pub fn permissions_policy(camera: &str) -> Value {
    json!({
        "Items": [{
            "Header": "Permissions-Policy",
            "Override": true,
            "Value": format!("accelerometer=(), camera=({camera}), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()")
        }]
    })
}
