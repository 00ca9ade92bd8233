//! GuardDuty Malware Protection for S3 on the storage bucket (`guardDutyMalwareProtectionEnabled`),
//! modelled on upstream Medplum's construct: a role GuardDuty assumes, a protection plan that tags
//! scanned objects, and bucket-policy statements that let only GuardDuty set the scan-status tag
//! and keep CloudFront from serving objects not tagged clean. It replaces `clamscanEnabled`, which
//! needs Docker-built Lambda images: GuardDuty needs no assets.

use serde_json::{Value, json};

use super::cloudfront::{oai_principal, objects_arn};
use super::template::{Resource, Template, att, join, r#ref};

const SERVICE: &str = "malware-protection-plan.guardduty.amazonaws.com";
const STATUS_TAG: &str = "GuardDutyMalwareScanStatus";
/// Automatic scans cover only the plan's prefixes; one nothing is written to leaves on-demand
/// scans only.
const ON_DEMAND_ONLY_PREFIX: &str = "guardduty-on-demand-only/";

const ROLE_SCOPE: &[&str] = &["Storage", "StorageGuardDutyRole"];
const ROLE: &[&str] = &["Storage", "StorageGuardDutyRole", "Resource"];
const PLAN: &[&str] = &["Storage", "StorageGuardDutyPlan"];

fn event_rule_arn() -> Value {
    join(vec![
        json!("arn:"),
        r#ref("AWS::Partition"),
        json!(":events:"),
        r#ref("AWS::Region"),
        json!(":"),
        r#ref("AWS::AccountId"),
        json!(":rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*"),
    ])
}

fn sid(sid: &str, actions: &[&str], resource: Value) -> Value {
    let mut st = super::template::statement(actions, resource);
    st["Sid"] = json!(sid);
    st
}

/// Only the scanning role may write the scan-status tag, so no one can mark a file clean.
pub fn tag_gate(t: &Template, bucket: &str) -> Value {
    let role = t.id(ROLE);
    json!({
        "Action": ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
        "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": STATUS_TAG}},
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [
            att(&role, "Arn"),
            join(vec![
                json!("arn:"),
                r#ref("AWS::Partition"),
                json!(":sts::"),
                r#ref("AWS::AccountId"),
                json!(":assumed-role/"),
                r#ref(&role),
                json!("/GuardDutyMalwareProtection"),
            ]),
        ]},
        "Resource": objects_arn(bucket),
        "Sid": "OnlyGuardDutyCanTagScanStatus"
    })
}

/// CloudFront serves only objects GuardDuty found clean.
pub fn read_gate(bucket: &str, oai: &str) -> Value {
    json!({
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Condition": {"StringNotEquals": {format!("s3:ExistingObjectTag/{STATUS_TAG}"): "NO_THREATS_FOUND"}},
        "Effect": "Deny",
        "Principal": oai_principal(oai),
        "Resource": objects_arn(bucket)
    })
}

pub fn build(t: &mut Template, bucket: &str, on_demand_only: bool) {
    let role = t.add(
        ROLE,
        Resource::new(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": super::template::assume_role(SERVICE)}),
        ),
    );
    let mut put_rule = sid(
        "AllowManagedRuleToSendS3EventsToGuardDuty",
        &[
            "events:PutRule",
            "events:DeleteRule",
            "events:PutTargets",
            "events:RemoveTargets",
        ],
        event_rule_arn(),
    );
    put_rule["Condition"] = json!({"StringLike": {"events:ManagedBy": SERVICE}});
    let policy = super::template::default_policy(
        t,
        ROLE_SCOPE,
        &role,
        vec![
            put_rule,
            sid(
                "AllowGuardDutyToMonitorEventBridgeManagedRule",
                &["events:DescribeRule", "events:ListTargetsByRule"],
                event_rule_arn(),
            ),
            sid(
                "AllowPostScanTag",
                &[
                    "s3:PutObjectTagging",
                    "s3:GetObjectTagging",
                    "s3:PutObjectVersionTagging",
                    "s3:GetObjectVersionTagging",
                ],
                objects_arn(bucket),
            ),
            sid(
                "AllowEnableS3EventBridgeEvents",
                &["s3:PutBucketNotification", "s3:GetBucketNotification"],
                att(bucket, "Arn"),
            ),
            sid(
                "AllowPutValidationObject",
                &["s3:PutObject"],
                join(vec![
                    att(bucket, "Arn"),
                    json!("/malware-protection-resource-validation-object"),
                ]),
            ),
            sid(
                "AllowCheckBucketOwnership",
                &["s3:ListBucket"],
                att(bucket, "Arn"),
            ),
            sid(
                "AllowMalwareScan",
                &["s3:GetObject", "s3:GetObjectVersion"],
                objects_arn(bucket),
            ),
        ],
    );
    let mut s3 = json!({"BucketName": r#ref(bucket)});
    if on_demand_only {
        s3["ObjectPrefixes"] = json!([ON_DEMAND_ONLY_PREFIX]);
    }
    t.add(
        PLAN,
        Resource::new(
            "AWS::GuardDuty::MalwareProtectionPlan",
            json!({
                "Actions": {"Tagging": {"Status": "ENABLED"}},
                "ProtectedResource": {"S3Bucket": s3},
                "Role": att(&role, "Arn")
            }),
        )
        // GuardDuty checks the role's permissions when the plan is created; the role itself is
        // already a dependency through `Role`.
        .depends_on([policy]),
    );
}
