//! The web app (`FrontEnd`): the app bucket (named after `appDomainName`), its CloudFront
//! distribution with SPA error pages, security headers, the CLOUDFRONT web ACL, the cache policy
//! for the optional `/api/*` proxy (`appApiProxy`), and the `appDomainName` alias record.

use serde_json::{Value, json};

use super::cloudfront::{self as cf, Placement};
use super::settings::Settings;
use super::template::{Resource, Template, att, r#ref};
use super::waf;

/// Output of the primary stack and parameter of the us-east-1 stack.
pub const OAI_PARAMETER: &str = "AppOriginAccessIdentity";

pub fn build(t: &mut Template, s: &Settings, placement: Placement, stack_region: &str) {
    let bucket = t.id(&["FrontEnd", "AppBucket", "Resource"]);
    let oai = t.id(&["FrontEnd", "OriginAccessIdentity", "Resource"]);
    if placement.has_buckets() {
        t.add(
            &["FrontEnd", "AppBucket", "Resource"],
            Resource::new("AWS::S3::Bucket", cf::bucket(&s.app_domain)).policy("Delete"),
        );
        let mut statements = vec![cf::deny_insecure_transport(&bucket)];
        statements.extend(cf::oai_grants(&bucket, &oai));
        t.add(
            &["FrontEnd", "AppBucket", "Policy", "Resource"],
            cf::bucket_policy(&bucket, statements),
        );
    }
    if placement == Placement::Primary {
        t.add(&["FrontEnd", "OriginAccessIdentity", "Resource"], cf::oai());
        cf::export_oai(t, OAI_PARAMETER, &oai, "app");
        return;
    }
    let csp = [
        "default-src 'none'".to_string(),
        "base-uri 'self'".into(),
        "child-src 'self'".into(),
        format!("connect-src 'self' {} *.google.com", s.api_domain),
        "font-src 'self' fonts.gstatic.com".into(),
        "form-action 'self' *.gstatic.com *.google.com".into(),
        "frame-ancestors 'none'".into(),
        format!(
            "frame-src 'self' {} *.medplum.com *.gstatic.com *.google.com",
            s.storage_domain
        ),
        format!(
            "img-src 'self' data: {} *.gstatic.com *.google.com *.googleapis.com",
            s.storage_domain
        ),
        "manifest-src 'self'".into(),
        format!("media-src 'self' {}", s.storage_domain),
        "script-src 'self' *.medplum.com *.gstatic.com *.google.com".into(),
        "style-src 'self' 'unsafe-inline' *.medplum.com *.gstatic.com *.google.com".into(),
        "worker-src 'self' blob: *.gstatic.com *.google.com".into(),
        "upgrade-insecure-requests".into(),
    ]
    .join("; ");
    let headers = t.add(
        &["FrontEnd", "ResponseHeadersPolicy", "Resource"],
        Resource::new(
            "AWS::CloudFront::ResponseHeadersPolicy",
            json!({
                "ResponseHeadersPolicyConfig": {
                    "CustomHeadersConfig": cf::permissions_policy("self"),
                    "Name": t.unique_name(&["FrontEnd", "ResponseHeadersPolicy"]),
                    "SecurityHeadersConfig": cf::security_headers(&csp, "strict-origin-when-cross-origin")
                }
            }),
        ),
    );
    let acl = t.add(
        &["FrontEnd", "FrontEndWAF"],
        Resource::new(
            "AWS::WAFv2::WebACL",
            waf::web_acl(
                &format!("{}-FrontEndWAF", s.stack_name),
                "CLOUDFRONT",
                s.app_ip_set.as_deref(),
            ),
        ),
    );
    let cache_policy = t.add(
        &["FrontEnd", "ApiOriginCachePolicy", "Resource"],
        Resource::new(
            "AWS::CloudFront::CachePolicy",
            json!({
                "CachePolicyConfig": {
                    "DefaultTTL": 86400,
                    "MaxTTL": 31536000,
                    "MinTTL": 0,
                    "Name": format!("{}-ApiOriginCachePolicy", s.stack_name),
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "CookiesConfig": {"CookieBehavior": "all"},
                        "EnableAcceptEncodingBrotli": false,
                        "EnableAcceptEncodingGzip": false,
                        "HeadersConfig": {
                            "HeaderBehavior": "whitelist",
                            "Headers": ["Authorization", "Content-Encoding", "Content-Type",
                                        "If-None-Match", "Origin", "Referer", "User-Agent", "X-Medplum"]
                        },
                        "QueryStringsConfig": {"QueryStringBehavior": "all"}
                    }
                }
            }),
        ),
    );
    if placement == Placement::Single {
        t.add(&["FrontEnd", "OriginAccessIdentity", "Resource"], cf::oai());
    }
    let oai_ref = cf::oai_reference(t, placement, &oai, OAI_PARAMETER);
    let s3_origin = t.unique_name(&["FrontEnd", "AppDistribution", "Origin1"]);
    let mut origins = vec![json!({
        "DomainName": cf::bucket_domain(placement, &bucket, &s.app_domain, &s.region),
        "Id": s3_origin,
        "S3OriginConfig": {"OriginAccessIdentity": oai_ref}
    })];
    let mut config = json!({"Aliases": [s.app_domain]});
    if s.app_api_proxy {
        let api_origin = t.unique_name(&["FrontEnd", "AppDistribution", "Origin2"]);
        config["CacheBehaviors"] = json!([{
            "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
            "CachePolicyId": r#ref(&cache_policy),
            "Compress": true,
            "PathPattern": "/api/*",
            "TargetOriginId": api_origin,
            "ViewerProtocolPolicy": "redirect-to-https"
        }]);
        origins.push(json!({
            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]},
            "DomainName": s.api_domain,
            "Id": api_origin
        }));
    }
    config["CustomErrorResponses"] = json!([
        {"ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html"},
        {"ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html"}
    ]);
    config["DefaultCacheBehavior"] = json!({
        "CachePolicyId": cf::CACHING_OPTIMIZED,
        "Compress": true,
        "ResponseHeadersPolicyId": r#ref(&headers),
        "TargetOriginId": s3_origin,
        "ViewerProtocolPolicy": "redirect-to-https"
    });
    config["DefaultRootObject"] = json!("index.html");
    config["Enabled"] = json!(true);
    config["HttpVersion"] = json!("http2");
    config["IPV6Enabled"] = json!(true);
    if let Some(l) = &s.app_logging {
        config["Logging"] = cf::logging(&l.bucket, l.prefix.as_deref(), stack_region);
    }
    config["Origins"] = Value::Array(origins);
    config["ViewerCertificate"] = cf::viewer_certificate(&s.app_cert);
    config["WebACLId"] = att(&acl, "Arn");
    cf::distribution_with_alias(
        t,
        &["FrontEnd", "AppDistribution", "Resource"],
        config,
        s.zone.as_ref(),
        &s.app_domain,
        &["FrontEnd", "AppAliasRecord", "Resource"],
    );
}
