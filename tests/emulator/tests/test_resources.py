"""The Medplum templates deploy, update and delete in moto extended with our resource models.

Every test talks to an in-process moto server through boto3, as the CLI would: it creates
the prerequisites a real account would have (hosted zones, ACM certificates, the CDK
bootstrap parameter, a CloudFront public key, an existing trail's log group and alarm
topic), deploys a template, checks through the service APIs that the objects exist, then
deletes the stack and checks they are gone (except what ``DeletionPolicy: Retain`` keeps,
which moto's own stack delete already honours). The templates hard-code moto's default
account, 123456789012, in ARNs.

Run: ``/work/main/.venv/bin/python -m pytest -q tests/emulator/tests/test_resources.py``
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[3]
SNAPSHOTS = REPO / "tests/it/snapshots"
CDK_TEMPLATE = REPO / "tests/fixtures/reference/MedplumStagingStack.template.json"
# The emulator package lives next to this directory and is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medplum_emulator.resources import install  # noqa: E402

MAX_TEMPLATE_BODY = 51_200
TEMPLATE_BUCKET = "medplum-emulator-templates"
# Two-stack deployments: the regional stack and its us-east-1 companion.
PAIRS = {
    "synth-no-lookups": "MedplumStagingStack",
    "synth-all-features": "MedplumProdStack",
}


def snapshot(name: str) -> dict[str, Any]:
    """The template in an insta snapshot: YAML front matter between ``---`` lines, then JSON."""
    text = (SNAPSHOTS / f"it__synth_snapshots__{name}.snap").read_text()
    _, _front_matter, body = text.split("---\n", 2)
    return json.loads(body)


@pytest.fixture(scope="module")
def resources_server() -> Iterator[str]:
    install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(resources_server: str) -> str:
    """A server with no state left from the previous test."""
    urllib.request.urlopen(
        urllib.request.Request(f"{resources_server}/moto-api/reset", method="POST")
    ).close()
    return resources_server


@pytest.fixture(autouse=True)
def every_type_and_attribute_modelled(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """moto only logs, and carries on, when a template uses a type it has no model for (the
    resource is skipped) or an attribute a model does not implement (the Fn::GetAtt object
    itself becomes the value). Either is a gap in the models; fail the test on it.

    After ``yield`` (teardown) ``caplog.records`` holds only the teardown's records; the
    stacks were deployed during setup and the call."""
    yield
    gaps = [
        record.getMessage()
        for record in caplog.get_records("setup") + caplog.get_records("call")
        if "No Moto CloudFormation support" in record.getMessage()
        or "Fn::GetAtt" in record.getMessage()
    ]
    assert gaps == []


class Aws:
    """boto3 clients for one region against the emulator."""

    def __init__(self, endpoint: str, region: str):
        self.endpoint = endpoint
        self.region = region
        # Creating a boto3 client costs more than most calls made with it.
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service]


def region_of(template: dict[str, Any]) -> str:
    """The region a template was synthesized for: a regional stack records it in its
    ``/medplum/<env>/awsRegion`` parameter; the CloudFront stack has none and is us-east-1."""
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SSM::Parameter" and properties["Name"].endswith("/awsRegion"):
            return properties["Value"]
    return "us-east-1"


def with_prerequisites(aws: Aws, template: dict[str, Any]) -> dict[str, Any]:
    """Creates what the account must already hold and points the template at it.

    The snapshots name placeholder hosted zone ids, certificate ARNs and public key ids; the
    emulator generates its own, so the template text is rewritten to what the APIs returned,
    as the CLI would have looked them up.
    """
    text = json.dumps(template)
    for arn in sorted(set(re.findall(r"arn:aws:acm:[a-z0-9-]+:\d+:certificate/[0-9a-f-]+", text))):
        acm = Aws(aws.endpoint, arn.split(":")[3])("acm")
        issued = acm.request_certificate(DomainName="medplum.example.org")["CertificateArn"]
        text = text.replace(arn, issued)
    zones: dict[str, str] = {}
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Route53::RecordSet" and "HostedZoneId" in properties:
            # The zone is the record's parent domain: api.prod.example.org. -> prod.example.org.
            zone_name = properties["Name"].split(".", 1)[1]
            zones.setdefault(properties["HostedZoneId"], zone_name)
    for placeholder, zone_name in zones.items():
        zone = aws("route53").create_hosted_zone(Name=zone_name, CallerReference=placeholder)
        text = text.replace(f'"{placeholder}"', json.dumps(zone["HostedZone"]["Id"].split("/")[-1]))
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudFront::KeyGroup":
            continue
        for item in resource["Properties"]["KeyGroupConfig"]["Items"]:
            if isinstance(item, str):  # an existing key, not a Ref to one in the stack
                text = text.replace(f'"{item}"', json.dumps(create_public_key(aws, item)))
    if "BootstrapVersion" in template.get("Parameters", {}):
        aws("ssm").put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String"
        )
    # CloudTrail alarms on an existing trail: its log group (named, not a Ref to one in the
    # stack) and the alarm topic (an ARN, possibly in another region) already exist.
    groups, topics = set(), set()
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Logs::MetricFilter" and isinstance(
            properties["LogGroupName"], str
        ):
            groups.add(properties["LogGroupName"])
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                topics.update(
                    action
                    for action in properties.get(key, [])
                    if isinstance(action, str) and action.startswith("arn:aws:sns:")
                )
    logs = aws("logs")
    existing = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    for group in sorted(groups - existing):
        logs.create_log_group(logGroupName=group)
    for topic in sorted(topics):
        _, _, _, region, _, name = topic.split(":")
        # CreateTopic of an existing name returns that topic.
        assert Aws(aws.endpoint, region)("sns").create_topic(Name=name)["TopicArn"] == topic
    return json.loads(text)


def create_public_key(aws: Aws, name: str) -> str:
    encoded = snapshot("synth-no-lookups-MedplumStagingStack-us-east-1")["Resources"][
        "StorageStoragePublicKeyF7600AA8"
    ]["Properties"]["PublicKeyConfig"]["EncodedKey"]
    key = aws("cloudfront").create_public_key(
        PublicKeyConfig={"CallerReference": name, "Name": name, "EncodedKey": encoded}
    )
    return key["PublicKey"]["Id"]


def wait_for_stack(aws: Aws, stack: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    """Polls DescribeStacks until the stack reaches ``status``; fails on any other terminal
    status. moto executes synchronously today; the lifecycle emulator will not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            description = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as error:
            if status == "DELETE_COMPLETE" and "does not exist" in str(error):
                return {"StackStatus": "DELETE_COMPLETE"}
            raise
        current = description["StackStatus"]
        if current == status:
            return description
        if not current.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = aws("cloudformation").describe_stack_events(StackName=stack)
            reasons = [e.get("ResourceStatusReason") for e in events["StackEvents"]]
            pytest.fail(f"{stack}: {current}, expected {status}; events: {reasons}")
        time.sleep(0.2)


