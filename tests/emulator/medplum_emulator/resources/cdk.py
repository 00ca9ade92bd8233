"""AWS::CDK::Metadata.

Owns: the analytics resource the CDK adds to its templates (the reference
MedplumStagingStack template has one). In AWS it is a no-op resource that records nothing
the stack can read; here likewise: it creates nothing and its Ref is the logical id.

Does not model: anything else; ``Custom::`` resources are moto's own generic model (none of
the Medplum templates use one).
"""

from __future__ import annotations

from typing import Any

from ._common import Context, StackResource, register


@register
class Metadata(StackResource):
    CFN_TYPE = "AWS::CDK::Metadata"

    def __init__(self, logical_id: str, properties: dict[str, Any]):
        self.logical_id = logical_id
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Metadata:
        return cls(ctx.logical_id, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        # Nothing was created.
        pass

    @property
    def physical_resource_id(self) -> str:
        return self.logical_id
