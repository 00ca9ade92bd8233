"""The CloudTrail-alarm, RDS Proxy and persistent-parameter-group resource types:
AWS::RDS::DBProxy, AWS::RDS::DBProxyTargetGroup, AWS::RDS::DBParameterGroup (with the
DBInstance and DBClusterParameterGroup behaviour around it), AWS::CloudTrail::Trail,
AWS::Logs::MetricFilter, AWS::CloudWatch::Alarm and AWS::SNS::Topic.

Each type is created and deleted through the emulator and read back through its service's
API, as in ``test_resources.py`` (whose server, helpers and gap check this module reuses). The
refusals that matter most (a proxy whose secret does not exist, a trail on a bucket whose
policy does not let CloudTrail write, a metric filter on a missing log group, an alarm
notifying a missing topic, deleting a parameter group a retained instance still uses) run
through the lifecycle emulator, which executes the stack the way CloudFormation does: the
resource fails with the service's reason and the stack rolls back (or, on delete, ends
DELETE_FAILED). The official CDK output of the ``cloudtrail`` and ``rds`` fixtures deploys and
deletes as well.

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
from conftest_lifecycle import deploy as execute_change_set
from test_resources import (  # noqa: F401 - fixtures
    REPO,
    TEMPLATE_BUCKET,
    Aws,
    assert_creation_fails,
    check_alarms,
    check_distributions,
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
RDS_FIXTURE = REPO / "tests/fixtures/cdk-4.0.2/rds"
BOOTSTRAP = {"BootstrapVersion": "/cdk-bootstrap/hnb659fds/version"}


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


# --- Instance parameter groups (AWS::RDS::DBParameterGroup) and the instances using them. ---


def parameter_group_template(
    parameters: dict[str, Any] | None = None, family: str = "aurora-postgresql16"
) -> dict[str, Any]:
    """A cluster whose instance uses a generated-name instance parameter group, and whose
    cluster parameter group has an explicit, mixed-case name."""
    return {
        "Resources": {
            "ClusterParameters": {
                "Type": "AWS::RDS::DBClusterParameterGroup",
                "Properties": {
                    "DBClusterParameterGroupName": "Medplum-Cluster-Params",
                    "Description": "Cluster parameter group for aurora-postgresql16",
                    "Family": "aurora-postgresql16",
                    "Parameters": {"statement_timeout": "60000"},
                },
            },
            "InstanceParameters": {
                "Type": "AWS::RDS::DBParameterGroup",
                "Properties": {
                    "Description": "Parameter group for aurora-postgresql16",
                    "Family": family,
                    "Parameters": {"log_min_duration_statement": "1000"}
                    if parameters is None
                    else parameters,
                    "Tags": [{"Key": "medplum:environment", "Value": "test"}],
                },
            },
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "Engine": "aurora-postgresql",
                    "EngineVersion": "16.9",
                    "MasterUsername": "clusteradmin",
                    "MasterUserPassword": "a-password-of-some-length",
                    "DBClusterParameterGroupName": ref("ClusterParameters"),
                },
            },
            "Instance": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBClusterIdentifier": ref("Cluster"),
                    "DBInstanceClass": "db.t4g.medium",
                    "DBParameterGroupName": ref("InstanceParameters"),
                    "Engine": "aurora-postgresql",
                },
            },
        },
        "Outputs": {"GroupRef": {"Value": ref("InstanceParameters")}},
    }


def parameters_of(rds: Any, group: str) -> dict[str, str]:
    return {
        p["ParameterName"]: p["ParameterValue"]
        for p in rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]
    }


def instance_parameter_groups(rds: Any, instance: str) -> list[str]:
    [database] = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"]
    return [g["DBParameterGroupName"] for g in database["DBParameterGroups"]]


def test_db_parameter_group_creates_updates_in_place_and_refuses_delete_in_use(
    endpoint: str,
) -> None:
    aws = Aws(endpoint, "eu-west-1")
    rds = aws("rds")
    created = outputs(deploy(aws, "PgStack", parameter_group_template()))

    # Ref: the generated name, lowercase (RDS stores group names lowercase).
    [group] = physical_ids(aws, "PgStack", "AWS::RDS::DBParameterGroup")
    assert re.fullmatch(r"pgstack-instanceparameters-[a-z0-9]{12}", group), group
    assert created["GroupRef"] == group
    [described] = rds.describe_db_parameter_groups(DBParameterGroupName=group)[
        "DBParameterGroups"
    ]
    assert described["DBParameterGroupFamily"] == "aurora-postgresql16"
    assert described["Description"] == "Parameter group for aurora-postgresql16"
    assert parameters_of(rds, group) == {"log_min_duration_statement": "1000"}
    [instance] = physical_ids(aws, "PgStack", "AWS::RDS::DBInstance")
    assert instance_parameter_groups(rds, instance) == [group]

    # The explicitly named cluster parameter group: stored and referenced lowercase.
    assert physical_ids(aws, "PgStack", "AWS::RDS::DBClusterParameterGroup") == [
        "medplum-cluster-params"
    ]
    [cluster] = rds.describe_db_clusters()["DBClusters"]
    assert cluster["DBClusterParameterGroup"] == "medplum-cluster-params"
    cluster_parameters = rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName="medplum-cluster-params"
    )["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in cluster_parameters} == {
        "statement_timeout": "60000"
    }

    # Parameters change in place: same group, the new set exactly (the dropped one reset).
    deploy(
        aws,
        "PgStack",
        parameter_group_template({"work_mem": "65536", "random_page_cost": 1.1}),
    )
    assert physical_ids(aws, "PgStack", "AWS::RDS::DBParameterGroup") == [group]
    assert parameters_of(rds, group) == {"work_mem": "65536", "random_page_cost": "1.1"}
    assert instance_parameter_groups(rds, instance) == [group]

    # As RDS: a group an instance (a cluster) still uses is not deleted.
    with pytest.raises(ClientError) as raised:
        rds.delete_db_parameter_group(DBParameterGroupName=group)
    assert raised.value.response["Error"]["Code"] == "InvalidDBParameterGroupState"
    assert raised.value.response["Error"]["Message"] == (
        f"One or more database instances are still members of this parameter group {group}, "
        "so the group cannot be deleted"
    )
    with pytest.raises(ClientError) as raised:
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="medplum-cluster-params")
    assert raised.value.response["Error"]["Code"] == "InvalidDBParameterGroupState"
    assert rds.describe_db_parameter_groups(DBParameterGroupName=group)["DBParameterGroups"]

    # An explicit name is stored (and is the Ref) lowercase; it is unique in the region.
    named = {
        "Type": "AWS::RDS::DBParameterGroup",
        "Properties": {
            "DBParameterGroupName": "Medplum-Writer-Params",
            "Description": "Writer",
            "Family": "aurora-postgresql16",
        },
    }
    deploy(aws, "NamedPg", {"Resources": {"Group": named}})
    assert physical_ids(aws, "NamedPg", "AWS::RDS::DBParameterGroup") == ["medplum-writer-params"]
    named["Properties"]["DBParameterGroupName"] = "medplum-WRITER-params"
    assert_creation_fails(
        aws,
        "NamedPgAgain",
        {"Resources": {"Group": named}},
        "Resource of type 'AWS::RDS::DBParameterGroup' with identifier 'medplum-writer-params' "
        "already exists.",
    )

    # The stack delete removes the instance first, then the groups (moto retries the rest).
    aws("cloudformation").delete_stack(StackName="PgStack")
    wait_for_stack(aws, "PgStack", "DELETE_COMPLETE")
    assert rds.describe_db_instances()["DBInstances"] == []
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert group not in {
        g["DBParameterGroupName"] for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
    }
    assert "medplum-cluster-params" not in {
        g["DBClusterParameterGroupName"]
        for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"Instance": {"DBParameterGroupName": "absent-group"}},
            "DBParameterGroup not found: absent-group",
        ),
        (
            {"InstanceParameters": {"Family": None}},
            "Properties validation failed for resource InstanceParameters with message: "
            "#: required key [Family] not found",
        ),
        (
            {"InstanceParameters": {"DBParameterGroupName": "1-group"}},
            "#/DBParameterGroupName: failed validation constraint for keyword [pattern]",
        ),
    ],
    ids=["instance-names-a-missing-group", "no-family", "name-starts-with-digit"],
)
def test_db_parameter_group_refusals(
    endpoint: str, change: dict[str, dict[str, Any]], message: str
) -> None:
    body = parameter_group_template()
    for logical_id, properties in change.items():
        target = body["Resources"][logical_id]["Properties"]
        for key, value in properties.items():
            if value is None:
                del target[key]
            else:
                target[key] = value
    del body["Outputs"]
    assert_creation_fails(Aws(endpoint, "eu-west-1"), "BrokenPg", body, message)


def test_a_parameter_group_a_retained_instance_uses_is_not_deleted(emu: Any, emu_cfn: Any) -> None:
    """Through the lifecycle emulator: the instance is retained, its group is not, so the
    group's delete fails as in AWS and the stack ends DELETE_FAILED."""
    body = parameter_group_template()
    for logical_id in ("Cluster", "Instance", "ClusterParameters"):
        body["Resources"][logical_id]["DeletionPolicy"] = "Retain"
    stack = execute_change_set(emu_cfn, "retained", json.dumps(body))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    rds = emu.client("rds")
    [group] = [
        r["PhysicalResourceId"]
        for r in emu_cfn.describe_stack_resources(StackName="retained")["StackResources"]
        if r["ResourceType"] == "AWS::RDS::DBParameterGroup"
    ]

    emu_cfn.delete_stack(StackName="retained")
    assert wait_stack(emu_cfn, "retained", timeout=30)["StackStatus"] == "DELETE_FAILED"
    [reason] = [
        e.get("ResourceStatusReason")
        for e in events(emu_cfn, "retained")
        if e["LogicalResourceId"] == "InstanceParameters" and e["ResourceStatus"] == "DELETE_FAILED"
    ]
    assert reason == (
        'Resource handler returned message: "One or more database instances are still members '
        f'of this parameter group {group}, so the group cannot be deleted (Service: Rds, Status '
        'Code: 400)"'
    )
    skipped = {
        e["LogicalResourceId"]
        for e in events(emu_cfn, "retained")
        if e["ResourceStatus"] == "DELETE_SKIPPED"
    }
    assert {"Cluster", "Instance"} <= skipped
    [database] = rds.describe_db_instances()["DBInstances"]
    assert [g["DBParameterGroupName"] for g in database["DBParameterGroups"]] == [group]
    assert parameters_of(rds, group) == {"log_min_duration_statement": "1000"}