def template_source(aws: Aws, stack: str, template: dict[str, Any]) -> dict[str, str]:
    """TemplateBody, or, above CloudFormation's 51,200-byte limit, a TemplateURL to a copy in
    S3, as the CLI does (src/deploy/staging.rs)."""
    body = json.dumps(template, separators=(",", ":"))
    if len(body) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": body}
    s3 = aws("s3")
    if TEMPLATE_BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        pass
    elif aws.region == "us-east-1":
        s3.create_bucket(Bucket=TEMPLATE_BUCKET)
    else:
        s3.create_bucket(
            Bucket=TEMPLATE_BUCKET,
            CreateBucketConfiguration={"LocationConstraint": aws.region},
        )
    s3.put_object(Bucket=TEMPLATE_BUCKET, Key=f"{stack}.json", Body=body.encode())
    return {"TemplateURL": f"https://{TEMPLATE_BUCKET}.s3.amazonaws.com/{stack}.json"}


def deploy(
    aws: Aws, stack: str, template: dict[str, Any], parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    """CreateStack, or UpdateStack if the stack exists, then waits for completion.

    Not CreateChangeSet + ExecuteChangeSet (what the CLI's engine uses): moto 5.2.5 does not
    compute a stack's Outputs when it executes a CREATE change set, and the two-stack
    deployments pass the regional stack's outputs to the us-east-1 stack. Execution is the
    lifecycle emulator's part; these tests are about the resource models.
    """
    cloudformation = aws("cloudformation")
    exists = any(s["StackName"] == stack for s in cloudformation.describe_stacks()["Stacks"])
    arguments = {
        "StackName": stack,
        **template_source(aws, stack, template),
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in (parameters or {}).items()
        ],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }
    if exists:
        cloudformation.update_stack(**arguments)
        return wait_for_stack(aws, stack, "UPDATE_COMPLETE")
    cloudformation.create_stack(**arguments)
    return wait_for_stack(aws, stack, "CREATE_COMPLETE")


