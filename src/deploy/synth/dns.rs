//! Route53 alias records (`LoadBalancerAliasRecord`, `AppAliasRecord`, `StorageAliasRecord`) in
//! the hosted zone found by the lookups, and the CloudFront zone-id mapping the CDK emits with
//! them.

use serde_json::{Value, json};

use super::settings::Zone;
use super::template::{Resource, Template, r#ref};

/// The mapping the CDK adds for CloudFront alias targets; the partition picks the zone.
pub const CLOUDFRONT_ZONE_MAP: &str = "AWSCloudFrontPartitionHostedZoneIdMap";

/// An `A` alias record for `name` pointing at `target`.
pub fn alias(
    t: &mut Template,
    path: &[&str],
    zone: &Zone,
    name: &str,
    dns_name: Value,
    target_zone: Value,
) -> String {
    t.add(
        path,
        Resource::new(
            "AWS::Route53::RecordSet",
            json!({
                "AliasTarget": {"DNSName": dns_name, "HostedZoneId": target_zone},
                "HostedZoneId": zone.id,
                "Name": format!("{name}."),
                "Type": "A"
            }),
        ),
    )
}

/// The alias target zone of every CloudFront distribution, via the mapping.
pub fn cloudfront_zone(t: &mut Template) -> Value {
    t.mappings.insert(
        CLOUDFRONT_ZONE_MAP.into(),
        json!({"aws": {"zoneId": "Z2FDTNDATAQYW2"}, "aws-cn": {"zoneId": "Z3RFFRIM2A3IF5"}}),
    );
    json!({"Fn::FindInMap": [CLOUDFRONT_ZONE_MAP, r#ref("AWS::Partition"), "zoneId"]})
}
