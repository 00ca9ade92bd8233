//! `CloudTrailAlarms` (`cloudTrailAlarms`): the CIS-benchmark metric filters and alarms on the
//! CloudTrail log group, the SNS topic they notify, and, with `logGroupCreate`, the log group
//! and a multi-region trail (with its bucket and role) that fills it. In the primary stack only:
//! `@medplum/cdk` adds the construct to the us-east-1 stack too, where it is a second
//! multi-region trail of the same events (paid, and every alarm fires twice) and, with
//! `snsTopicArn`, alarms notifying a topic in another region, which CloudWatch refuses.

use serde_json::{Value, json};

use super::cloudfront::deny_insecure_transport;
use super::template::{Resource, Template, assume_role, att, default_policy, join, r#ref};
use crate::config::cloudtrail::{AlarmTopic, CloudTrailAlarms};

const ROOT: &str = "CloudTrailAlarms";
const TRAIL_SERVICE: &str = "cloudtrail.amazonaws.com";

/// The alarms and their CloudWatch Logs filter patterns, in the CDK's order (the CIS AWS
/// Foundations benchmark's monitoring controls).
pub const ALARMS: &[(&str, &str)] = &[
    (
        "UnauthorizedApiCalls",
        "{ ($.errorCode = *UnauthorizedOperation) || ($.errorCode = AccessDenied*) }",
    ),
    (
        "SignInWithoutMfa",
        "{ ($.eventName = ConsoleLogin) && ($.additionalEventData.MFAUsed != Yes) }",
    ),
    (
        "RootAccountUsage",
        "{ $.userIdentity.type = Root && $.userIdentity.invokedBy NOT EXISTS && $.eventType != \
         AwsServiceEvent }",
    ),
    (
        "IamPolicyChanges",
        "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=\
         DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.\
         eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.\
         eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=\
         AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.\
         eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=\
         DetachGroupPolicy)}",
    ),
    (
        "CloudTrailConfigurationChanges",
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = \
         DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }",
    ),
    (
        "SignInFailures",
        "{ ($.eventName = ConsoleLogin) && ($.errorMessage = \"Failed authentication\") }",
    ),
    (
        "DisabledCmks",
        "{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=\
         ScheduleKeyDeletion)) }",
    ),
    (
        "S3PolicyChanges",
        "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = \
         PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) \
         || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.\
         eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = \
         DeleteBucketReplication)) }",
    ),
    (
        "ConfigServiceChanges",
        "{($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.\
         eventName=DeleteDeliveryChannel)||($.eventName=PutDeliveryChannel)||($.eventName=\
         PutConfigurationRecorder))}",
    ),
    (
        "SecurityGroupChanges",
        "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = \
         AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.\
         eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.\
         eventName = DeleteSecurityGroup)}",
    ),
    (
        "NetworkAclChanges",
        "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.\
         eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = \
         ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }",
    ),
    (
        "NetworkGatewayChanges",
        "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.\
         eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.\
         eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }",
    ),
    (
        "RouteTableChanges",
        "{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = \
         ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = \
         DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = \
         DisassociateRouteTable) }",
    ),
    (
        "VpcChanges",
        "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = \
         ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = \
         CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.\
         eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.\
         eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.\
         eventName = EnableVpcClassicLink) }",
    ),
    (
        "OrganizationsChanges",
        "{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = AcceptHandshake) || \
         ($.eventName = AttachPolicy) || ($.eventName = CreateAccount) || ($.eventName = \
         CreateOrganizationalUnit) || ($.eventName = CreatePolicy) || ($.eventName = \
         DeclineHandshake) || ($.eventName = DeleteOrganization) || ($.eventName = \
         DeleteOrganizationalUnit) || ($.eventName = DeletePolicy) || ($.eventName = \
         DetachPolicy) || ($.eventName = DisablePolicyType) || ($.eventName = EnablePolicyType) \
         || ($.eventName = InviteAccountToOrganization) || ($.eventName = LeaveOrganization) || \
         ($.eventName = MoveAccount) || ($.eventName = RemoveAccountFromOrganization) || ($.\
         eventName = UpdatePolicy) || ($.eventName = UpdateOrganizationalUnit)) }",
    ),
];

