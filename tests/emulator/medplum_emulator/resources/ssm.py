"""AWS::SSM::Parameter.

Owns: parameters in moto's ssm backend (visible to GetParameter / GetParametersByPath),
updated in place with ``Overwrite`` (the version increments and the history stays, as in
AWS; moto's own model deletes and recreates the parameter), deleted on delete. Replaces
moto's model also because that one passes the template's ``Tags`` (a map in
CloudFormation) where the backend expects a list, which fails for every tagged parameter.

Does not model: SecureString parameters (CloudFormation cannot create them either),
parameter policies, and ``AllowedPattern`` checks on update.
"""

from __future__ import annotations

from typing import Any

from moto.ssm.models import ssm_backends

from ._common import Context, StackResource, register


def _backend(ctx: Context) -> Any:
    return ssm_backends[ctx.account_id][ctx.region_name]


@register
class Parameter(StackResource):
    CFN_TYPE = "AWS::SSM::Parameter"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Type", "Value")

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        # CloudFormation names unnamed parameters CFN-<logical id>-<random>.
        return f"CFN-{ctx.logical_id}-" + super().generated(ctx).rsplit("-", 1)[1]

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Parameter:
        resource = cls(cls.resource_name(ctx, name, properties), properties)
        resource.ctx = ctx
        resource._put(properties, overwrite=False)
        return resource

    def _put(self, properties: dict[str, Any], overwrite: bool) -> None:
        tags = properties.get("Tags") or {}
        _backend(self.ctx).put_parameter(
            name=self.name,
            description=properties.get("Description"),
            value=str(properties["Value"]),
            parameter_type=properties["Type"],
            allowed_pattern=properties.get("AllowedPattern"),
            keyid=None,
            overwrite=overwrite,
            # Tags cannot be combined with Overwrite in PutParameter; AWS tags separately.
            tags=[] if overwrite else [{"Key": k, "Value": v} for k, v in tags.items()],
            data_type=properties.get("DataType", "text"),
            tier=properties.get("Tier"),
            policies=properties.get("Policies"),
        )

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties.get("Name") != self.properties.get("Name"):
            return super().update(new_name, properties)
        self._put(properties, overwrite=True)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_parameter(self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def attributes(self) -> dict[str, Any]:
        return {"Type": self.properties["Type"], "Value": str(self.properties["Value"])}
