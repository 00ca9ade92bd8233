"""The CloudTrail-alarm and RDS Proxy resource types: AWS::RDS::DBProxy,
AWS::RDS::DBProxyTargetGroup, AWS::CloudTrail::Trail, AWS::Logs::MetricFilter,
AWS::CloudWatch::Alarm and AWS::SNS::Topic.

Each type is created and deleted through the emulator and read back through its service's
API, as in ``test_resources.py`` (whose server, helpers and gap check this module reuses). The
refusals that matter most (a proxy whose secret does not exist, a trail on a bucket whose
policy does not let CloudTrail write, a metric filter on a missing log group, an alarm
notifying a missing topic) run through the lifecycle emulator, which executes the stack the
way CloudFormation does: the resource fails with the service's reason and the stack rolls
back. The official CDK output of the ``cloudtrail`` fixture deploys and deletes as well.

Run: ``/work/main/.venv/bin/python -m pytest -q tests/emulator/tests/test_resources_audit.py``
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import (  # noqa: F401 - fixtures
    emu,
    emu_cfn,
    emu_server,
    events,
    template,
    wait_stack,
)
from test_resources import (  # noqa: F401 - fixtures
    REPO,
    TEMPLATE_BUCKET,
    Aws,
    assert_creation_fails,
    check_alarms,
    check_regional_stack,
    deploy,
    endpoint,
    every_type_and_attribute_modelled,
    outputs,
    physical_ids,
    resources_server,
    wait_for_stack,
    with_prerequisites,
)

ACCOUNT = "123456789012"
AUDIT_TEMPLATE = REPO / "tests/fixtures/cdk-4.0.2/cloudtrail/MedplumAuditStack.template.json"


def getatt(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def network(region: str) -> dict[str, Any]:
    """A VPC with one subnet in each of two Availability Zones."""
    resources: dict[str, Any] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
    }
    for index, zone in enumerate("ab"):
        resources[f"Subnet{zone.upper()}"] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": ref("Vpc"),
                "CidrBlock": f"10.0.{index}.0/24",
                "AvailabilityZone": f"{region}{zone}",
            },
        }
    return resources


def service_role(service: str) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        },
    }


def proxy(secret_arn: Any, name: str = "DatabaseProxy") -> dict[str, Any]:
    return {
        "Type": "AWS::RDS::DBProxy",
        "Properties": {
            "DBProxyName": name,
            "EngineFamily": "POSTGRESQL",
            "Auth": [{"AuthScheme": "SECRETS", "IAMAuth": "DISABLED", "SecretArn": secret_arn}],
            "RoleArn": getatt("ProxyRole", "Arn"),
            "RequireTLS": True,
            "VpcSubnetIds": [ref("SubnetA"), ref("SubnetB")],
            "Tags": [{"Key": "medplum:environment", "Value": "test"}],
        },
    }


def proxy_template(region: str, name: str = "DatabaseProxy") -> dict[str, Any]:
    """An Aurora cluster behind an RDS proxy, as the CDK's DatabaseProxy builds it."""
    return {
        "Resources": {
            **network(region),
            "ProxyRole": service_role("rds.amazonaws.com"),
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"username":"clusteradmin"}',
                        "GenerateStringKey": "password",
                    }
                },
            },
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "Engine": "aurora-postgresql",
                    "MasterUsername": "clusteradmin",
                    "MasterUserPassword": "a-password-of-some-length",
                },
            },
            "Proxy": proxy(ref("Secret"), name),
            "ProxyTargetGroup": {
                "Type": "AWS::RDS::DBProxyTargetGroup",
                "Properties": {
                    "ConnectionPoolConfigurationInfo": {"MaxConnectionsPercent": 90},
                    "DBClusterIdentifiers": [ref("Cluster")],
                    "DBProxyName": ref("Proxy"),
                    "TargetGroupName": "default",
                },
            },
        },
        "Outputs": {
            "Endpoint": {"Value": getatt("Proxy", "Endpoint")},
            "ProxyArn": {"Value": getatt("Proxy", "DBProxyArn")},
            "VpcId": {"Value": getatt("Proxy", "VpcId")},
            "TargetGroupArn": {"Value": getatt("ProxyTargetGroup", "TargetGroupArn")},
            "TargetGroupRef": {"Value": ref("ProxyTargetGroup")},
        },
    }