def test_a_new_family_replaces_the_group_and_moves_the_instance(emu: Any, emu_cfn: Any) -> None:
    """Through the lifecycle emulator: the replacement is created, the instance modified to
    use it, and only then (cleanup) the old group deleted, which the in-use check allows."""
    stack = execute_change_set(emu_cfn, "family", json.dumps(parameter_group_template()))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack

    def ids() -> dict[str, str]:
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in emu_cfn.describe_stack_resources(StackName="family")["StackResources"]
        }

    before = ids()
    body = parameter_group_template(family="aurora-postgresql17")
    stack = execute_change_set(emu_cfn, "family", json.dumps(body), change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    after = ids()
    assert after["InstanceParameters"] != before["InstanceParameters"]
    assert after["Instance"] == before["Instance"]
    rds = emu.client("rds")
    assert instance_parameter_groups(rds, after["Instance"]) == [after["InstanceParameters"]]
    groups = {
        g["DBParameterGroupName"]: g["DBParameterGroupFamily"]
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
    }
    assert groups.get(after["InstanceParameters"]) == "aurora-postgresql17"
    assert before["InstanceParameters"] not in groups


# --- The official CDK output with persistent parameter groups and an RDS proxy ---
# (tests/fixtures/cdk-4.0.2/rds: rdsPersistentParameterGroups, rdsIdsMajorVersionSuffix,
# rdsProxyEnabled).


def test_official_cdk_rds_stacks_create_and_delete(endpoint: str) -> None:
    """@medplum/cdk 4.0.2 with persistent parameter groups, the ``PG16``-suffixed (retained)
    cluster and its two instances, each on its own instance parameter group, behind an RDS
    proxy; and the us-east-1 companion stack (CloudFront). Deleting the stacks leaves what
    ``DeletionPolicy: Retain`` keeps (the three parameter groups, the subnet group, the
    cluster and its instances, the storage bucket) and nothing else."""
    stack, companion_name = "MedplumDataStack", "MedplumDataStack-us-east-1"
    regional = Aws(endpoint, "eu-west-1")
    global_ = Aws(endpoint, "us-east-1")
    template = with_prerequisites(
        regional, json.loads((RDS_FIXTURE / f"{stack}.template.json").read_text())
    )
    companion = with_prerequisites(
        global_, json.loads((RDS_FIXTURE / f"{companion_name}.template.json").read_text())
    )
    deploy(regional, stack, template, BOOTSTRAP)
    deploy(global_, companion_name, companion, BOOTSTRAP)

    check_regional_stack(regional, stack, template)
    resources = template["Resources"]
    ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in regional("cloudformation").describe_stack_resources(StackName=stack)[
            "StackResources"
        ]
    }

    def of_type(resource_type: str) -> list[str]:
        return sorted(lid for lid, r in resources.items() if r["Type"] == resource_type)

    rds = regional("rds")
    [cluster_lid] = of_type("AWS::RDS::DBCluster")
    [cluster_group_lid] = of_type("AWS::RDS::DBClusterParameterGroup")
    cluster_id = ids[cluster_lid]
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    assert cluster["DBClusterParameterGroup"] == ids[cluster_group_lid]
    cluster_parameters = rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName=ids[cluster_group_lid]
    )["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in cluster_parameters} == resources[
        cluster_group_lid
    ]["Properties"]["Parameters"]

    # Each instance is on the instance parameter group its template names (writer, reader).
    instance_groups = of_type("AWS::RDS::DBParameterGroup")
    assert len(instance_groups) == 2
    used = []
    for instance_lid in of_type("AWS::RDS::DBInstance"):
        group_lid = resources[instance_lid]["Properties"]["DBParameterGroupName"]["Ref"]
        assert group_lid in instance_groups
        assert instance_parameter_groups(rds, ids[instance_lid]) == [ids[group_lid]]
        [described] = rds.describe_db_parameter_groups(DBParameterGroupName=ids[group_lid])[
            "DBParameterGroups"
        ]
        assert described["DBParameterGroupFamily"] == "aurora-postgresql16"
        used.append(group_lid)
    assert sorted(used) == instance_groups
    assert {m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]} == {
        ids[lid] for lid in of_type("AWS::RDS::DBInstance")
    }

    # The proxy: authenticating with the cluster's secret, its target group on the cluster,
    # its endpoint published in SSM.
    [proxy] = rds.describe_db_proxies(DBProxyName="DatabaseProxy")["DBProxies"]
    [attachment_lid] = of_type("AWS::SecretsManager::SecretTargetAttachment")
    assert [a["SecretArn"] for a in proxy["Auth"]] == [ids[attachment_lid]]
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True
    [target_group_lid] = of_type("AWS::RDS::DBProxyTargetGroup")
    [target_group] = rds.describe_db_proxy_target_groups(DBProxyName="DatabaseProxy")[
        "TargetGroups"
    ]
    assert target_group["TargetGroupArn"] == ids[target_group_lid]
    targets = rds.describe_db_proxy_targets(DBProxyName="DatabaseProxy")["Targets"]
    assert [(t["RdsResourceId"], t["Type"]) for t in targets] == [(cluster_id, "TRACKED_CLUSTER")]
    endpoint_parameter = regional("ssm").get_parameter(Name="/medplum/data/databaseProxyEndpoint")
    assert endpoint_parameter["Parameter"]["Value"] == proxy["Endpoint"]
    check_distributions(global_, companion_name, key_groups=1)

    global_("cloudformation").delete_stack(StackName=companion_name)
    wait_for_stack(global_, companion_name, "DELETE_COMPLETE")
    assert global_("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    regional("cloudformation").delete_stack(StackName=stack)
    wait_for_stack(regional, stack, "DELETE_COMPLETE")

    # Retained: the parameter groups, the subnet group, the cluster and its instances.
    retained = {lid for lid, r in resources.items() if r.get("DeletionPolicy") == "Retain"}
    assert {resources[lid]["Type"] for lid in retained} == {
        "AWS::RDS::DBClusterParameterGroup",
        "AWS::RDS::DBParameterGroup",
        "AWS::RDS::DBSubnetGroup",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::S3::Bucket",
    }
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]] == [
        cluster_id
    ]
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    assert cluster["DBClusterParameterGroup"] == ids[cluster_group_lid]
    assert {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]} == {
        ids[lid] for lid in of_type("AWS::RDS::DBInstance")
    }
    for instance_lid in of_type("AWS::RDS::DBInstance"):
        group_lid = resources[instance_lid]["Properties"]["DBParameterGroupName"]["Ref"]
        assert instance_parameter_groups(rds, ids[instance_lid]) == [ids[group_lid]]
    assert {
        g["DBParameterGroupName"] for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
    } >= {ids[lid] for lid in instance_groups}
    assert [
        g["DBClusterParameterGroupName"]
        for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    ] == [ids[cluster_group_lid]]
    [subnet_group_lid] = of_type("AWS::RDS::DBSubnetGroup")
    assert [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]] == [
        ids[subnet_group_lid]
    ]
    # Gone: the proxy (and its target group), the cache, the secrets, the parameters, the
    # web ACL, the load balancer, the ECS cluster, the bucket policies.
    assert rds.describe_db_proxies()["DBProxies"] == []
    assert regional("elasticache").describe_replication_groups()["ReplicationGroups"] == []
    assert regional("secretsmanager").list_secrets()["SecretList"] == []
    assert regional("ssm").get_parameters_by_path(Path="/medplum", Recursive=True)[
        "Parameters"
    ] == []
    assert regional("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    assert regional("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert [
        c for c in regional("ecs").describe_clusters(clusters=[ids[of_type("AWS::ECS::Cluster")[0]]])[
            "clusters"
        ]
        if c["status"] == "ACTIVE"
    ] == []
    buckets = {b["Name"] for b in regional("s3").list_buckets()["Buckets"]} - {TEMPLATE_BUCKET}
    assert buckets == {"medplum-data-storage"}
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        regional("s3").get_bucket_policy(Bucket="medplum-data-storage")
