"""``Custom::*`` and ``AWS::CloudFormation::CustomResource``.

Owns: custom resources, modelled as succeeding without invoking their ``ServiceToken``:
moto's own model invokes the Lambda function, which needs Docker and a function moto can
run (a CDK provider framework's never is). Create, update and delete succeed at once; every
``Fn::GetAtt`` attribute reads as an empty string (there is no handler to return ``Data``);
the physical id is a CloudFormation-style generated name.

Does not model: the handler's effects, ``Data`` it would return, ``NoEcho``, failures a
handler would report, and SNS-topic service tokens (treated like Lambda ones). None of the
Medplum templates, nor the official CDK template, has a custom resource today.
"""

from __future__ import annotations

from typing import Any

from ._common import Context, ResourceHandlerError, StackResource, on_install, register


@register
class CustomResource(StackResource):
    CFN_TYPE = "AWS::CloudFormation::CustomResource"

    def __init__(self, physical_id: str, properties: dict[str, Any]):
        self.physical_id = physical_id
        self.properties = properties

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        # A custom resource's attributes are whatever its handler returns: any name is valid.
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return ""

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> CustomResource:
        if not properties.get("ServiceToken"):
            raise ResourceHandlerError(
                "ServiceToken is required for a custom resource", service="CloudFormation"
            )
        return cls(cls.generated(ctx), properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # AWS sends the handler an Update; without a handler the resource stays as it is.
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        # Nothing was created outside the stack.
        pass

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id


@on_install
def _custom_types_use_this_model() -> None:
    # moto's parser maps every "Custom::" type to the class bound to the name CustomModel
    # in moto.cloudformation.parsing, before it consults the type table.
    from moto.cloudformation import parsing

    parsing.CustomModel = CustomResource
