"""CloudFormation's refusals at CreateChangeSet, CreateStack and UpdateStack, with AWS's wording.

moto accepts what CloudFormation refuses (a value that breaks ``AllowedPattern``, a template over
the size limit, IAM resources without ``CAPABILITY_IAM``, a change set on a stack that is busy).
Each check here raises the error CloudFormation returns, so the deploy engine meets the refusal
in tests and not first in a real account. The functions take plain values and moto backends,
not requests, so they are tested directly.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import unquote, urlparse

from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError

from . import templates

MAX_TEMPLATE_BODY_BYTES = 51_200
MAX_TEMPLATE_URL_BYTES = 1_048_576
MAX_RESOURCES = 500

# States from which no change set may be made (AWS: "... is in X state and can not be updated.").
_NOT_UPDATABLE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"})

# IAM types whose name property makes them "named" (they need CAPABILITY_NAMED_IAM).
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}

_S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?(?:\.dualstack)?\.amazonaws\.com$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


def check_template_body_size(body: str) -> None:
    """TemplateBody is limited to 51,200 bytes by the API's own input constraint."""
    if len(body.encode()) > MAX_TEMPLATE_BODY_BYTES:
        raise ValidationError(
            message=(
                f"1 validation error detected: Value '{body}' at 'templateBody' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY_BYTES}"
            )
        )


def s3_location(url: str) -> tuple[str, str]:
    """The ``(bucket, key)`` a TemplateURL names, path style or virtual-hosted style.

    Accepted: ``https://s3[.-region].amazonaws.com/bucket/key``,
    ``https://bucket.s3[.-region].amazonaws.com/key``, and path style on a loopback host
    (``http://127.0.0.1:PORT/bucket/key``, this emulator's own S3). Anything else is what
    CloudFormation calls an unsupported URL.
    """
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    path = unquote(parsed.path.lstrip("/"))
    match = _S3_HOST.match(host)
    if parsed.scheme in ("http", "https") and match and match.group("bucket"):
        bucket, key = match.group("bucket"), path
    elif parsed.scheme in ("http", "https") and (match or host in _LOOPBACK_HOSTS) and "/" in path:
        bucket, key = path.split("/", 1)
    else:
        raise ValidationError(message="TemplateURL must be a supported URL.")
    if not bucket or not key:
        raise ValidationError(message="TemplateURL must be a supported URL.")
    return bucket, key


