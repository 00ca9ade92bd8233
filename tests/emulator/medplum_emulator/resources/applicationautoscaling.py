"""AWS::ApplicationAutoScaling::ScalableTarget and AWS::ApplicationAutoScaling::ScalingPolicy.

Owns: scalable targets and scaling policies in moto's application-autoscaling backend
(visible to DescribeScalableTargets / DescribeScalingPolicies), with AWS's physical ids (a
target's Ref is ``<resource id>|<dimension>|<namespace>``, a policy's its ARN) and in-place
updates of capacities and policy configuration. moto checks that an ECS target's service
exists, which the Medplum templates satisfy through ``Fn::GetAtt Service.Name``.

Does not model: scheduled actions, suspended state, and scaling itself (the ECS service's
desired count never changes because of a policy).
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends

from ._common import Context, StackResource, register


def _backend(ctx: Context) -> Any:
    return applicationautoscaling_backends[ctx.account_id][ctx.region_name]


@register
class ScalableTarget(StackResource):
    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"
    _IDENTITY = ("ServiceNamespace", "ResourceId", "ScalableDimension")

    def __init__(self, properties: dict[str, Any]):
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> ScalableTarget:
        resource = cls(properties)
        resource.ctx = ctx
        resource._register(properties)
        return resource

    def _register(self, properties: dict[str, Any]) -> None:
        _backend(self.ctx).register_scalable_target(
            namespace=properties["ServiceNamespace"],
            r_id=properties["ResourceId"],
            dimension=properties["ScalableDimension"],
            min_capacity=int(properties["MinCapacity"]),
            max_capacity=int(properties["MaxCapacity"]),
            role_arn=properties.get("RoleARN"),
            suspended_state=properties.get("SuspendedState"),
        )

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if any(properties[key] != self.properties[key] for key in self._IDENTITY):
            return super().update(new_name, properties)
        # Registering an existing target updates it.
        self._register(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).deregister_scalable_target(
            self.properties["ServiceNamespace"],
            self.properties["ResourceId"],
            self.properties["ScalableDimension"],
        )

    @property
    def physical_resource_id(self) -> str:
        return "|".join(
            (
                self.properties["ResourceId"],
                self.properties["ScalableDimension"],
                self.properties["ServiceNamespace"],
            )
        )


@register
class ScalingPolicy(StackResource):
    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"
    ATTRIBUTES = ("Arn",)

    def __init__(self, arn: str, target: dict[str, str], properties: dict[str, Any]):
        self.arn = arn
        self.target = target
        self.properties = properties

    @staticmethod
    def _target(properties: dict[str, Any]) -> dict[str, str]:
        if "ScalingTargetId" in properties:
            resource_id, dimension, namespace = properties["ScalingTargetId"].split("|")
        else:
            resource_id = properties["ResourceId"]
            dimension = properties["ScalableDimension"]
            namespace = properties["ServiceNamespace"]
        return {
            "service_namespace": namespace,
            "resource_id": resource_id,
            "scalable_dimension": dimension,
        }

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> ScalingPolicy:
        target = cls._target(properties)
        policy = _backend(ctx).put_scaling_policy(
            policy_name=properties["PolicyName"],
            policy_body=properties.get(
                "StepScalingPolicyConfiguration",
                properties.get("TargetTrackingScalingPolicyConfiguration"),
            ),
            policy_type=properties.get("PolicyType"),
            **target,
        )
        return cls(policy.policy_arn, target, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if (
            properties["PolicyName"] != self.properties["PolicyName"]
            or self._target(properties) != self.target
        ):
            return super().update(new_name, properties)
        # PutScalingPolicy on an existing policy replaces its configuration in place.
        _backend(self.ctx).put_scaling_policy(
            policy_name=properties["PolicyName"],
            policy_body=properties.get(
                "StepScalingPolicyConfiguration",
                properties.get("TargetTrackingScalingPolicyConfiguration"),
            ),
            policy_type=properties.get("PolicyType"),
            **self.target,
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_scaling_policy(
            policy_name=self.properties["PolicyName"], **self.target
        )

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def attributes(self) -> dict[str, Any]:
        return {"Arn": self.arn}
