"""The ``Changes`` of a change set, as CloudFormation describes them.

For each resource: ``Action`` Add/Modify/Remove, ``Replacement`` (True when a changed property
can only be set at creation), ``Scope`` and one ``Details`` entry per changed top-level property,
with ``BeforeValue``/``AfterValue`` when DescribeChangeSet asks with ``IncludePropertyValues``.
Parameter values are substituted before comparing, so a changed parameter shows as a Modify of
every resource that references it (``ChangeSource: ParameterReference``), and a resource that
references a replaced resource gets a ``Dynamic`` detail (its new physical ID is only known at
execution), which CloudFormation reports as ``Replacement: Conditional`` when the referencing
property is itself create-only.

Which properties force replacement comes from the CloudFormation resource provider schemas that
cfn-lint ships (``createOnlyProperties``), plus ``_REPLACEMENT_OVERRIDES`` for the properties
whose update AWS documents as a replacement although the schema does not list them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import templates

# Properties AWS replaces the resource for, beyond the schema's createOnlyProperties. Paths are
# '/'-separated below the resource's Properties.
_REPLACEMENT_OVERRIDES: dict[str, set[str]] = {
    # An engine change (aurora-postgresql to aurora-mysql) replaces the cluster.
    "AWS::RDS::DBCluster": {"Engine"},
    "AWS::RDS::DBInstance": {"Engine"},
    "AWS::ElastiCache::ReplicationGroup": {"Engine"},
    # CloudFront's UpdatePublicKey only changes the comment; the key itself is immutable.
    "AWS::CloudFront::PublicKey": {"PublicKeyConfig/EncodedKey", "PublicKeyConfig/Name", "PublicKeyConfig/CallerReference"},
}

# Resource attributes besides Properties that make a Modify on their own, with their Scope name.
_ATTRIBUTE_SCOPES = ("Metadata", "CreationPolicy", "UpdatePolicy")


@lru_cache
def _schemas_dir() -> Path:
    # Located, not imported: importing cfnlint takes seconds and only its data files are needed.
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed in the emulator's venv (run .ci/setup)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "schemas"


@lru_cache
def _schema_index() -> dict[str, str]:
    return json.loads((_schemas_dir() / "providers" / "us-east-1.json").read_text())


@lru_cache
def replacement_paths(resource_type: str) -> frozenset[tuple[str, ...]]:
    """The property paths whose change replaces a resource of ``resource_type``."""
    paths = {tuple(p.split("/")) for p in _REPLACEMENT_OVERRIDES.get(resource_type, set())}
    schema_id = _schema_index().get(resource_type)
    if schema_id:
        schema = json.loads((_schemas_dir() / "resources" / f"{schema_id}.json").read_text())
        for pointer in schema.get("createOnlyProperties", []):
            parts = pointer.split("/")
            if parts[:2] == ["", "properties"]:
                paths.add(tuple(parts[2:]))
    return frozenset(paths)


@dataclass
class StackSide:
    """One side of the comparison: a template's active resources and its parameter values."""

    resources: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    physical_ids: dict[str, str]


_VALUE_KEYS = ("BeforeValue", "AfterValue", "AttributeChangeType")
_CONTEXT_KEYS = ("BeforeContext", "AfterContext")


def shown(changes: list[dict[str, Any]], include_values: bool) -> list[dict[str, Any]]:
    """The Changes as DescribeChangeSet returns them: property values only when asked for."""
    if include_values:
        return changes
    trimmed = copy.deepcopy(changes)
    for change in trimmed:
        resource_change = change["ResourceChange"]
        for key in _CONTEXT_KEYS:
            resource_change.pop(key, None)
        for detail in resource_change["Details"]:
            for key in _VALUE_KEYS:
                detail["Target"].pop(key, None)
    return trimmed


def compute(before: StackSide, after: StackSide) -> list[dict[str, Any]]:
    """The change set's Changes, each shaped as DescribeChangeSet's ``Change``, with values."""
    changes: dict[str, dict[str, Any]] = {}
    for logical_id, resource in after.resources.items():
        if logical_id not in before.resources:
            changes[logical_id] = _resource_change("Add", logical_id, resource["Type"], None)
            changes[logical_id]["AfterContext"] = _context(resource, after.parameters)
            continue
        change = _modification(logical_id, before, after)
        if change is not None:
            changes[logical_id] = change

    replaced = {lid for lid, c in changes.items() if c["Action"] == "Modify" and c["Replacement"] == "True"}
    for logical_id, resource in after.resources.items():
        if logical_id in before.resources and replaced:
            _add_dynamic_details(logical_id, resource, replaced, before, after, changes)

    for logical_id, resource in before.resources.items():
        if logical_id not in after.resources:
            change = _resource_change("Remove", logical_id, resource["Type"], before.physical_ids.get(logical_id))
            change["PolicyAction"] = {"Retain": "Retain", "Snapshot": "Snapshot"}.get(
                resource.get("DeletionPolicy", "Delete"), "Delete"
            )
            change["BeforeContext"] = _context(resource, before.parameters)
            changes[logical_id] = change
    return [{"Type": "Resource", "ResourceChange": change} for change in changes.values()]


def _resource_change(action: str, logical_id: str, type_: str, physical_id: str | None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": type_,
        "Scope": [],
        "Details": [],
    }
    if physical_id is not None:
        change["PhysicalResourceId"] = physical_id
    return change