def fetch_template_url(url: str, account_id: str, partition: str) -> str:
    """Reads the template a TemplateURL names from moto's S3, refusing one over 1 MB."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import s3_backends

    bucket, key = s3_location(url)
    try:
        obj = s3_backends[account_id][partition].get_object(bucket, key)
    except S3ClientError as e:
        raise ValidationError(
            message=(
                f"S3 error: {e.message}\nFor more information check "
                "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
            )
        ) from e
    if obj is None:
        raise ValidationError(
            message=(
                "S3 error: The specified key does not exist.\nFor more information check "
                "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
            )
        )
    body = obj.value
    if len(body) > MAX_TEMPLATE_URL_BYTES:
        raise ValidationError(message=f"Template may not exceed {MAX_TEMPLATE_URL_BYTES} bytes in size.")
    return body.decode("utf-8")


def check_resource_count(resources_json: dict[str, Any]) -> None:
    if not resources_json:
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    if len(resources_json) > MAX_RESOURCES:
        raise ValidationError(
            message=(
                f"Template format error: Number of resources, {len(resources_json)}, is greater than "
                f"maximum allowed, {MAX_RESOURCES}"
            )
        )


def check_references(template: dict[str, Any]) -> None:
    """Every Ref, GetAtt, Sub placeholder and DependsOn names something the template declares."""
    resources_json = templates.resources(template)
    known = set(resources_json) | set(templates.declared_parameters(template)) | templates.PSEUDO_PARAMETERS
    for block, values in (("Resources", resources_json), ("Outputs", template.get("Outputs") or {})):
        unresolved: list[str] = []
        for value in values.values():
            names = [name for name, _ in templates.references(value)]
            if block == "Resources":
                names += templates.depends_on(value)
            unresolved += [n for n in names if n not in known and n not in unresolved]
        if unresolved:
            raise ValidationError(
                message=(
                    f"Template format error: Unresolved resource dependencies [{', '.join(unresolved)}] "
                    f"in the {block} block of the template"
                )
            )


def check_type_changes(before: dict[str, Any], after: dict[str, Any]) -> None:
    """A logical ID keeps its resource type across updates."""
    changed = [lid for lid, r in after.items() if lid in before and before[lid].get("Type") != r.get("Type")]
    if changed:
        raise ValidationError(
            message=(
                "Update of resource type is not permitted. The new template modifies resource type of "
                f"the following resources: [{', '.join(changed)}]"
            )
        )


def check_capabilities(resources_json: dict[str, Any], capabilities: list[str]) -> None:
    """IAM resources need CAPABILITY_IAM; IAM resources with explicit names need CAPABILITY_NAMED_IAM."""
    types = [(r.get("Type", ""), r.get("Properties") or {}) for r in resources_json.values()]
    iam = [(t, p) for t, p in types if t.startswith("AWS::IAM::")]
    if not iam or "CAPABILITY_NAMED_IAM" in capabilities:
        return
    named = any(_IAM_NAME_PROPERTIES.get(t) in p for t, p in iam)
    if named:
        raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_NAMED_IAM]")
    if "CAPABILITY_IAM" not in capabilities:
        raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_IAM]")


def check_change_set_target(
    stack: Any | None, stack_name: str, change_set_type: str
) -> None:
    """Whether a change set of ``change_set_type`` may be made for ``stack`` (None: no such stack).

    ``stack`` needs ``status`` and ``stack_id``. A REVIEW_IN_PROGRESS stack (made by an earlier
    CREATE change set that was never executed) takes another CREATE change set.
    """
    if change_set_type == "CREATE":
        if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
        return
    if stack is None:
        raise ValidationError(message=f"Stack [{stack_name}] does not exist")
    check_updatable(stack)


def check_updatable(stack: Any) -> None:
    """A stack busy with an operation, or left in a state only deletion leaves, takes no update."""
    if stack.status.endswith("_IN_PROGRESS") or stack.status in _NOT_UPDATABLE:
        raise ValidationError(
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
        )


def resolve_parameters(
    declared: dict[str, dict[str, Any]],
    supplied: list[dict[str, Any]],
    previous: dict[str, str] | None,
    ssm_lookup: Any,
) -> tuple[dict[str, str], dict[str, str]]:
    """Checks the parameters sent against the template's declarations.

    ``supplied`` is the request's ``Parameters`` list; ``previous`` the stack's current input
    values (None for a new stack); ``ssm_lookup(name)`` returns an SSM parameter's value or None.
    Returns ``(inputs, resolved)``: the values as CloudFormation records them on the stack (the
    SSM parameter names for SSM types), and the values the template sees (SSM values resolved).
    """
    inputs: dict[str, str] = {}
    for param in supplied:
        key = param["ParameterKey"]
        use_previous = str(param.get("UsePreviousValue", "")).lower() == "true"
        if use_previous and param.get("ParameterValue") not in (None, ""):
            raise ValidationError(
                message=(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true "
                    "and non empty value for a parameter"
                )
            )
        if use_previous:
            if previous is None or key not in previous:
                raise ValidationError(
                    message=(
                        f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                        "true for a parameter key not in the previous template"
                    )
                )
            inputs[key] = previous[key]
        else:
            inputs[key] = "" if param.get("ParameterValue") is None else str(param["ParameterValue"])

    unknown = [key for key in inputs if key not in declared]
    if unknown:
        raise ValidationError(message=f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    for key, declaration in declared.items():
        if key not in inputs and "Default" in declaration:
            inputs[key] = _as_text(declaration["Default"])
    missing = [key for key in declared if key not in inputs]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")

    for key, declaration in declared.items():
        check_parameter_value(key, declaration, inputs[key])

    resolved = dict(inputs)
    unresolvable = []
    for key, declaration in declared.items():
        if str(declaration.get("Type", "String")).startswith("AWS::SSM::Parameter::Value<"):
            value = ssm_lookup(inputs[key])
            if value is None:
                unresolvable.append(inputs[key])
            else:
                resolved[key] = value
    if unresolvable:
        raise ValidationError(
            message=f"Unable to fetch parameters [{','.join(unresolvable)}] from parameter store for this account."
        )
    return inputs, resolved


def check_parameter_value(key: str, declaration: dict[str, Any], value: str) -> None:
    """One parameter's value against its Type, AllowedValues, AllowedPattern, lengths and bounds.

    With a ``ConstraintDescription``, CloudFormation reports that instead of the constraint.
    """
    type_ = str(declaration.get("Type", "String"))
    is_list = type_.startswith("List<") or type_ == "CommaDelimitedList"
    items = value.split(",") if is_list else [value]
    is_number = type_ in ("Number", "List<Number>")

    def refuse(default_message: str) -> None:
        described = declaration.get("ConstraintDescription")
        if described:
            raise ValidationError(message=f"Parameter '{key}' failed to satisfy constraint: {described}")
        raise ValidationError(message=default_message)

    for item in items:
        if is_number and not _is_number(item):
            raise ValidationError(message=f"Parameter '{key}' must be a number")
        allowed = declaration.get("AllowedValues")
        if allowed is not None and item not in [_as_text(v) for v in allowed]:
            refuse(f"Parameter '{key}' must be one of AllowedValues")
        pattern = declaration.get("AllowedPattern")
        if pattern is not None and not is_number and re.fullmatch(pattern, item) is None:
            refuse(f"Parameter '{key}' must match pattern {pattern}")
        if "MinLength" in declaration and len(item) < int(declaration["MinLength"]):
            refuse(f"Parameter '{key}' must contain at least {declaration['MinLength']} characters")
        if "MaxLength" in declaration and len(item) > int(declaration["MaxLength"]):
            refuse(f"Parameter '{key}' must not contain more than {declaration['MaxLength']} characters")
        if is_number and "MinValue" in declaration and float(item) < float(declaration["MinValue"]):
            refuse(f"Parameter '{key}' must be a number not less than {_as_text(declaration['MinValue'])}")
        if is_number and "MaxValue" in declaration and float(item) > float(declaration["MaxValue"]):
            refuse(f"Parameter '{key}' must be a number not greater than {_as_text(declaration['MaxValue'])}")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _as_text(value: Any) -> str:
    """A template value as CloudFormation prints it (``true`` for YAML booleans, ``5`` for 5.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    return str(value)
