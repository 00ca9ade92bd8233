"""AWS::CloudTrail::Trail.

Owns: trails in moto's cloudtrail backend (visible to DescribeTrails, GetTrail,
GetTrailStatus, ListTags, GetEventSelectors), created with CreateTrail's checks moto has (name
rules, the bucket exists, an ``SnsTopicName`` topic exists) plus the ones it lacks, which AWS
makes before it creates the trail:

* the bucket policy must let the CloudTrail service principal write the logs: an ``Allow``
  statement for ``cloudtrail.amazonaws.com`` (or ``*``) whose actions cover ``s3:PutObject`` and
  whose resources cover ``arn:aws:s3:::<bucket>/[<S3KeyPrefix>/]AWSLogs/<account>/...``;
  otherwise ``InsufficientS3BucketPolicyException`` ("Incorrect S3 bucket policy is detected
  for bucket: ..."). Conditions are not evaluated, ``s3:GetBucketAcl`` is not required, and
  organization trails' ``AWSLogs/<org id>/`` paths are not accepted in place of the account's;
* ``CloudWatchLogsLogGroupArn`` and ``CloudWatchLogsRoleArn`` come together; the log group
  (ARN with or without the trailing ``:*``) must exist in moto's logs backend, the role in
  moto's iam backend;
* a trail of the same name in the region is ``TrailAlreadyExistsException`` (moto's
  CreateTrail overwrites it).

``IsLogging`` (required, as in the schema) starts or stops logging (GetTrailStatus). Ref is the
trail name, generated as ``<stack>-<logical id>-<random>`` (at most 128 characters) without a
``TrailName``; GetAtt ``Arn`` and ``SnsTopicArn`` (empty without a topic; ``SnsTopicName``
may be a name or an ARN in the trail's region). Updates other than ``TrailName`` are in place
(UpdateTrail, StartLogging/StopLogging, event and insight selectors, tags), validated again.
Delete removes the trail.

Does not model: delivering any log file or event, KMS key checks, the IAM role's permissions
on the log group, shadow trails' name collisions in other regions, and organization trails.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.cloudtrail.models import cloudtrail_backends
from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends

from ._common import (
    Context,
    ResourceHandlerError,
    StackResource,
    as_bool,
    generated_name,
    register,
    require,
)

_SERVICE = "CloudTrail"
_PRINCIPAL = "cloudtrail.amazonaws.com"


def _backend(ctx: Context) -> Any:
    return cloudtrail_backends[ctx.account_id][ctx.region_name]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _grants_cloudtrail_put(statement: dict[str, Any], object_arn: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, dict)
        and (
            _PRINCIPAL in _as_list(principal.get("Service"))
            or "*" in _as_list(principal.get("AWS"))
        )
    ):
        return False
    actions = [str(action).lower() for action in _as_list(statement.get("Action"))]
    if not any(fnmatch.fnmatchcase("s3:putobject", action) for action in actions):
        return False
    return any(fnmatch.fnmatchcase(object_arn, str(r)) for r in _as_list(statement.get("Resource")))


def _check_bucket(ctx: Context, properties: dict[str, Any]) -> None:
    bucket_name = properties["S3BucketName"]
    bucket = s3_backends[ctx.account_id][ctx.partition].buckets.get(bucket_name)
    if bucket is None:
        raise ResourceHandlerError(
            f"S3 bucket {bucket_name} does not exist! (S3BucketDoesNotExistException)",
            service=_SERVICE,
        )
    prefix = properties.get("S3KeyPrefix")
    key = f"{prefix}/" if prefix else ""
    object_arn = (
        f"arn:{ctx.partition}:s3:::{bucket_name}/{key}AWSLogs/{ctx.account_id}/CloudTrail/"
        f"{ctx.region_name}/log.json.gz"
    )
    try:
        policy = json.loads(bucket.policy) if bucket.policy else {}
    except ValueError:
        policy = {}
    statements = _as_list(policy.get("Statement"))
    if not any(_grants_cloudtrail_put(s, object_arn) for s in statements if isinstance(s, dict)):
        raise ResourceHandlerError(
            f"Incorrect S3 bucket policy is detected for bucket: {bucket_name} "
            "(InsufficientS3BucketPolicyException)",
            service=_SERVICE,
        )


def _check_cloudwatch_logs(ctx: Context, properties: dict[str, Any]) -> None:
    group_arn = properties.get("CloudWatchLogsLogGroupArn")
    role_arn = properties.get("CloudWatchLogsRoleArn")
    if not group_arn and not role_arn:
        return
    if not group_arn or not role_arn:
        raise ResourceHandlerError(
            "You must specify a CloudWatchLogsLogGroupArn and a CloudWatchLogsRoleArn together. "
            "(InvalidCloudWatchLogsLogGroupArnException)",
            service=_SERVICE,
        )
    # arn:aws:logs:<region>:<account>:log-group:<name>[:*]
    parts = str(group_arn).split(":")
    name = parts[6] if len(parts) >= 7 and parts[2] == "logs" and parts[5] == "log-group" else ""
    try:
        groups = logs_backends[ctx.account_id][parts[3]].groups if name else {}
    except KeyError:  # not a region
        groups = {}
    if name not in groups or parts[4] != ctx.account_id:
        raise ResourceHandlerError(
            f"CloudTrail cannot validate the specified log group ARN {group_arn}: the log group "
            "does not exist. (InvalidCloudWatchLogsLogGroupArnException)",
            service=_SERVICE,
        )
    try:
        iam_backends[ctx.account_id][ctx.partition].get_role_by_arn(role_arn)
    except Exception as error:  # moto's NotFoundException
        raise ResourceHandlerError(
            f"CloudTrail cannot validate the specified role ARN {role_arn}: the role does not "
            "exist. (InvalidCloudWatchLogsRoleArnException)",
            service=_SERVICE,
        ) from error


def _topic_name(ctx: Context, properties: dict[str, Any]) -> str | None:
    """The topic's name (moto builds the ARN from it in the trail's region); it must exist."""
    topic = properties.get("SnsTopicName")
    if not topic:
        return None
    name = str(topic).split(":")[-1]
    arn = f"arn:{ctx.partition}:sns:{ctx.region_name}:{ctx.account_id}:{name}"
    if arn not in sns_backends[ctx.account_id][ctx.region_name].topics:
        raise ResourceHandlerError(
            "SNS Topic does not exist or the topic policy is incorrect! "
            "(InsufficientSnsTopicPolicyException)",
            service=_SERVICE,
        )
    return name


@register
class Trail(StackResource):
    CFN_TYPE = "AWS::CloudTrail::Trail"
    NAME_PROPERTY = "TrailName"
    ATTRIBUTES = ("Arn", "SnsTopicArn")

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=128)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Trail:
        require(ctx, properties, "S3BucketName", "IsLogging")
        name = cls.resource_name(ctx, name, properties)
        backend = _backend(ctx)
        if name in backend.trails:
            raise ResourceHandlerError(
                f"Trail {name} already exists for customer: {ctx.account_id} "
                "(TrailAlreadyExistsException)",
                service=_SERVICE,
            )
        _check_bucket(ctx, properties)
        _check_cloudwatch_logs(ctx, properties)
        topic = _topic_name(ctx, properties)
        try:
            backend.create_trail(
                name=name,
                bucket_name=properties["S3BucketName"],
                s3_key_prefix=properties.get("S3KeyPrefix"),
                sns_topic_name=topic,
                is_global=as_bool(properties.get("IncludeGlobalServiceEvents", True)),
                is_multi_region=as_bool(properties.get("IsMultiRegionTrail", False)),
                log_validation=as_bool(properties.get("EnableLogFileValidation", False)),
                is_org_trail=as_bool(properties.get("IsOrganizationTrail", False)),
                cw_log_group_arn=properties.get("CloudWatchLogsLogGroupArn"),
                cw_role_arn=properties.get("CloudWatchLogsRoleArn"),
                kms_key_id=properties.get("KMSKeyId"),
                tags_list=list(properties.get("Tags") or []),
            )
        except ServiceException as error:
            raise ResourceHandlerError(
                f"{error.message} ({error.code})", service=_SERVICE
            ) from error
        trail = cls(name, properties)
        trail.ctx = ctx
        trail._apply_selectors_and_logging(properties)
        return trail

    def _apply_selectors_and_logging(self, properties: dict[str, Any]) -> None:
        backend = _backend(self.ctx)
        trail = backend.get_trail(self.name)
        trail.event_selectors = list(properties.get("EventSelectors") or [])
        trail.advanced_event_selectors = list(properties.get("AdvancedEventSelectors") or [])
        trail.insight_selectors = list(properties.get("InsightSelectors") or [])
        if as_bool(properties["IsLogging"]):
            if not trail.status.is_logging:
                backend.start_logging(self.name)
        elif trail.status.is_logging:
            backend.stop_logging(self.name)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties.get("TrailName") != self.properties.get("TrailName"):
            return super().update(new_name, properties)
        require(self.ctx, properties, "S3BucketName", "IsLogging")
        _check_bucket(self.ctx, properties)
        _check_cloudwatch_logs(self.ctx, properties)
        topic = _topic_name(self.ctx, properties)
        backend = _backend(self.ctx)
        try:
            backend.update_trail(
                name=self.name,
                s3_bucket_name=properties["S3BucketName"],
                s3_key_prefix=properties.get("S3KeyPrefix", ""),
                sns_topic_name=topic or "",
                include_global_service_events=as_bool(
                    properties.get("IncludeGlobalServiceEvents", True)
                ),
                is_multi_region_trail=as_bool(properties.get("IsMultiRegionTrail", False)),
                enable_log_file_validation=as_bool(
                    properties.get("EnableLogFileValidation", False)
                ),
                is_organization_trail=as_bool(properties.get("IsOrganizationTrail", False)),
                cw_log_group_arn=properties.get("CloudWatchLogsLogGroupArn", ""),
                cw_role_arn=properties.get("CloudWatchLogsRoleArn", ""),
                kms_key_id=properties.get("KMSKeyId", ""),
            )
        except ServiceException as error:
            raise ResourceHandlerError(
                f"{error.message} ({error.code})", service=_SERVICE
            ) from error
        arn = backend.get_trail(self.name).arn
        backend.tagging_service.delete_all_tags_for_resource(arn)
        backend.tagging_service.tag_resource(arn, list(properties.get("Tags") or []))
        self._apply_selectors_and_logging(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        backend = _backend(self.ctx)
        if self.name in backend.trails:
            backend.tagging_service.delete_all_tags_for_resource(backend.trails[self.name].arn)
        backend.delete_trail(self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def attributes(self) -> dict[str, Any]:
        trail = _backend(self.ctx).get_trail(self.name)
        return {"Arn": trail.arn, "SnsTopicArn": trail.topic_arn or ""}
