"""AWS::Logs::MetricFilter.

Owns: metric filters in moto's logs backend (visible to DescribeMetricFilters), stored with
the metric transformation in the API's shape (``metricName``, ``metricNamespace``,
``metricValue``, ``defaultValue``, ``dimensions``, ``unit``). Refused as in AWS: a
``LogGroupName`` that is not an existing log group in the region ("The specified log group
does not exist.", which moto's PutMetricFilter does not check), ``MetricTransformations``
that is not exactly one item with ``MetricName``, ``MetricNamespace`` and ``MetricValue``, a
``FilterPattern`` over 1,024 characters, and a ``FilterName`` already used in the group
(CloudFormation's already-exists check; PutMetricFilter itself would overwrite it).

Ref is the filter name, generated as ``<stack>-<logical id>-<random>`` without a
``FilterName``. There are no GetAtt attributes. Updates of ``FilterPattern`` and
``MetricTransformations`` are in place (moto would append a second filter of the same name;
the model replaces the record instead); ``FilterName`` or ``LogGroupName`` replace it.
Delete removes the filter, and is a no-op once the log group is gone.

Does not model: pattern syntax checks, the metrics a filter would publish when log events
arrive, ``ApplyOnTransformedLogs`` / ``EmitSystemFieldDimensions`` /
``FieldSelectionCriteria`` (accepted, stored nowhere), and the 100-filters-per-group quota.
``AWS::Logs::LogGroup`` itself is moto's own model.
"""

from __future__ import annotations

from typing import Any

from moto.logs.models import logs_backends

from ._common import (
    AlreadyExistsError,
    Context,
    PropertiesValidationError,
    ResourceHandlerError,
    StackResource,
    generated_name,
    register,
    require,
)


def _backend(ctx: Context) -> Any:
    return logs_backends[ctx.account_id][ctx.region_name]


def _transformations(ctx: Context, properties: dict[str, Any]) -> list[dict[str, Any]]:
    items = properties["MetricTransformations"]
    if not isinstance(items, list) or len(items) != 1:
        raise PropertiesValidationError(
            ctx.logical_id, "#/MetricTransformations: expected exactly 1 item"
        )
    [item] = items
    for key in ("MetricName", "MetricNamespace", "MetricValue"):
        if item.get(key) in (None, ""):
            raise PropertiesValidationError(
                ctx.logical_id, f"#/MetricTransformations/0: required key [{key}] not found"
            )
    transformation: dict[str, Any] = {
        "metricName": str(item["MetricName"]),
        "metricNamespace": str(item["MetricNamespace"]),
        "metricValue": str(item["MetricValue"]),
    }
    if "DefaultValue" in item:
        transformation["defaultValue"] = float(item["DefaultValue"])
    if item.get("Dimensions"):
        transformation["dimensions"] = {d["Key"]: d["Value"] for d in item["Dimensions"]}
    if item.get("Unit"):
        transformation["unit"] = item["Unit"]
    return [transformation]


@register
class MetricFilter(StackResource):
    CFN_TYPE = "AWS::Logs::MetricFilter"
    NAME_PROPERTY = "FilterName"

    def __init__(self, name: str, log_group: str, properties: dict[str, Any]):
        self.name = name
        self.log_group = log_group
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=512)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> MetricFilter:
        require(ctx, properties, "LogGroupName", "MetricTransformations")
        if "FilterPattern" not in properties:  # an empty pattern is valid (matches everything)
            raise PropertiesValidationError(
                ctx.logical_id, "#: required key [FilterPattern] not found"
            )
        name = cls.resource_name(ctx, name, properties)
        log_group = str(properties["LogGroupName"])
        backend = _backend(ctx)
        if log_group not in backend.groups:
            raise ResourceHandlerError(
                "The specified log group does not exist.", service="CloudWatchLogs"
            )
        if any(
            f["filterName"] == name
            for f in backend.describe_metric_filters(log_group_name=log_group)
        ):
            raise AlreadyExistsError(cls.CFN_TYPE, name)
        resource = cls(name, log_group, properties)
        resource.ctx = ctx
        resource._put(properties)
        return resource

    def _put(self, properties: dict[str, Any]) -> None:
        pattern = str(properties.get("FilterPattern", ""))
        if len(pattern) > 1024:
            raise PropertiesValidationError(
                self.ctx.logical_id, "#/FilterPattern: expected maxLength: 1024"
            )
        transformations = _transformations(self.ctx, properties)
        backend = _backend(self.ctx)
        backend.delete_metric_filter(self.name, self.log_group)
        backend.put_metric_filter(self.name, pattern, self.log_group, transformations)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if any(
            properties.get(key) != self.properties.get(key)
            for key in ("FilterName", "LogGroupName")
        ):
            return super().update(new_name, properties)
        self._put(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_metric_filter(self.name, self.log_group)

    @property
    def physical_resource_id(self) -> str:
        return self.name