def physical_ids(aws: Aws, stack: str, resource_type: str) -> list[str]:
    resources = aws("cloudformation").describe_stack_resources(StackName=stack)
    return [
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == resource_type
    ]


def outputs(description: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def canonical_users(policy: dict[str, Any]) -> set[str]:
    return {
        statement["Principal"]["CanonicalUser"]
        for statement in policy["Statement"]
        if "CanonicalUser" in statement.get("Principal", {})
    }


def check_regional_stack(aws: Aws, stack: str, template: dict[str, Any]) -> None:
    """Asserts, through the service APIs, that the regional stack's data stores exist."""
    [cluster_id] = physical_ids(aws, stack, "AWS::RDS::DBCluster")
    # CloudFormation's generated name: lowercase <stack>-<logical id>-<random>, <= 63 chars.
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", cluster_id), cluster_id
    assert cluster_id.startswith(stack.lower()[:8]) and "--" not in cluster_id
    [cluster] = aws("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    instance_count = sum(
        r["Type"] == "AWS::RDS::DBInstance" for r in template["Resources"].values()
    )
    assert len(cluster["DBClusterMembers"]) == instance_count
    assert cluster["Engine"] == "aurora-postgresql"

    [attachment_secret] = physical_ids(aws, stack, "AWS::SecretsManager::SecretTargetAttachment")
    secret = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=attachment_secret)["SecretString"]
    )
    assert secret["username"] == "clusteradmin"
    [generate] = [
        r["Properties"]["GenerateSecretString"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::Secret"
        and "username" in r["Properties"]["GenerateSecretString"].get("SecretStringTemplate", "")
    ]
    assert len(secret["password"]) == generate["PasswordLength"]
    assert not set(secret["password"]) & set(generate["ExcludeCharacters"])
    assert secret["host"] == cluster["Endpoint"]
    assert secret["port"] == cluster["Port"] == 5432
    assert secret["dbClusterIdentifier"] == cluster_id
    ssm = aws("ssm")
    database_secrets = ssm.get_parameters_by_path(Path="/medplum", Recursive=True)["Parameters"]
    assert attachment_secret in [p["Value"] for p in database_secrets]

    [group_id] = physical_ids(aws, stack, "AWS::ElastiCache::ReplicationGroup")
    [group] = aws("elasticache").describe_replication_groups(ReplicationGroupId=group_id)[
        "ReplicationGroups"
    ]
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    redis_secrets = [
        s for s in aws("secretsmanager").list_secrets()["SecretList"]
        if json.loads(aws("secretsmanager").get_secret_value(SecretId=s["ARN"])["SecretString"])
        .get("tls") is not None
    ]
    [redis_secret] = redis_secrets
    redis = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=redis_secret["ARN"])["SecretString"]
    )
    # The {{resolve:secretsmanager:...}} reference to the auth token secret was resolved.
    assert redis["host"] == primary["Address"] and redis["port"] == str(primary["Port"])
    assert redis["password"] and "{{resolve" not in redis["password"]

    [acl] = aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    [load_balancer] = physical_ids(aws, stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    associated = aws("wafv2").get_web_acl_for_resource(ResourceArn=load_balancer)["WebACL"]
    assert associated["ARN"] == acl["ARN"]
    # Ref of a web ACL is name|id|scope.
    refs = physical_ids(aws, stack, "AWS::WAFv2::WebACL")
    assert f"{acl['Name']}|{acl['Id']}|REGIONAL" in refs
    fetched = aws("wafv2").get_web_acl(Name=acl["Name"], Id=acl["Id"], Scope="REGIONAL")
    [declared] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::WAFv2::WebACL" and r["Properties"]["Scope"] == "REGIONAL"
    ]
    assert fetched["WebACL"]["DefaultAction"] == declared["DefaultAction"]
    assert len(fetched["WebACL"]["Rules"]) == len(declared["Rules"])


