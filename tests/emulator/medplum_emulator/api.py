"""The CloudFormation API actions the emulator answers itself: every patch to moto, in one place.

``install()`` replaces methods of moto's ``CloudFormationResponse`` (the query-protocol handler
moto's server dispatches to), so requests keep moto's parsing, authentication and XML
rendering, and errors keep its error envelope. Each handler reads the request, calls
``lifecycle`` and returns the AWS response shape as plain dicts. The stack-set actions and
ValidateTemplate stay moto's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from . import changes, drift, lifecycle, rules, templates
from .control import REQUESTS

EVENTS_PAGE = 100

_PATCHES: dict[str, Callable[..., Any]] = {}


def _patch(function: Callable[..., Any]) -> Callable[..., Any]:
    _PATCHES[function.__name__] = function
    return function


def _backend(self: CloudFormationResponse) -> lifecycle.Backend:
    return lifecycle.STORE.backend(self.current_account, self.region)


def _log(self: CloudFormationResponse) -> dict[str, Any]:
    return getattr(self, "_medplum_log", {})


def _request(self: CloudFormationResponse, allow_previous: bool) -> dict[str, Any]:
    """The template and settings of a CreateChangeSet/CreateStack/UpdateStack request."""
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    use_previous = self._get_bool_param("UsePreviousTemplate", False)
    if use_previous and (body or url):
        raise ValidationError(message="You cannot specify both usePreviousTemplate and Template Body/Template URL.")
    if body:
        rules.check_template_body_size(body)
    elif url:
        body = rules.fetch_template_url(url, self.current_account, self.partition)
    elif not (use_previous and allow_previous):
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    if body:
        _log(self)["templateParameters"] = templates.declared_parameters(templates.parse(body))
    tags = self._get_param("Tags")
    return {
        "template_body": body,
        "parameters": self._get_param("Parameters", []),
        "capabilities": self._get_param("Capabilities", []),
        "tags": None if tags is None else {t["Key"]: t["Value"] for t in tags},
        "description": self._get_param("Description"),
        "notification_arns": self._get_param("NotificationARNs", []),
        "role_arn": self._get_param("RoleARN"),
    }


def _parameters(template: dict[str, Any], inputs: dict[str, str], resolved: dict[str, str]) -> list[dict[str, Any]]:
    declared = templates.declared_parameters(template)
    shown = []
    for key, value in inputs.items():
        declaration = declared.get(key, {})
        entry = {"ParameterKey": key, "ParameterValue": "****" if declaration.get("NoEcho") else value}
        if str(declaration.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
            entry["ResolvedValue"] = resolved.get(key)
        shown.append(entry)
    return shown


def _tags(tags: dict[str, str]) -> list[dict[str, str]] | None:
    return [{"Key": k, "Value": v} for k, v in tags.items()] or None


def _stack_json(stack: lifecycle.Stack) -> dict[str, Any]:
    return {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "ChangeSetId": stack.change_set_id,
        "Description": stack.description,
        "Parameters": _parameters(stack.template, stack.inputs, stack.resolved) or None,
        "CreationTime": stack.creation_time,
        "DeletionTime": stack.deletion_time,
        "LastUpdatedTime": stack.last_updated_time,
        "RollbackConfiguration": {},
        "StackStatus": stack.status,
        "StackStatusReason": stack.status_reason,
        "DisableRollback": stack.disable_rollback,
        "NotificationARNs": stack.notification_arns,
        "Capabilities": stack.capabilities or None,
        "Outputs": stack.outputs or None,
        "RoleARN": stack.role_arn,
        "Tags": _tags(stack.tags),
        "EnableTerminationProtection": False,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }


def _resource_json(stack: lifecycle.Stack, resource: lifecycle.Resource) -> dict[str, Any]:
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": resource.logical_id,
        "PhysicalResourceId": resource.physical_id,
        "ResourceType": resource.type,
        "Timestamp": resource.updated,
        "LastUpdatedTimestamp": resource.updated,
        "ResourceStatus": resource.status,
        "ResourceStatusReason": resource.reason,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def _change_set_summary(change_set: lifecycle.ChangeSet) -> dict[str, Any]:
    return {
        "StackId": change_set.stack.stack_id,
        "StackName": change_set.stack.name,
        "ChangeSetId": change_set.change_set_id,
        "ChangeSetName": change_set.name,
        "ExecutionStatus": change_set.execution_status,
        "Status": change_set.status,
        "StatusReason": change_set.status_reason,
        "CreationTime": change_set.creation_time,
        "Description": change_set.description,
        "IncludeNestedStacks": False,
    }


# Patched actions --------------------------------------------------------------------------


@_patch
def call_action(self: CloudFormationResponse) -> Any:
    """Logs every CloudFormation call (control.REQUESTS), with the error it was answered with."""
    self._medplum_log = REQUESTS.start(self._get_action(), self.region, self._get_params())
    status, headers, body = _ORIGINAL_CALL_ACTION(self)
    if int(status) >= 400:
        text = body.decode() if isinstance(body, bytes) else str(body)
        code, message = re.search(r"<Code>(.*?)</Code>", text, re.S), re.search(r"<Message>(.*?)</Message>", text, re.S)
        self._medplum_log["error"] = {
            "code": code.group(1) if code else str(status),
            "message": message.group(1) if message else text,
        }
    return status, headers, body


@_patch
def create_change_set(self: CloudFormationResponse) -> ActionResult:
    change_set_type = self._get_param("ChangeSetType", "UPDATE")
    request = _request(self, allow_previous=change_set_type == "UPDATE")
    change_set = _backend(self).create_change_set(
        self._get_param("StackName"), self._get_param("ChangeSetName"), change_set_type, request
    )
    return ActionResult({"Id": change_set.change_set_id, "StackId": change_set.stack.stack_id})


@_patch
def describe_change_set(self: CloudFormationResponse) -> ActionResult:
    change_set = _backend(self).get_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
    result = _change_set_summary(change_set)
    result.update(
        Parameters=_parameters(change_set.template, change_set.inputs, change_set.resolved) or None,
        NotificationARNs=change_set.notification_arns,
        Capabilities=change_set.capabilities or None,
        Tags=_tags(change_set.tags),
        # CloudFormation lists the changes only once it has computed them.
        Changes=changes.shown(change_set.changes, self._get_bool_param("IncludePropertyValues", False))
        if change_set.ready
        else [],
    )
    return ActionResult(result)


@_patch
def execute_change_set(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    change_set = backend.get_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
    backend.execute_change_set(
        change_set,
        token=self._get_param("ClientRequestToken"),
        retain_except_on_create=self._get_bool_param("RetainExceptOnCreate", False),
        disable_rollback=self._get_bool_param("DisableRollback", False),
    )
    return EmptyResult()


@_patch
def delete_change_set(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    backend.delete_change_set(backend.get_change_set(self._get_param("ChangeSetName"), self._get_param("StackName")))
    return EmptyResult()


@_patch
def list_change_sets(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    stack = backend.get_stack(self._get_param("StackName"))
    summaries = [
        _change_set_summary(cs) for cs in backend.change_sets.values() if cs.stack is stack and not cs.internal
    ]
    return ActionResult({"Summaries": summaries})


@_patch
def create_stack(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).create_stack(
        self._get_param("StackName"),
        _request(self, allow_previous=False),
        token=self._get_param("ClientRequestToken"),
        disable_rollback=self._get_bool_param("DisableRollback", False),
    )
    return ActionResult({"StackId": stack.stack_id})


@_patch
def update_stack(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).update_stack(
        self._get_param("StackName"),
        _request(self, allow_previous=True),
        token=self._get_param("ClientRequestToken"),
        disable_rollback=self._get_bool_param("DisableRollback", False),
    )
    return ActionResult({"StackId": stack.stack_id})


@_patch
def delete_stack(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    stack = backend.find_stack(self._get_param("StackName"))
    if stack is not None:  # deleting a stack that does not exist succeeds, as in AWS
        backend.delete_stack(stack, self._get_param("ClientRequestToken"))
    return EmptyResult()


@_patch
def cancel_update_stack(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    backend.cancel_update(backend.get_stack(self._get_param("StackName")))
    return EmptyResult()


@_patch
def describe_stacks(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    name = self._get_param("StackName")
    stacks = [backend.get_stack(name)] if name else list(backend.stacks.values())
    return ActionResult({"Stacks": [_stack_json(s) for s in stacks]})


@_patch
def list_stacks(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    wanted = set(self._get_param("StackStatusFilter", []))
    summaries = [
        {
            "StackId": s.stack_id,
            "StackName": s.name,
            "TemplateDescription": s.description,
            "CreationTime": s.creation_time,
            "LastUpdatedTime": s.last_updated_time,
            "DeletionTime": s.deletion_time,
            "StackStatus": s.status,
            "StackStatusReason": s.status_reason,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        for s in [*backend.stacks.values(), *backend.deleted.values()]
        if not wanted or s.status in wanted
    ]
    return ActionResult({"StackSummaries": summaries})


@_patch
def describe_stack_events(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    events = stack.events[::-1]
    start = int(self._get_param("NextToken") or 0)
    page = events[start : start + EVENTS_PAGE]
    more = start + EVENTS_PAGE < len(events)
    return ActionResult({"StackEvents": page, "NextToken": str(start + EVENTS_PAGE) if more else None})


@_patch
def describe_stack_resources(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    physical_id = self._get_param("PhysicalResourceId")
    resources = [
        _resource_json(stack, r)
        for r in stack.resources.values()
        if logical_id in (None, r.logical_id) and physical_id in (None, r.physical_id)
    ]
    return ActionResult({"StackResources": resources})


@_patch
def describe_stack_resource(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    resource = stack.resources.get(logical_id)
    if resource is None:
        raise ValidationError(message=f"Resource {logical_id} does not exist for stack {stack.name}")
    return ActionResult({"StackResourceDetail": _resource_json(stack, resource)})


@_patch
def list_stack_resources(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    return ActionResult({"StackResourceSummaries": [_resource_json(stack, r) for r in stack.resources.values()]})


@_patch
def get_template(self: CloudFormationResponse) -> ActionResult:
    backend = _backend(self)
    change_set_name = self._get_param("ChangeSetName")
    if change_set_name:
        body = backend.get_change_set(change_set_name, self._get_param("StackName")).template_body
    else:
        body = backend.get_stack(self._get_param("StackName")).template_body
    return ActionResult({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]})


@_patch
def get_template_summary(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    if not name:
        return _ORIGINAL_GET_TEMPLATE_SUMMARY(self)
    stack = _backend(self).get_stack(name)
    if stack.status == "REVIEW_IN_PROGRESS":
        raise ValidationError(message="GetTemplateSummary cannot be called on REVIEW_IN_PROGRESS stacks.")
    parameters = [
        {
            "ParameterKey": key,
            "DefaultValue": None if "Default" not in d else str(d["Default"]),
            "ParameterType": d.get("Type", "String"),
            "NoEcho": bool(d.get("NoEcho", False)),
            "Description": d.get("Description"),
            "ParameterConstraints": {"AllowedValues": d["AllowedValues"]} if "AllowedValues" in d else {},
        }
        for key, d in templates.declared_parameters(stack.template).items()
    ]
    return ActionResult(
        {
            "Parameters": parameters,
            "Description": stack.template.get("Description"),
            "Capabilities": stack.capabilities or None,
            "ResourceTypes": sorted({r.get("Type") for r in templates.resources(stack.template).values()}),
            "Version": stack.template.get("AWSTemplateFormatVersion"),
        }
    )


@_patch
def list_exports(self: CloudFormationResponse) -> ActionResult:
    exports = [
        {"ExportingStackId": e.exporting_stack_id, "Name": e.name, "Value": e.value}
        for e in _backend(self).exports.values()
    ]
    return ActionResult({"Exports": exports})


@_patch
def detect_stack_drift(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    return ActionResult({"StackDriftDetectionId": drift.detect(self.current_account, self.region, stack)})


@_patch
def describe_stack_drift_detection_status(self: CloudFormationResponse) -> ActionResult:
    return ActionResult(drift.status(self._get_param("StackDriftDetectionId")))


@_patch
def describe_stack_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    stack = _backend(self).get_stack(self._get_param("StackName"))
    filters = self._get_param("StackResourceDriftStatusFilters", [])
    drifts = drift.resource_drifts(self.current_account, self.region, stack, filters)
    return ActionResult({"StackResourceDrifts": drifts})


_ORIGINAL_CALL_ACTION = CloudFormationResponse.call_action
_ORIGINAL_GET_TEMPLATE_SUMMARY = CloudFormationResponse.get_template_summary


def install() -> None:
    """Applies the patches (idempotent)."""
    for name, function in _PATCHES.items():
        setattr(CloudFormationResponse, name, function)
    # moto's transformers reshape its own model objects; these handlers return AWS shapes already.
    CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
        key: transform
        for key, transform in CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
        if key.startswith("DescribeStackSetOutput")
    }
