//! Binary storage (`Storage`): the storage bucket (retained on delete), the CloudFront key group
//! that verifies the server's signed URLs (importing `signingKeyId`, or registering
//! `storagePublicKey`), the storage distribution with its CORS and security headers and
//! CLOUDFRONT web ACL, the `storageDomainName` alias record, and optional GuardDuty malware
//! scanning of the bucket.

use serde_json::{Value, json};

use super::cloudfront::{self as cf, Placement};
use super::guardduty;
use super::ids::node_addr;
use super::settings::{Settings, SigningKey};
use super::template::{Resource, Template, att, r#ref};
use super::waf;

pub const OAI_PARAMETER: &str = "StorageOriginAccessIdentity";

pub fn build(t: &mut Template, s: &Settings, placement: Placement, stack_region: &str) {
    let bucket = t.id(&["Storage", "StorageBucket", "Resource"]);
    let oai = t.id(&["Storage", "OriginAccessIdentity", "Resource"]);
    if placement.has_buckets() {
        t.add(
            &["Storage", "StorageBucket", "Resource"],
            Resource::new("AWS::S3::Bucket", cf::bucket(&s.storage_bucket)).policy("Retain"),
        );
        let [list_grant, read_grant] = cf::oai_grants(&bucket, &oai);
        let mut statements = vec![cf::deny_insecure_transport(&bucket)];
        if s.guardduty.is_some() {
            statements.push(guardduty::tag_gate(t, &bucket));
            statements.push(list_grant);
            statements.push(guardduty::read_gate(&bucket, &oai));
        } else {
            statements.push(list_grant);
        }
        statements.push(read_grant);
        t.add(
            &["Storage", "StorageBucket", "Policy", "Resource"],
            cf::bucket_policy(&bucket, statements),
        );
        if let Some(on_demand_only) = s.guardduty {
            guardduty::build(t, &bucket, on_demand_only);
        }
    }
    if placement == Placement::Primary {
        t.add(&["Storage", "OriginAccessIdentity", "Resource"], cf::oai());
        cf::export_oai(t, OAI_PARAMETER, &oai, "storage");
        return;
    }
    let key: Value = match &s.signing_key {
        SigningKey::Imported(id) => json!(id),
        SigningKey::Created(pem) => {
            let mut addr_path = vec![t.stack()];
            addr_path.extend(["Storage", "StoragePublicKey"]);
            let caller_reference = node_addr(&addr_path);
            let id = t.add(
                &["Storage", "StoragePublicKey", "Resource"],
                Resource::new(
                    "AWS::CloudFront::PublicKey",
                    json!({
                        "PublicKeyConfig": {
                            "CallerReference": caller_reference,
                            "EncodedKey": pem,
                            "Name": t.unique_name(&["Storage", "StoragePublicKey"])
                        }
                    }),
                ),
            );
            r#ref(&id)
        }
    };
    // During a rotation the group trusts the retiring key too, the new one first.
    let mut items = vec![key];
    items.extend(s.retiring_key.iter().map(|id| json!(id)));
    let key_group = t.add(
        &["Storage", "StorageKeyGroup", "Resource"],
        Resource::new(
            "AWS::CloudFront::KeyGroup",
            json!({
                "KeyGroupConfig": {
                    "Items": items,
                    "Name": t.unique_name(&["Storage", "StorageKeyGroup"])
                }
            }),
        ),
    );
    let headers = t.add(
        &["Storage", "ResponseHeadersPolicy", "Resource"],
        Resource::new(
            "AWS::CloudFront::ResponseHeadersPolicy",
            json!({
                "ResponseHeadersPolicyConfig": {
                    "CorsConfig": {
                        "AccessControlAllowCredentials": false,
                        "AccessControlAllowHeaders": {"Items": ["*"]},
                        "AccessControlAllowMethods": {"Items": ["GET", "HEAD", "OPTIONS"]},
                        "AccessControlAllowOrigins": {"Items": [s.app_domain, "https://ccda.medplum.com"]},
                        "AccessControlMaxAgeSec": 600,
                        "OriginOverride": false
                    },
                    "CustomHeadersConfig": cf::permissions_policy(""),
                    "Name": t.unique_name(&["Storage", "ResponseHeadersPolicy"]),
                    "SecurityHeadersConfig": cf::security_headers(
                        "default-src 'none'; connect-src https://ccda.medplum.com; base-uri 'none'; form-action 'none'; frame-ancestors *;",
                        "no-referrer",
                    )
                }
            }),
        ),
    );
    let acl = t.add(
        &["Storage", "StorageWAF"],
        Resource::new(
            "AWS::WAFv2::WebACL",
            waf::web_acl(
                &format!("{}-StorageWAF", s.stack_name),
                "CLOUDFRONT",
                s.storage_ip_set.as_deref(),
            ),
        ),
    );
    if placement == Placement::Single {
        t.add(&["Storage", "OriginAccessIdentity", "Resource"], cf::oai());
    }
    let oai_ref = cf::oai_reference(t, placement, &oai, OAI_PARAMETER);
    let origin = t.unique_name(&["Storage", "StorageDistribution", "Origin1"]);
    let mut config = json!({
        "Aliases": [s.storage_domain],
        "DefaultCacheBehavior": {
            "CachePolicyId": cf::CACHING_OPTIMIZED,
            "Compress": true,
            "ResponseHeadersPolicyId": r#ref(&headers),
            "TargetOriginId": origin,
            "TrustedKeyGroups": [r#ref(&key_group)],
            "ViewerProtocolPolicy": "redirect-to-https"
        },
        "Enabled": true,
        "HttpVersion": "http2",
        "IPV6Enabled": true
    });
    if let Some(l) = &s.storage_logging {
        config["Logging"] = cf::logging(&l.bucket, l.prefix.as_deref(), stack_region);
    }
    config["Origins"] = json!([{
        "DomainName": cf::bucket_domain(placement, &bucket, &s.storage_bucket, &s.region),
        "Id": origin,
        "S3OriginConfig": {"OriginAccessIdentity": oai_ref}
    }]);
    config["ViewerCertificate"] = cf::viewer_certificate(&s.storage_cert);
    config["WebACLId"] = att(&acl, "Arn");
    cf::distribution_with_alias(
        t,
        &["Storage", "StorageDistribution", "Resource"],
        config,
        s.zone.as_ref(),
        &s.storage_domain,
        &["Storage", "StorageAliasRecord", "Resource"],
    );
}