def _modification(logical_id: str, before: StackSide, after: StackSide) -> dict[str, Any] | None:
    old_raw, new_raw = before.resources[logical_id], after.resources[logical_id]
    old = templates.resolve_parameters(old_raw, before.parameters)
    new = templates.resolve_parameters(new_raw, after.parameters)
    scope: list[str] = []
    details: list[dict[str, Any]] = []
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    create_only = replacement_paths(new_raw["Type"])
    for name in sorted(set(old_props) | set(new_props)):
        if old_props.get(name) == new_props.get(name):
            continue
        attribute = "Tags" if name == "Tags" else "Properties"
        if attribute not in scope:
            scope.append(attribute)
        recreation = "Never"
        if attribute == "Properties" and any(
            path[0] == name and _at(old_props, path) != _at(new_props, path) for path in create_only
        ):
            recreation = "Always"
        target: dict[str, Any] = {"Attribute": attribute, "RequiresRecreation": recreation}
        if attribute == "Properties":
            target["Name"] = name
        if name in old_props:
            target["BeforeValue"] = _text(old_props[name])
        if name in new_props:
            target["AfterValue"] = _text(new_props[name])
        target["AttributeChangeType"] = "Add" if name not in old_props else "Remove" if name not in new_props else "Modify"
        detail: dict[str, Any] = {"Target": target, "Evaluation": "Static"}
        causes = _changed_parameters((old_raw.get("Properties") or {}).get(name), (new_raw.get("Properties") or {}).get(name), before, after)
        if causes:
            detail.update(ChangeSource="ParameterReference", CausingEntity=causes[0])
        else:
            detail["ChangeSource"] = "DirectModification"
        details.append(detail)
    for attribute in _ATTRIBUTE_SCOPES:
        if old.get(attribute) != new.get(attribute):
            scope.append(attribute)
            details.append(
                {
                    "Target": {"Attribute": attribute, "RequiresRecreation": "Never"},
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
            )
    if not details:
        return None

    change = _resource_change("Modify", logical_id, new_raw["Type"], before.physical_ids.get(logical_id))
    change["Scope"], change["Details"] = scope, details
    _set_replacement(change, new_raw)
    change["BeforeContext"] = _context(old_raw, before.parameters)
    change["AfterContext"] = _context(new_raw, after.parameters)
    return change


def _add_dynamic_details(
    logical_id: str,
    resource: dict[str, Any],
    replaced: set[str],
    before: StackSide,
    after: StackSide,
    changes: dict[str, dict[str, Any]],
) -> None:
    """Details for properties that reference a resource being replaced (new ID at execution)."""
    create_only = replacement_paths(resource["Type"])
    for name, value in (resource.get("Properties") or {}).items():
        for target_id, attribute in templates.references(value):
            if target_id not in replaced or target_id == logical_id:
                continue
            change = changes.get(logical_id)
            if change is None:
                change = _resource_change("Modify", logical_id, resource["Type"], before.physical_ids.get(logical_id))
                changes[logical_id] = change
                change["BeforeContext"] = _context(before.resources[logical_id], before.parameters)
                change["AfterContext"] = _context(resource, after.parameters)
            attribute_name = "Tags" if name == "Tags" else "Properties"
            if attribute_name not in change["Scope"]:
                change["Scope"].append(attribute_name)
            target = {
                "Attribute": attribute_name,
                "RequiresRecreation": "Conditionally" if any(p[0] == name for p in create_only) else "Never",
            }
            if attribute_name == "Properties":
                target["Name"] = name
            detail = {
                "Target": target,
                "Evaluation": "Dynamic",
                "ChangeSource": "ResourceReference" if attribute is None else "ResourceAttribute",
                "CausingEntity": target_id if attribute is None else f"{target_id}.{attribute}",
            }
            if detail not in change["Details"]:  # one per property and cause, however often referenced
                change["Details"].append(detail)
            _set_replacement(change, resource)


def _set_replacement(change: dict[str, Any], resource: dict[str, Any]) -> None:
    recreations = {d["Target"]["RequiresRecreation"] for d in change["Details"]}
    replacement = "True" if "Always" in recreations else "Conditional" if "Conditionally" in recreations else "False"
    change["Replacement"] = replacement
    if replacement == "True":
        policy = resource.get("UpdateReplacePolicy", "Delete")
        change["PolicyAction"] = {"Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}.get(
            policy, "ReplaceAndDelete"
        )
    else:
        change.pop("PolicyAction", None)


def _changed_parameters(old_value: Any, new_value: Any, before: StackSide, after: StackSide) -> list[str]:
    """Parameters referenced by an unchanged property value whose value changed (else [])."""
    if old_value != new_value:
        return []
    return [
        name
        for name, _ in templates.references(new_value)
        if name in after.parameters and before.parameters.get(name) != after.parameters.get(name)
    ]


def _at(properties: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    """A property value as BeforeValue/AfterValue carry it: strings as they are, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def _context(resource: dict[str, Any], parameters: dict[str, Any]) -> str:
    return json.dumps(
        {"Properties": templates.resolve_parameters(resource.get("Properties") or {}, parameters)},
        separators=(",", ":"),
        sort_keys=True,
    )
