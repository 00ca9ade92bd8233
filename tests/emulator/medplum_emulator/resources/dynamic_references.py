"""``{{resolve:...}}`` dynamic references in resource properties.

Owns: resolving ``{{resolve:secretsmanager:...}}`` and ``{{resolve:ssm:...}}`` inside every
string of a resource's properties, after moto has resolved the intrinsic functions, for every
resource type (moto's own models included), as CloudFormation does. The Medplum templates
use this for the database master password, the Redis auth token and the Redis secret's
template (``SecretStringTemplate`` embeds the Redis password).

Does not model: ``ssm-secure`` (moto stores SecureString values in clear, so it resolves like
``ssm``), version pinning by ``version-id`` (the current version is used), and the AWS rule
that dynamic references are not allowed in some properties.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends

from ._common import ResourceHandlerError

_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]*)\}\}")


def resolve(value: Any, account_id: str, region_name: str) -> Any:
    """Returns ``value`` with every dynamic reference in its strings replaced."""
    if isinstance(value, str):
        return _REFERENCE.sub(
            lambda match: _resolve_one(match.group(1), match.group(2), account_id, region_name),
            value,
        )
    if isinstance(value, list):
        return [resolve(item, account_id, region_name) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, account_id, region_name) for key, item in value.items()}
    return value


def _resolve_one(service: str, reference: str, account_id: str, region_name: str) -> str:
    if service == "secretsmanager":
        return _secret(reference, account_id, region_name)
    name, _, _version = reference.partition(":")
    parameter = ssm_backends[account_id][region_name].get_parameter(name)
    if parameter is None:
        raise ResourceHandlerError(f"Parameter {name} not found.", service="Ssm")
    return parameter.value


def _secret(reference: str, account_id: str, region_name: str) -> str:
    # secret-id:SecretString:json-key:version-stage:version-id, where secret-id may be an ARN
    # (which itself contains seven colon-separated parts).
    parts = reference.split(":")
    split = 7 if reference.startswith("arn:") else 1
    secret_id = ":".join(parts[:split])
    rest = parts[split:] + [""] * 4
    _secret_string, json_key, version_stage, version_id = rest[:4]
    backend = secretsmanager_backends[account_id][region_name]
    try:
        value = backend.get_secret_value(
            secret_id, version_id or None, version_stage or None
        )["SecretString"]
    except Exception as error:
        raise ResourceHandlerError(
            f"Secrets Manager can't find the specified secret {secret_id}: {error}",
            service="AWSSecretsManager",
        ) from error
    if not json_key:
        return value
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError) as error:
        raise ResourceHandlerError(
            f"Could not parse SecretString JSON key {json_key} of {secret_id}",
            service="AWSSecretsManager",
        ) from error


def install(parsing: Any) -> None:
    """Wraps ``parsing.parse_resource``; it is looked up through the module global by
    ``parse_resource_and_generate_name``, which every create and update goes through."""
    original = parsing.parse_resource

    def parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
        parsed = original(resource_json, resources_map)
        if not parsed:
            return parsed
        resource_class, cleaned_json, resource_type = parsed
        cleaned_json = resolve(
            cleaned_json, resources_map._account_id, resources_map._region_name
        )
        return resource_class, cleaned_json, resource_type

    parsing.parse_resource = parse_resource