def trail_bucket_policy(grant_cloudtrail: bool) -> dict[str, Any]:
    """The trail bucket's policy as CDK writes it; without the grant, only the TLS deny."""
    bucket_arn = getatt("TrailBucket", "Arn")
    statements: list[dict[str, Any]] = [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
        }
    ]
    if grant_cloudtrail:
        statements += [
            {
                "Action": "s3:GetBucketAcl",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Resource": bucket_arn,
            },
            {
                "Action": "s3:PutObject",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Resource": {"Fn::Join": ["", [bucket_arn, f"/AWSLogs/{ACCOUNT}/*"]]},
            },
        ]
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": ref("TrailBucket"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }


def trail_template(grant_cloudtrail: bool = True) -> dict[str, Any]:
    """The CloudTrail-alarms construct: a logging trail into a bucket and a log group, a
    metric filter on the group, an alarm on the metric notifying a topic."""
    return {
        "Resources": {
            "TrailBucket": {"Type": "AWS::S3::Bucket"},
            "TrailBucketPolicy": trail_bucket_policy(grant_cloudtrail),
            "TrailLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "audit-cloudtrail", "RetentionInDays": 365},
            },
            "TrailLogsRole": service_role("cloudtrail.amazonaws.com"),
            "Trail": {
                "Type": "AWS::CloudTrail::Trail",
                "DependsOn": ["TrailBucketPolicy"],
                "Properties": {
                    "CloudWatchLogsLogGroupArn": getatt("TrailLogGroup", "Arn"),
                    "CloudWatchLogsRoleArn": getatt("TrailLogsRole", "Arn"),
                    "EnableLogFileValidation": True,
                    "EventSelectors": [],
                    "IncludeGlobalServiceEvents": True,
                    "IsLogging": True,
                    "IsMultiRegionTrail": True,
                    "S3BucketName": ref("TrailBucket"),
                    "Tags": [{"Key": "medplum:environment", "Value": "audit"}],
                },
            },
            "AlarmTopic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": "audit-alarms",
                    "Tags": [{"Key": "medplum:environment", "Value": "audit"}],
                },
            },
            "RootUsageFilter": {
                "Type": "AWS::Logs::MetricFilter",
                "Properties": {
                    "FilterPattern": '{ $.userIdentity.type = "Root" }',
                    "LogGroupName": ref("TrailLogGroup"),
                    "MetricTransformations": [
                        {
                            "MetricName": "RootUsage",
                            "MetricNamespace": "AuditMetrics",
                            "MetricValue": "1",
                        }
                    ],
                },
            },
            "RootUsageAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "ActionsEnabled": True,
                    "AlarmActions": [ref("AlarmTopic")],
                    "ComparisonOperator": "GreaterThanThreshold",
                    "DatapointsToAlarm": 1,
                    "EvaluationPeriods": 1,
                    "MetricName": "RootUsage",
                    "Namespace": "AuditMetrics",
                    "Period": 300,
                    "Statistic": "Average",
                    "Tags": [{"Key": "medplum:environment", "Value": "audit"}],
                    "Threshold": 1,
                    "TreatMissingData": "notBreaching",
                },
            },
        },
        "Outputs": {
            "TrailArn": {"Value": getatt("Trail", "Arn")},
            "AlarmArn": {"Value": getatt("RootUsageAlarm", "Arn")},
            "TopicArn": {"Value": getatt("AlarmTopic", "TopicArn")},
            "TopicName": {"Value": getatt("AlarmTopic", "TopicName")},
        },
    }


def test_rds_proxy_with_target_group_creates_and_deletes(endpoint: str) -> None:
    aws = Aws(endpoint, "eu-west-1")
    created = outputs(deploy(aws, "ProxyStack", proxy_template(aws.region)))

    rds = aws("rds")
    [described] = rds.describe_db_proxies(DBProxyName="DatabaseProxy")["DBProxies"]
    assert physical_ids(aws, "ProxyStack", "AWS::RDS::DBProxy") == ["DatabaseProxy"]
    assert re.fullmatch(
        r"DatabaseProxy\.proxy-[a-z0-9]{12}\.eu-west-1\.rds\.amazonaws\.com", created["Endpoint"]
    ), created["Endpoint"]
    assert re.fullmatch(
        rf"arn:aws:rds:eu-west-1:{ACCOUNT}:db-proxy:prx-[0-9a-f]{{17}}", created["ProxyArn"]
    ), created["ProxyArn"]
    assert described["Endpoint"] == created["Endpoint"]
    assert described["DBProxyArn"] == created["ProxyArn"]
    assert described["EngineFamily"] == "POSTGRESQL" and described["RequireTLS"] is True
    [vpc] = physical_ids(aws, "ProxyStack", "AWS::EC2::VPC")
    assert described["VpcId"] == created["VpcId"] == vpc
    [secret] = physical_ids(aws, "ProxyStack", "AWS::SecretsManager::Secret")
    assert [a["SecretArn"] for a in described["Auth"]] == [secret]

    [group] = rds.describe_db_proxy_target_groups(DBProxyName="DatabaseProxy")["TargetGroups"]
    assert re.fullmatch(
        rf"arn:aws:rds:eu-west-1:{ACCOUNT}:target-group:prx-tg-[0-9a-f]{{17}}",
        created["TargetGroupArn"],
    ), created["TargetGroupArn"]
    assert group["TargetGroupArn"] == created["TargetGroupArn"] == created["TargetGroupRef"]
    assert group["ConnectionPoolConfig"]["MaxConnectionsPercent"] == 90
    [cluster] = physical_ids(aws, "ProxyStack", "AWS::RDS::DBCluster")
    targets = rds.describe_db_proxy_targets(DBProxyName="DatabaseProxy")["Targets"]
    assert [(t["RdsResourceId"], t["Type"]) for t in targets] == [(cluster, "TRACKED_CLUSTER")]

    # Proxy names are unique in the account and region (RDS identifiers ignore case).
    assert_creation_fails(
        aws,
        "SecondProxyStack",
        proxy_template(aws.region, name="databaseproxy"),
        "DBProxyAlreadyExistsFault",
    )

    aws("cloudformation").delete_stack(StackName="ProxyStack")
    wait_for_stack(aws, "ProxyStack", "DELETE_COMPLETE")
    assert rds.describe_db_proxies()["DBProxies"] == []
    # (The refused stack's own cluster stays: plain moto does not roll back.)
    remaining = rds.describe_db_clusters()["DBClusters"]
    assert cluster not in {c["DBClusterIdentifier"] for c in remaining}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DBProxyName": "1proxy"}, "The parameter DBProxyName is not a valid identifier."),
        ({"DBProxyName": "my--proxy"}, "The parameter DBProxyName is not a valid identifier."),
        ({"EngineFamily": "ORACLE"}, "#/EngineFamily: ORACLE is not a valid enum value"),
        (
            {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/absent"},
            f"IAM role arn:aws:iam::{ACCOUNT}:role/absent does not exist.",
        ),
        ({"VpcSubnetIds": [{"Ref": "SubnetA"}]}, "at least 2 Availability Zones"),
    ],
    ids=["name-starts-with-digit", "double-hyphen", "engine-family", "missing-role", "one-az"],
)
def test_rds_proxy_refuses_what_aws_refuses(
    endpoint: str, change: dict[str, Any], message: str
) -> None:
    aws = Aws(endpoint, "eu-west-1")
    body = proxy_template(aws.region)
    body["Resources"]["Proxy"]["Properties"].update(change)
    del body["Resources"]["ProxyTargetGroup"], body["Outputs"]
    assert_creation_fails(aws, "BrokenProxy", body, message)


def test_rds_proxy_target_group_needs_the_proxy_default_group_and_cluster(endpoint: str) -> None:
    aws = Aws(endpoint, "eu-west-1")
    deploy(aws, "ProxyStack", proxy_template(aws.region))
    base = {"DBProxyName": "DatabaseProxy", "TargetGroupName": "default"}
    for index, (properties, message) in enumerate(
        [
            ({**base, "DBProxyName": "absent"}, "The specified proxy name absent doesn't"),
            ({**base, "TargetGroupName": "other"}, "#/TargetGroupName: other is not a valid"),
            ({**base, "DBClusterIdentifiers": ["absent"]}, "DBCluster absent not found."),
        ]
    ):
        group = {"Type": "AWS::RDS::DBProxyTargetGroup", "Properties": properties}
        assert_creation_fails(aws, f"Group{index}", {"Resources": {"Group": group}}, message)


def test_trail_alarm_filter_and_topic_create_update_and_delete(endpoint: str) -> None:
    aws = Aws(endpoint, "eu-west-1")
    body = trail_template()
    created = outputs(deploy(aws, "Audit", body))

    # The trail: logging, into the bucket and the log group, its Ref a generated name.
    [trail_name] = physical_ids(aws, "Audit", "AWS::CloudTrail::Trail")
    assert re.fullmatch(r"Audit-Trail-[A-Z0-9]{12}", trail_name), trail_name
    cloudtrail = aws("cloudtrail")
    [trail] = cloudtrail.describe_trails(trailNameList=[trail_name])["trailList"]
    [bucket] = physical_ids(aws, "Audit", "AWS::S3::Bucket")
    assert trail["S3BucketName"] == bucket
    assert trail["TrailARN"] == created["TrailArn"]
    assert created["TrailArn"] == f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/{trail_name}"
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"]
    group_arn = aws("logs").describe_log_groups(logGroupNamePrefix="audit-cloudtrail")[
        "logGroups"
    ][0]["arn"]
    assert trail["CloudWatchLogsLogGroupArn"].rstrip(":*") == group_arn.rstrip(":*")
    assert cloudtrail.get_trail_status(Name=trail_name)["IsLogging"] is True
    [tags] = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"]
    assert tags["TagsList"] == [{"Key": "medplum:environment", "Value": "audit"}]

    # The topic: named, tagged (moto's own model dropped list-shaped tags).
    topic_arn = f"arn:aws:sns:eu-west-1:{ACCOUNT}:audit-alarms"
    assert physical_ids(aws, "Audit", "AWS::SNS::Topic") == [topic_arn]
    assert (created["TopicArn"], created["TopicName"]) == (topic_arn, "audit-alarms")
    sns = aws("sns")
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == [
        {"Key": "medplum:environment", "Value": "audit"}
    ]

    # The metric filter (generated name) and the alarm (generated name) notifying the topic.
    check_alarms(aws, "Audit", body)
    [filter_name] = physical_ids(aws, "Audit", "AWS::Logs::MetricFilter")
    assert re.fullmatch(r"Audit-RootUsageFilter-[A-Z0-9]{12}", filter_name), filter_name
    [alarm_name] = physical_ids(aws, "Audit", "AWS::CloudWatch::Alarm")
    [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    assert alarm["AlarmActions"] == [topic_arn]
    assert alarm["AlarmArn"] == created["AlarmArn"]
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["DatapointsToAlarm"] == 1

    # In place: the pattern, the threshold, the topic's display name; logging stops.
    before = aws("cloudformation").describe_stack_resources(StackName="Audit")["StackResources"]
    resources = body["Resources"]
    resources["RootUsageFilter"]["Properties"]["FilterPattern"] = "{ $.eventName = Root* }"
    resources["RootUsageAlarm"]["Properties"]["Threshold"] = 5
    resources["AlarmTopic"]["Properties"]["DisplayName"] = "Audit alarms"
    resources["Trail"]["Properties"]["IsLogging"] = False
    deploy(aws, "Audit", body)
    after = aws("cloudformation").describe_stack_resources(StackName="Audit")["StackResources"]
    assert {r["PhysicalResourceId"] for r in after} == {r["PhysicalResourceId"] for r in before}
    check_alarms(aws, "Audit", body)
    assert len(aws("logs").describe_metric_filters()["metricFilters"]) == 1
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["DisplayName"] == "Audit alarms"
    assert cloudtrail.get_trail_status(Name=trail_name)["IsLogging"] is False

    aws("cloudformation").delete_stack(StackName="Audit")
    wait_for_stack(aws, "Audit", "DELETE_COMPLETE")
    assert cloudtrail.describe_trails()["trailList"] == []
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws("logs").describe_metric_filters()["metricFilters"] == []
    assert sns.list_topics()["Topics"] == []


def test_alarm_and_filter_names_are_unique(endpoint: str) -> None:
    aws = Aws(endpoint, "eu-west-1")
    aws("logs").create_log_group(logGroupName="org-cloudtrail")
    body = trail_template()
    alarm = body["Resources"]["RootUsageAlarm"]
    alarm["Properties"]["AlarmName"] = "RootUsageAlarm"
    metric_filter = body["Resources"]["RootUsageFilter"]
    metric_filter["Properties"].update(
        {"FilterName": "RootUsage", "LogGroupName": "org-cloudtrail"}
    )
    deploy(aws, "Audit", body)
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "other-alarms"}}
    alarm["Properties"]["AlarmActions"] = [ref("Topic")]
    assert_creation_fails(
        aws,
        "AlarmAgain",
        {"Resources": {"Topic": topic, "Alarm": alarm}},
        "Resource of type 'AWS::CloudWatch::Alarm' with identifier 'RootUsageAlarm' already "
        "exists.",
    )
    assert_creation_fails(
        aws,
        "FilterAgain",
        {"Resources": {"Filter": metric_filter}},
        "Resource of type 'AWS::Logs::MetricFilter' with identifier 'RootUsage' already exists.",
    )
    # Another region has its own names.
    other = Aws(aws.endpoint, "us-east-1")
    other("logs").create_log_group(logGroupName="org-cloudtrail")
    deploy(other, "Audit", {"Resources": {"Topic": topic, "Alarm": alarm, "Filter": metric_filter}})
    [again] = other("cloudwatch").describe_alarms(AlarmNames=["RootUsageAlarm"])["MetricAlarms"]
    assert again["AlarmActions"] == [f"arn:aws:sns:us-east-1:{ACCOUNT}:other-alarms"]


# --- Refusals, through the lifecycle emulator: the resource fails, the stack rolls back. ---


def refused(emu_cfn: Any, body: dict[str, Any], logical_id: str) -> str:
    """Creates the stack, expects ROLLBACK_COMPLETE, returns ``logical_id``'s failure reason."""
    emu_cfn.create_stack(
        StackName="refused", TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"]
    )
    stack = wait_stack(emu_cfn, "refused", timeout=30)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    [reason] = [
        e.get("ResourceStatusReason") or ""
        for e in events(emu_cfn, "refused")
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == "CREATE_FAILED"
    ]
    return reason


def test_proxy_whose_secret_does_not_exist_fails_and_rolls_back(emu: Any, emu_cfn: Any) -> None:
    missing = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:absent-AbCdEf"
    body = {
        "Resources": {
            **network("us-east-1"),
            "ProxyRole": service_role("rds.amazonaws.com"),
            "Proxy": proxy(missing),
        }
    }
    reason = refused(emu_cfn, body, "Proxy")
    assert reason.startswith("Resource handler returned message:")
    assert f"The secret {missing} does not exist" in reason and "Service: Rds" in reason
    assert emu.client("rds").describe_db_proxies()["DBProxies"] == []
    assert emu.client("ec2").describe_subnets(
        Filters=[{"Name": "cidr-block", "Values": ["10.0.0.0/24"]}]
    )["Subnets"] == []


def test_trail_on_a_bucket_cloudtrail_cannot_write_fails_and_rolls_back(
    emu: Any, emu_cfn: Any
) -> None:
    body = trail_template(grant_cloudtrail=False)
    reason = refused(emu_cfn, body, "Trail")
    assert "Incorrect S3 bucket policy is detected for bucket:" in reason
    assert "InsufficientS3BucketPolicyException" in reason and "Service: CloudTrail" in reason
    assert emu.client("cloudtrail").describe_trails()["trailList"] == []


def test_metric_filter_on_a_missing_log_group_fails_and_rolls_back(
    emu: Any, emu_cfn: Any
) -> None:
    metric_filter = trail_template()["Resources"]["RootUsageFilter"]
    metric_filter["Properties"]["LogGroupName"] = "org-cloudtrail"
    reason = refused(emu_cfn, {"Resources": {"Filter": metric_filter}}, "Filter")
    assert reason == (
        'Resource handler returned message: "The specified log group does not exist. '
        '(Service: CloudWatchLogs, Status Code: 400)"'
    )


def test_alarm_notifying_a_missing_topic_fails_and_rolls_back(emu: Any, emu_cfn: Any) -> None:
    alarm = trail_template()["Resources"]["RootUsageAlarm"]
    missing = f"arn:aws:sns:us-east-1:{ACCOUNT}:security-alarms"
    alarm["Properties"]["AlarmActions"] = [missing]
    reason = refused(emu_cfn, {"Resources": {"Alarm": alarm}}, "Alarm")
    assert f"Invalid SNS topic {missing}: the topic does not exist." in reason
    assert emu.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


# --- The official CDK output with CloudTrail alarms (tests/fixtures/cdk-4.0.2/cloudtrail). ---


def test_official_cdk_cloudtrail_stack_creates_and_deletes(endpoint: str) -> None:
    """@medplum/cdk 4.0.2 with ``cloudTrailAlarms.logGroupCreate``: the retained log group,
    multi-region trail, its retained bucket and role, the topic, fifteen CIS metric filters
    and alarms, beside the usual regional stack."""
    stack = "MedplumAuditStack"
    template = json.loads(AUDIT_TEMPLATE.read_text())
    aws = Aws(endpoint, "eu-west-1")
    template = with_prerequisites(aws, template)
    deploy(aws, stack, template, {"BootstrapVersion": "/cdk-bootstrap/hnb659fds/version"})

    check_regional_stack(aws, stack, template)
    assert check_alarms(aws, stack, template) == 15
    [trail_name] = physical_ids(aws, stack, "AWS::CloudTrail::Trail")
    [trail] = aws("cloudtrail").describe_trails(trailNameList=[trail_name])["trailList"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["CloudWatchLogsLogGroupArn"].startswith(
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:medplum-audit-cloudtrail"
    )
    assert aws("cloudtrail").get_trail_status(Name=trail_name)["IsLogging"] is True
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:medplum-audit-alarms"
    alarms = aws("cloudwatch").describe_alarms()["MetricAlarms"]
    assert {a["AlarmActions"][0] for a in alarms} == {topic}
    filters = aws("logs").describe_metric_filters(logGroupName="medplum-audit-cloudtrail")
    assert len(filters["metricFilters"]) == 15
    retained_buckets = {
        r["PhysicalResourceId"]
        for r in aws("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
        if r["ResourceType"] == "AWS::S3::Bucket"
        and template["Resources"][r["LogicalResourceId"]].get("DeletionPolicy") == "Retain"
    }
    assert trail["S3BucketName"] in retained_buckets

    aws("cloudformation").delete_stack(StackName=stack)
    wait_for_stack(aws, stack, "DELETE_COMPLETE")
    assert aws("cloudtrail").describe_trails()["trailList"] == []
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws("logs").describe_metric_filters()["metricFilters"] == []
    assert aws("sns").list_topics()["Topics"] == []
    assert aws("rds").describe_db_clusters()["DBClusters"] == []
    # DeletionPolicy: Retain keeps the log group, the storage bucket and the trail's bucket
    # (the bucket policies go).
    assert aws("logs").describe_log_groups(logGroupNamePrefix="medplum-audit-cloudtrail")[
        "logGroups"
    ]
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]} - {TEMPLATE_BUCKET}
    assert buckets == retained_buckets
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        aws("s3").get_bucket_policy(Bucket=trail["S3BucketName"])
