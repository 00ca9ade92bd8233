//! The three web ACLs (`BackEndWAF` REGIONAL on the load balancer, `FrontEndWAF` and `StorageWAF`
//! CLOUDFRONT on the distributions): AWS managed rule groups in count mode, and an IP allow list
//! that turns the default action to Block when the config names an IP set.

use serde_json::{Value, json};

/// Managed rule groups: (rule name, priority, group name, rules excluded (counted), metric name).
const MANAGED: &[(&str, u32, &str, &[&str], &str)] = &[
    (
        "AWS-AWSManagedRulesCommonRuleSet",
        10,
        "AWSManagedRulesCommonRuleSet",
        &[
            "NoUserAgent_HEADER",
            "UserAgent_BadBots_HEADER",
            "SizeRestrictions_QUERYSTRING",
            "SizeRestrictions_Cookie_HEADER",
            "SizeRestrictions_BODY",
            "SizeRestrictions_URIPATH",
            "EC2MetaDataSSRF_BODY",
            "EC2MetaDataSSRF_COOKIE",
            "EC2MetaDataSSRF_URIPATH",
            "EC2MetaDataSSRF_QUERYARGUMENTS",
            "GenericLFI_QUERYARGUMENTS",
            "GenericLFI_URIPATH",
            "GenericLFI_BODY",
            "RestrictedExtensions_URIPATH",
            "RestrictedExtensions_QUERYARGUMENTS",
            "GenericRFI_QUERYARGUMENTS",
            "GenericRFI_BODY",
            "GenericRFI_URIPATH",
            "CrossSiteScripting_COOKIE",
            "CrossSiteScripting_QUERYARGUMENTS",
            "CrossSiteScripting_BODY",
            "CrossSiteScripting_URIPATH",
        ],
        "AWS-AWSManagedRulesCommonRuleSet",
    ),
    (
        "AWS-AWSManagedRulesAmazonIpReputationList",
        20,
        "AWSManagedRulesAmazonIpReputationList",
        &["AWSManagedIPReputationList", "AWSManagedReconnaissanceList"],
        "AWSManagedRulesAmazonIpReputationList",
    ),
    (
        "AWSManagedRulesSQLiRuleSet",
        30,
        "AWSManagedRulesSQLiRuleSet",
        &[
            "SQLi_QUERYARGUMENTS",
            "SQLiExtendedPatterns_QUERYARGUMENTS",
            "SQLi_BODY",
            "SQLiExtendedPatterns_BODY",
            "SQLi_COOKIE",
            "SQLi_URIPATH",
        ],
        "AWSManagedRulesSQLiRuleSet",
    ),
    (
        "AWSManagedRuleLinux",
        40,
        "AWSManagedRulesLinuxRuleSet",
        &["LFI_URIPATH", "LFI_QUERYSTRING", "LFI_COOKIE"],
        "AWSManagedRuleLinux",
    ),
];

/// Properties of an `AWS::WAFv2::WebACL` named `name` in `scope` (REGIONAL or CLOUDFRONT).
pub fn web_acl(name: &str, scope: &str, ip_set: Option<&str>) -> Value {
    let mut rules: Vec<Value> = MANAGED
        .iter()
        .map(|(rule, priority, group, excluded, metric)| {
            json!({
                "Name": rule,
                "OverrideAction": {"Count": {}},
                "Priority": priority,
                "Statement": {
                    "ManagedRuleGroupStatement": {
                        "ExcludedRules": excluded.iter().map(|e| json!({"Name": e})).collect::<Vec<_>>(),
                        "Name": group,
                        "VendorName": "AWS"
                    }
                },
                "VisibilityConfig": {
                    "CloudWatchMetricsEnabled": true,
                    "MetricName": metric,
                    "SampledRequestsEnabled": true
                }
            })
        })
        .collect();
    if let Some(arn) = ip_set {
        rules.push(json!({
            "Action": {"Allow": {}},
            "Name": "IPAllowListRule",
            "Priority": 50,
            "Statement": {"IPSetReferenceStatement": {"Arn": arn}},
            "VisibilityConfig": {
                "CloudWatchMetricsEnabled": true,
                "MetricName": "IPAllowListRule",
                "SampledRequestsEnabled": true
            }
        }));
    }
    let default = if ip_set.is_some() {
        json!({"Block": {}})
    } else {
        json!({"Allow": {}})
    };
    json!({
        "DefaultAction": default,
        "Name": name,
        "Rules": rules,
        "Scope": scope,
        "VisibilityConfig": {
            "CloudWatchMetricsEnabled": true,
            "MetricName": format!("{name}-Metric"),
            "SampledRequestsEnabled": false
        }
    })
}