def check_bucket_policies(aws: Aws, stack: str) -> None:
    """Each bucket policy of a CloudFront origin grants exactly its own origin access
    identity's canonical user."""
    cloudfront = aws("cloudfront")
    identities = physical_ids(aws, stack, "AWS::CloudFront::CloudFrontOriginAccessIdentity")
    canonical = {
        cloudfront.get_cloud_front_origin_access_identity(Id=identity)[
            "CloudFrontOriginAccessIdentity"
        ]["S3CanonicalUserId"]
        for identity in identities
    }
    granted = []
    for bucket in physical_ids(aws, stack, "AWS::S3::BucketPolicy"):
        policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
        assert "Fn::" not in json.dumps(policy)
        users = canonical_users(policy)
        if not users and "cloudtrail.amazonaws.com" in json.dumps(policy):
            continue  # the CloudTrail trail's bucket: no CloudFront origin
        assert len(users) == 1
        granted.extend(users)
    assert sorted(granted) == sorted(canonical)
    assert len(identities) == 2


def check_distributions(aws: Aws, stack: str, key_groups: int) -> list[dict[str, Any]]:
    cloudfront = aws("cloudfront")
    distributions = [
        cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        for distribution_id in physical_ids(aws, stack, "AWS::CloudFront::Distribution")
    ]
    assert len(distributions) == 2
    listed = cloudfront.list_distributions()["DistributionList"]["Items"]
    assert {d["Id"] for d in listed} == {d["Id"] for d in distributions}
    acls = aws("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert {d["DistributionConfig"]["WebACLId"] for d in distributions} == {a["ARN"] for a in acls}
    refs = physical_ids(aws, stack, "AWS::WAFv2::WebACL")
    assert {f"{a['Name']}|{a['Id']}|CLOUDFRONT" for a in acls} <= set(refs)
    group_ids = physical_ids(aws, stack, "AWS::CloudFront::KeyGroup")
    assert len(group_ids) == key_groups
    for group_id in group_ids:
        items = cloudfront.get_key_group(Id=group_id)["KeyGroup"]["KeyGroupConfig"]["Items"]
        assert all(cloudfront.get_public_key(Id=key)["PublicKey"] for key in items)
    return distributions


def check_alarms(aws: Aws, stack: str, template: dict[str, Any]) -> int:
    """Each metric filter and alarm of the stack exists as declared, read back through the
    Logs and CloudWatch APIs; returns how many alarms there are."""
    declared = template["Resources"]
    resources = aws("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    alarms = 0
    for resource in resources:
        properties = declared[resource["LogicalResourceId"]].get("Properties", {})
        name = resource["PhysicalResourceId"]
        if resource["ResourceType"] == "AWS::Logs::MetricFilter":
            [found] = aws("logs").describe_metric_filters(filterNamePrefix=name)["metricFilters"]
            assert found["filterName"] == name
            assert found["filterPattern"] == properties["FilterPattern"]
            if isinstance(properties["LogGroupName"], str):
                assert found["logGroupName"] == properties["LogGroupName"]
            [declared_metric] = properties["MetricTransformations"]
            assert found["metricTransformations"] == [
                {
                    "metricName": declared_metric["MetricName"],
                    "metricNamespace": declared_metric["MetricNamespace"],
                    "metricValue": declared_metric["MetricValue"],
                }
            ]
        if resource["ResourceType"] == "AWS::CloudWatch::Alarm":
            alarms += 1
            [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
            assert name == properties.get("AlarmName", name)
            assert alarm["MetricName"] == properties["MetricName"]
            assert alarm["Namespace"] == properties["Namespace"]
            assert alarm["Threshold"] == properties["Threshold"]
            assert len(alarm["AlarmActions"]) == len(properties["AlarmActions"])
            assert all(action.startswith("arn:aws:sns:") for action in alarm["AlarmActions"])
            tags = aws("cloudwatch").list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
            assert tags == properties.get("Tags", [])
    return alarms


def check_deleted(aws: Aws, regional: str, retained_buckets: set[str]) -> None:
    assert aws("rds").describe_db_clusters()["DBClusters"] == []
    assert aws("rds").describe_db_proxies()["DBProxies"] == []
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws("logs").describe_metric_filters()["metricFilters"] == []
    assert aws("cloudtrail").describe_trails()["trailList"] == []
    assert aws("rds").describe_db_instances()["DBInstances"] == []
    assert aws("elasticache").describe_replication_groups()["ReplicationGroups"] == []
    assert aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    assert aws("secretsmanager").list_secrets()["SecretList"] == []
    assert aws("ssm").get_parameters_by_path(Path="/medplum", Recursive=True)["Parameters"] == []
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]} - {TEMPLATE_BUCKET}
    assert buckets == retained_buckets
    for bucket in buckets:
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            aws("s3").get_bucket_policy(Bucket=bucket)


def retained_buckets(aws: Aws, stack: str, template: dict[str, Any]) -> set[str]:
    """The names of the stack's retained buckets (read before the stack is deleted: a bucket
    without ``BucketName``, such as the CloudTrail trail's, has a generated one)."""
    resources = aws("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    return {
        (r.get("Properties") or {}).get("BucketName") or physical[logical]
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and r.get("DeletionPolicy") == "Retain"
    }


@pytest.mark.parametrize("prefix", sorted(PAIRS))
def test_two_stack_deployment_creates_and_deletes(endpoint: str, prefix: str) -> None:
    stack = PAIRS[prefix]
    template = snapshot(f"{prefix}-{stack}")
    regional = Aws(endpoint, region_of(template))
    global_ = Aws(endpoint, "us-east-1")
    companion_name = f"{stack}-us-east-1"
    companion = with_prerequisites(global_, snapshot(f"{prefix}-{stack}-us-east-1"))
    template = with_prerequisites(regional, template)

    primary = outputs(deploy(regional, stack, template))
    assert all(re.fullmatch(r"[A-Z0-9]+", value) for value in primary.values())
    deploy(global_, companion_name, companion, primary)

    check_regional_stack(regional, stack, template)
    # all-features: the CloudTrail alarms, with their trail, log group and topic, are in the
    # primary stack only (the CDK's copy in the us-east-1 stack is a documented deviation).
    alarm_count = check_alarms(regional, stack, template)
    assert check_alarms(global_, companion_name, companion) == 0
    assert alarm_count == (15 if prefix == "synth-all-features" else 0)
    if prefix == "synth-all-features":
        trails = regional("cloudtrail").describe_trails()["trailList"]
        assert [t["IsMultiRegionTrail"] for t in trails] == [True]
    # The bucket policies live in the regional stack; CloudFront is global.
    check_bucket_policies(Aws(endpoint, regional.region), stack)
    distributions = check_distributions(global_, companion_name, key_groups=1)
    origins = [o for d in distributions for o in d["DistributionConfig"]["Origins"]["Items"]]
    assert {
        o["S3OriginConfig"]["OriginAccessIdentity"] for o in origins if o.get("S3OriginConfig")
    } == {f"origin-access-identity/cloudfront/{value}" for value in primary.values()}

    aws_cf = global_("cloudformation")
    aws_cf.delete_stack(StackName=companion_name)
    wait_for_stack(global_, companion_name, "DELETE_COMPLETE")
    assert global_("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert global_("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"] == []
    assert global_("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert global_("logs").describe_metric_filters()["metricFilters"] == []
    retained = retained_buckets(regional, stack, template)
    regional("cloudformation").delete_stack(StackName=stack)
    wait_for_stack(regional, stack, "DELETE_COMPLETE")
    check_deleted(regional, stack, retained)
    identities = global_("cloudfront").list_cloud_front_origin_access_identities()
    assert identities["CloudFrontOriginAccessIdentityList"]["Quantity"] == 0


@pytest.mark.parametrize(
    "source", ["reference-snapshot", "cdk-template"], ids=["our-engine", "official-cdk"]
)
def test_single_region_stack_creates_and_deletes(endpoint: str, source: str) -> None:
    if source == "cdk-template":
        template = json.loads(CDK_TEMPLATE.read_text())
    else:
        template = snapshot("reference-MedplumStagingStack")
    aws = Aws(endpoint, region_of(template))
    template = with_prerequisites(aws, template)
    parameters = (
        {"BootstrapVersion": "/cdk-bootstrap/hnb659fds/version"}
        if "BootstrapVersion" in template.get("Parameters", {})
        else None
    )
    deploy(aws, "MedplumStagingStack", template, parameters)

    check_regional_stack(aws, "MedplumStagingStack", template)
    check_bucket_policies(aws, "MedplumStagingStack")
    check_distributions(aws, "MedplumStagingStack", key_groups=1)
    records = aws("route53").list_resource_record_sets(
        HostedZoneId=aws("route53").list_hosted_zones()["HostedZones"][0]["Id"]
    )["ResourceRecordSets"]
    aliases = {r["Name"] for r in records if "AliasTarget" in r}
    assert aliases == {
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Route53::RecordSet"
    }

    retained = retained_buckets(aws, "MedplumStagingStack", template)
    aws("cloudformation").delete_stack(StackName="MedplumStagingStack")
    wait_for_stack(aws, "MedplumStagingStack", "DELETE_COMPLETE")
    check_deleted(aws, "MedplumStagingStack", retained)
    assert aws("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    records = aws("route53").list_resource_record_sets(
        HostedZoneId=aws("route53").list_hosted_zones()["HostedZones"][0]["Id"]
    )["ResourceRecordSets"]
    assert [r for r in records if "AliasTarget" in r] == []


def test_update_in_place_keeps_identity(endpoint: str) -> None:
    """The updates the CLI makes: scaling the service (desiredServerCount 1 -> 2), rotating
    the signing key (two keys in the group, then one), changing SSM parameters, and data
    store settings AWS modifies in place."""
    stack = "MedplumStagingStack"
    template = snapshot("reference-MedplumStagingStack")
    aws = Aws(endpoint, region_of(template))
    template = with_prerequisites(aws, template)
    deploy(aws, stack, template)
    resources = template["Resources"]
    before = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in aws("cloudformation").describe_stack_resources(StackName=stack)[
            "StackResources"
        ]
    }
    [cluster_secret] = [
        lid for lid, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"
        and "username" in r["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
    ]
    password = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=before[cluster_secret])["SecretString"]
    )["password"]

    def logical(resource_type: str) -> str:
        [logical_id] = [lid for lid, r in resources.items() if r["Type"] == resource_type]
        return logical_id

    service, key_group = logical("AWS::ECS::Service"), logical("AWS::CloudFront::KeyGroup")
    ecs_cluster = before[logical("AWS::ECS::Cluster")]
    [ecs_service] = aws("ecs").describe_services(cluster=ecs_cluster, services=[before[service]])[
        "services"
    ]
    assert ecs_service["desiredCount"] == resources[service]["Properties"]["DesiredCount"] == 1
    cluster = logical("AWS::RDS::DBCluster")
    redis = logical("AWS::ElastiCache::ReplicationGroup")
    new_key = create_public_key(aws, "rotated")
    items = resources[key_group]["Properties"]["KeyGroupConfig"]["Items"]
    resources[service]["Properties"]["DesiredCount"] = 2
    items.append(new_key)
    resources[cluster]["Properties"]["BackupRetentionPeriod"] = 14
    resources[redis]["Properties"]["CacheNodeType"] = "cache.t4g.large"
    resources["BackEndRegionParameter979C390C"]["Properties"]["Description"] = "Region"
    app_distribution = "FrontEndAppDistributionA2F700A1"
    app_config = resources[app_distribution]["Properties"]["DistributionConfig"]
    app_config["DefaultRootObject"] = "app.html"
    deploy(aws, stack, template)

    after = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in aws("cloudformation").describe_stack_resources(StackName=stack)[
            "StackResources"
        ]
    }
    assert after == before
    [ecs_service] = aws("ecs").describe_services(cluster=ecs_cluster, services=[before[service]])[
        "services"
    ]
    assert ecs_service["desiredCount"] == 2
    cloudfront = aws("cloudfront")
    group = cloudfront.get_key_group(Id=before[key_group])["KeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [before[logical("AWS::CloudFront::PublicKey")], new_key]
    [db] = aws("rds").describe_db_clusters(DBClusterIdentifier=before[cluster])["DBClusters"]
    assert db["BackupRetentionPeriod"] == 14
    [group_description] = aws("elasticache").describe_replication_groups(
        ReplicationGroupId=before[redis]
    )["ReplicationGroups"]
    assert group_description["CacheNodeType"] == "cache.t4g.large"
    distribution = cloudfront.get_distribution(Id=before[app_distribution])["Distribution"]
    assert distribution["DistributionConfig"]["DefaultRootObject"] == "app.html"
    parameter = aws("ssm").get_parameter(Name="/medplum/staging/awsRegion")["Parameter"]
    assert parameter["Version"] == 2
    # The secret's definition did not change, so neither did the password.
    secret = aws("secretsmanager").get_secret_value(SecretId=before[cluster_secret])
    assert json.loads(secret["SecretString"])["password"] == password

    # Rotation finishes: the old key leaves the group.
    resources[key_group]["Properties"]["KeyGroupConfig"]["Items"] = [new_key]
    deploy(aws, stack, template)
    group = cloudfront.get_key_group(Id=before[key_group])["KeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [new_key]


def assert_creation_fails(aws: Aws, stack: str, template: dict[str, Any], message: str) -> None:
    """The stack's only resource fails with ``message``: today moto executes CreateStack
    synchronously and the failure is the call's error; under the lifecycle emulator's
    asynchronous execution it is the reason on the resource's failure event."""
    cloudformation = aws("cloudformation")
    try:
        cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    except ClientError as error:
        assert message in str(error)
        return
    deadline = time.monotonic() + 30
    while cloudformation.describe_stacks(StackName=stack)["Stacks"][0][
        "StackStatus"
    ].endswith("_IN_PROGRESS"):
        assert time.monotonic() < deadline, "stack never settled"
        time.sleep(0.2)
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    reasons = [event.get("ResourceStatusReason") or "" for event in events]
    assert any(message in reason for reason in reasons), reasons


def test_record_set_in_missing_zone_fails_the_resource(endpoint: str) -> None:
    record = {
        "Type": "AWS::Route53::RecordSet",
        "Properties": {
            "HostedZoneId": "Z0MISSING",
            "Name": "api.example.org.",
            "Type": "CNAME",
            "TTL": "60",
            "ResourceRecords": ["example.org"],
        },
    }
    assert_creation_fails(
        Aws(endpoint, "us-east-1"),
        "BrokenRecord",
        {"Resources": {"Record": record}},
        "No hosted zone found with ID: Z0MISSING",
    )


def test_key_group_refuses_unknown_public_key(endpoint: str) -> None:
    key_group = {
        "Type": "AWS::CloudFront::KeyGroup",
        "Properties": {"KeyGroupConfig": {"Name": "keys", "Items": ["K0NOSUCHKEY"]}},
    }
    assert_creation_fails(
        Aws(endpoint, "us-east-1"),
        "BrokenKeyGroup",
        {"Resources": {"Keys": key_group}},
        "The specified public key K0NOSUCHKEY does not exist.",
    )


def test_a_public_key_name_or_caller_reference_in_use_is_refused(endpoint: str) -> None:
    """As AWS: PublicKeyAlreadyExists (409); moto alone makes a duplicate."""
    aws = Aws(endpoint, "us-east-1")
    create_public_key(aws, "signing")
    encoded = aws("cloudfront").list_public_keys()["PublicKeyList"]["Items"][0]["EncodedKey"]
    for ref, name in [("signing", "other-name"), ("other-ref", "signing")]:
        with pytest.raises(ClientError) as caught:
            aws("cloudfront").create_public_key(
                PublicKeyConfig={"CallerReference": ref, "Name": name, "EncodedKey": encoded}
            )
        error = caught.value.response
        assert error["Error"]["Code"] == "PublicKeyAlreadyExists"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert aws("cloudfront").list_public_keys()["PublicKeyList"]["Quantity"] == 1


def test_a_public_key_in_a_key_group_or_without_its_etag_is_not_deleted(endpoint: str) -> None:
    """As AWS: PublicKeyInUse (409) while a key group trusts the key, InvalidIfMatchVersion
    without its ETag; moto alone deleted the key in either case."""
    cf = Aws(endpoint, "us-east-1")("cloudfront")
    key = create_public_key(Aws(endpoint, "us-east-1"), "signing")
    group = cf.create_key_group(KeyGroupConfig={"Name": "g", "Items": [key]})
    etag = cf.get_public_key(Id=key)["ETag"]
    with pytest.raises(ClientError) as caught:
        cf.delete_public_key(Id=key, IfMatch=etag)
    assert caught.value.response["Error"]["Code"] == "PublicKeyInUse"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert group["KeyGroup"]["KeyGroupConfig"]["Items"] == [key]
    # moto has no DeleteKeyGroup: a second key, in no group, for the ETag rule.
    free = create_public_key(Aws(endpoint, "us-east-1"), "free")
    with pytest.raises(ClientError) as caught:
        cf.delete_public_key(Id=free, IfMatch="stale")
    assert caught.value.response["Error"]["Code"] == "InvalidIfMatchVersion"
    cf.delete_public_key(Id=free, IfMatch=cf.get_public_key(Id=free)["ETag"])
    assert [k["Id"] for k in cf.list_public_keys()["PublicKeyList"]["Items"]] == [key]


def test_an_existing_ses_identity_is_not_created_again(endpoint: str) -> None:
    """As AWS: AlreadyExistsException; moto alone accepts the repeat."""
    ses = Aws(endpoint, "us-east-1")("sesv2")
    ses.create_email_identity(EmailIdentity="support@example.com")
    with pytest.raises(ClientError) as caught:
        ses.create_email_identity(EmailIdentity="support@example.com")
    assert caught.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_ses_get_account_answers_as_a_new_account_in_the_sandbox(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto has no GetAccount; AWS answers it for every account, new ones in the sandbox."""
    ses = Aws(endpoint, "us-east-1")("sesv2")
    account = ses.get_account()
    assert account["ProductionAccessEnabled"] is False
    assert account["SendingEnabled"] is True
    assert account["SendQuota"]["Max24HourSend"] == 200.0
    monkeypatch.setenv("MEDPLUM_EMULATOR_SES_PRODUCTION", "1")
    assert ses.get_account()["ProductionAccessEnabled"] is True


def test_custom_resource_succeeds_without_invoking_its_handler(endpoint: str) -> None:
    aws = Aws(endpoint, "us-east-1")
    template = {
        "Resources": {
            "Provider": {
                "Type": "Custom::AWSCDKOpenIdConnectProvider",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:absent",
                    "Url": "https://example.org",
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Provider", "Arn"]}}},
    }
    deploy(aws, "Custom", template)
    description = wait_for_stack(aws, "Custom", "CREATE_COMPLETE")
    assert outputs(description) == {"Arn": ""}
    [physical_id] = physical_ids(aws, "Custom", "Custom::AWSCDKOpenIdConnectProvider")
    assert physical_id.startswith("Custom-Provider-")
    aws("cloudformation").delete_stack(StackName="Custom")
    wait_for_stack(aws, "Custom", "DELETE_COMPLETE")


def test_a_missing_public_key_is_no_such_public_key(endpoint: str) -> None:
    # As AWS: 404 NoSuchPublicKey on get and delete (moto answered 500, and accepted the delete).
    aws = Aws(endpoint, "us-east-1")
    cloudfront = aws("cloudfront")
    for call in (cloudfront.get_public_key, cloudfront.delete_public_key):
        with pytest.raises(ClientError) as raised:
            call(Id="K000000000000")
        assert raised.value.response["Error"]["Code"] == "NoSuchPublicKey"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    key = create_public_key(aws, "r")
    assert cloudfront.get_public_key(Id=key)["PublicKey"]["PublicKeyConfig"]["CallerReference"] == "r"
    cloudfront.delete_public_key(Id=key, IfMatch=cloudfront.get_public_key(Id=key)["ETag"])
    with pytest.raises(ClientError):
        cloudfront.get_public_key(Id=key)