/// Adds the construct to `t`; `stack_name` is the config's `stackName` (the CDK names the
/// filters, metrics and alarms after it, in both stacks), `account` its `accountNumber`.
pub fn build(t: &mut Template, c: &CloudTrailAlarms, stack_name: &str, account: &str) {
    let log_group = if c.log_group_create {
        let group = t.add(
            &[ROOT, "CloudTrailLogGroup", "Resource"],
            Resource::new(
                "AWS::Logs::LogGroup",
                json!({"LogGroupName": c.log_group_name, "RetentionInDays": 365}),
            )
            .policy("Retain"),
        );
        trail(t, &group, account);
        r#ref(&group)
    } else {
        // `LogGroup.fromLogGroupName`: the group exists; a trail outside the stack fills it.
        json!(c.log_group_name)
    };
    let topic = match &c.topic {
        AlarmTopic::Existing(arn) => json!(arn),
        AlarmTopic::New(name) => {
            let props = match name {
                Some(n) => json!({"TopicName": n}),
                None => Value::Null,
            };
            r#ref(&t.add(
                &[ROOT, "AlarmTopic", "Resource"],
                Resource::new("AWS::SNS::Topic", props),
            ))
        }
    };
    let namespace = format!("{stack_name}Metrics");
    for (name, pattern) in ALARMS {
        let metric = format!("{stack_name}{name}Metric");
        t.add(
            &[ROOT, &format!("{stack_name}{name}MetricFilter"), "Resource"],
            Resource::new(
                "AWS::Logs::MetricFilter",
                json!({
                    "FilterPattern": pattern,
                    "LogGroupName": log_group,
                    "MetricTransformations": [{
                        "MetricName": metric,
                        "MetricNamespace": namespace,
                        "MetricValue": "1"
                    }]
                }),
            ),
        );
        let alarm = format!("{stack_name}{name}Alarm");
        // `metricFilter.metric()` defaults: the average over five minutes.
        t.add(
            &[ROOT, &alarm, "Resource"],
            Resource::new(
                "AWS::CloudWatch::Alarm",
                json!({
                    "ActionsEnabled": true,
                    "AlarmActions": [topic],
                    "AlarmName": alarm,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "DatapointsToAlarm": 1,
                    "EvaluationPeriods": 1,
                    "MetricName": metric,
                    "Namespace": namespace,
                    "Period": 300,
                    "Statistic": "Average",
                    "Threshold": 1,
                    "TreatMissingData": "notBreaching"
                }),
            ),
        );
    }
}

/// `cloudtrail.Trail` with `sendToCloudWatchLogs`: its retained bucket (TLS only, writable by
/// CloudTrail under `AWSLogs/<account>/`), the role CloudTrail assumes to write to the group,
/// and the multi-region trail with log file validation.
fn trail(t: &mut Template, group: &str, account: &str) {
    let bucket = t.add(
        &[ROOT, "CloudTrail", "S3", "Resource"],
        Resource::new("AWS::S3::Bucket", Value::Null).policy("Retain"),
    );
    let trail_principal = json!({"Service": TRAIL_SERVICE});
    let bucket_policy = t.add(
        &[ROOT, "CloudTrail", "S3", "Policy", "Resource"],
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": r#ref(&bucket),
                "PolicyDocument": {
                    "Statement": [
                        deny_insecure_transport(&bucket),
                        {
                            "Action": "s3:GetBucketAcl",
                            "Effect": "Allow",
                            "Principal": trail_principal,
                            "Resource": att(&bucket, "Arn")
                        },
                        {
                            "Action": "s3:PutObject",
                            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                            "Effect": "Allow",
                            "Principal": trail_principal,
                            "Resource": join(vec![
                                att(&bucket, "Arn"),
                                json!(format!("/AWSLogs/{account}/*")),
                            ])
                        }
                    ],
                    "Version": "2012-10-17"
                }
            }),
        ),
    );
    let role_scope = [ROOT, "CloudTrail", "LogsRole"];
    let role = t.add(
        &[ROOT, "CloudTrail", "LogsRole", "Resource"],
        Resource::new(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": assume_role(TRAIL_SERVICE)}),
        ),
    );
    let policy = default_policy(
        t,
        &role_scope,
        &role,
        vec![json!({
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
            "Effect": "Allow",
            "Resource": att(group, "Arn")
        })],
    );
    t.add(
        &[ROOT, "CloudTrail", "Resource"],
        Resource::new(
            "AWS::CloudTrail::Trail",
            json!({
                "CloudWatchLogsLogGroupArn": att(group, "Arn"),
                "CloudWatchLogsRoleArn": att(&role, "Arn"),
                "EnableLogFileValidation": true,
                "EventSelectors": [],
                "IncludeGlobalServiceEvents": true,
                "IsLogging": true,
                "IsMultiRegionTrail": true,
                "S3BucketName": r#ref(&bucket)
            }),
        )
        // CloudTrail checks at creation that it can write to the bucket and the log group.
        .depends_on([policy, role, bucket_policy]),
    );
}
