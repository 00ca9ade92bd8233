"""AWS::GuardDuty::MalwareProtectionPlan.

Owns: malware protection plans for S3 buckets, which moto's guardduty backend does not
have; they live in ``guardduty_extras`` (a moto ``BackendDict``, so moto's reset clears it).
Creating one requires the protected bucket to exist, as in AWS. Updates (tagging action,
role) are in place; a different bucket is a replacement.

Does not model: any GuardDuty API to read plans back (GetMalwareProtectionPlan is not
served), scanning, the EventBridge managed rule GuardDuty creates, and the role's
permission checks.
"""

from __future__ import annotations

import string
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.moto_api._internal import mock_random as random
from moto.s3.models import s3_backends

from ._common import Context, ResourceHandlerError, StackResource, register


class GuardDutyExtrasBackend(BaseBackend):
    """GuardDuty objects moto's guardduty backend lacks."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.malware_protection_plans: dict[str, dict[str, Any]] = {}


guardduty_extras = BackendDict(GuardDutyExtrasBackend, "guardduty")


@register
class MalwareProtectionPlan(StackResource):
    CFN_TYPE = "AWS::GuardDuty::MalwareProtectionPlan"
    ATTRIBUTES = ("Arn", "MalwareProtectionPlanId")

    def __init__(self, plan_id: str, properties: dict[str, Any]):
        self.plan_id = plan_id
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> MalwareProtectionPlan:
        bucket = properties["ProtectedResource"]["S3Bucket"]["BucketName"]
        if bucket not in s3_backends[ctx.account_id][ctx.partition].buckets:
            raise ResourceHandlerError(
                f"The request failed because the bucket {bucket} does not exist.",
                service="GuardDuty",
            )
        # AWS plan ids: 20 lower-case letters and digits.
        plan_id = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(20))
        guardduty_extras[ctx.account_id][ctx.region_name].malware_protection_plans[plan_id] = (
            properties
        )
        return cls(plan_id, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties["ProtectedResource"] != self.properties["ProtectedResource"]:
            return super().update(new_name, properties)
        self._plans()[self.plan_id] = properties
        self.properties = properties
        return self

    def _plans(self) -> dict[str, dict[str, Any]]:
        return guardduty_extras[self.ctx.account_id][self.ctx.region_name].malware_protection_plans

    def delete_resource(self) -> None:
        del self._plans()[self.plan_id]

    @property
    def physical_resource_id(self) -> str:
        return self.plan_id

    def attributes(self) -> dict[str, Any]:
        return {
            "Arn": f"arn:{self.ctx.partition}:guardduty:{self.ctx.region_name}:"
            f"{self.ctx.account_id}:malware-protection-plan/{self.plan_id}",
            "MalwareProtectionPlanId": self.plan_id,
        }
