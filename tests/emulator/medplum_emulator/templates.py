"""Template reading: parsing, the references between resources, and dependency order.

Everything here is pure (a template dict in, facts about it out). CloudFormation orders a stack
operation by the edges this module finds: ``DependsOn``, ``Ref``, ``Fn::GetAtt`` and the
``${Name}`` / ``${Name.Attr}`` placeholders of ``Fn::Sub``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml
from moto.cloudformation.utils import yaml_tag_constructor
from yaml.parser import ParserError
from yaml.scanner import ScannerError

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

_SUB_PLACEHOLDER = re.compile(r"\$\{([^!}][^}]*)\}")


class _Loader(yaml.SafeLoader):
    """A YAML loader that turns ``!Ref x`` and friends into ``{"Ref": x}`` (moto's constructor)."""


_Loader.add_multi_constructor("", yaml_tag_constructor)


def parse(body: str) -> dict[str, Any]:
    """Parses a JSON or YAML template body; a body that is neither is a template format error."""
    from moto.cloudformation.exceptions import ValidationError

    try:
        parsed = json.loads(body)
    except ValueError:
        try:
            parsed = yaml.load(body, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        except (ParserError, ScannerError) as e:
            raise ValidationError(message=f"Template format error: {e}") from e
    if not isinstance(parsed, dict):
        raise ValidationError(message="Template format error: JSON not well-formed.")
    return parsed


def declared_parameters(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's ``Parameters`` section (an empty dict when there is none)."""
    return template.get("Parameters") or {}


def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's ``Resources`` section (an empty dict when there is none)."""
    return template.get("Resources") or {}


def references(value: Any) -> Iterator[tuple[str, str | None]]:
    """Yields ``(name, attribute)`` for every Ref, GetAtt and Sub placeholder in ``value``.

    ``attribute`` is None for a Ref. Names may be parameters or pseudo parameters as well as
    resources; callers filter.
    """
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner, None
            elif key == "Fn::GetAtt":
                parts = inner.split(".", 1) if isinstance(inner, str) else inner
                if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str):
                    yield parts[0], parts[1] if isinstance(parts[1], str) else None
                yield from references(parts)
            elif key == "Fn::Sub":
                text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                for placeholder in _SUB_PLACEHOLDER.findall(text):
                    name, _, attribute = placeholder.partition(".")
                    if name not in variables:
                        yield name, attribute or None
                yield from references(variables)
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def depends_on(resource: dict[str, Any]) -> list[str]:
    """The resource's ``DependsOn``, always as a list."""
    value = resource.get("DependsOn") or []
    return [value] if isinstance(value, str) else list(value)


def dependencies(resources_json: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """For each resource, the other resources of the same template it must wait for."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources_json.items():
        edges = set(depends_on(resource))
        edges.update(name for name, _ in references(resource.get("Properties", {})))
        graph[logical_id] = {name for name in edges if name in resources_json and name != logical_id}
    return graph


def dependency_order(graph: dict[str, set[str]]) -> list[str]:
    """A topological order of ``graph`` (dependencies first), stable in template order.

    A cycle is a template error in CloudFormation; here the remaining resources are appended in
    template order so a cyclic template still reaches a terminal state instead of hanging.
    """
    order: list[str] = []
    done: set[str] = set()
    pending = list(graph)
    while pending:
        ready = [name for name in pending if graph[name] <= done]
        if not ready:
            ready = pending[:1]
        for name in ready:
            order.append(name)
            done.add(name)
        pending = [name for name in pending if name not in done]
    return order


def resolve_parameters(value: Any, parameters: dict[str, Any]) -> Any:
    """``value`` with every Ref to a parameter (or pseudo parameter given) replaced by its value.

    Refs to resources and GetAtts are kept as they are: the change set compares what the
    template says, and a resource reference only changes when that resource is replaced.
    ``Fn::Sub`` strings get their parameter placeholders substituted.
    """
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = _SUB_PLACEHOLDER.sub(
                lambda m: str(parameters[m.group(1)]) if m.group(1) in parameters else m.group(0),
                value["Fn::Sub"],
            )
            return {"Fn::Sub": text} if _SUB_PLACEHOLDER.search(text) else text
        return {key: resolve_parameters(inner, parameters) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve_parameters(item, parameters) for item in value]
    return value

