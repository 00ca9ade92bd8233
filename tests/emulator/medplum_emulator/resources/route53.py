"""AWS::Route53::RecordSet.

Owns: record sets added to (and on delete removed from) a hosted zone in moto's route53
backend, visible to ListResourceRecordSets; update is an in-place UPSERT. Replaces moto's
model because that one fails with a bare ``KeyError``/``NoSuchHostedZone`` escaping the
parser when the zone named by ``HostedZoneId`` / ``HostedZoneName`` does not exist; here the
resource fails with Route 53's message, as in AWS.

Does not model: the alias-target existence check AWS performs, change propagation
(``INSYNC`` is immediate), and AWS::Route53::HostedZone / RecordSetGroup (moto's own).
"""

from __future__ import annotations

from typing import Any

from moto.route53.exceptions import NoSuchHostedZone
from moto.route53.models import route53_backends

from ._common import Context, ResourceHandlerError, StackResource, register


def _zone(ctx: Context, properties: dict[str, Any]) -> Any:
    backend = route53_backends[ctx.account_id][ctx.partition]
    if properties.get("HostedZoneName"):
        name = properties["HostedZoneName"]
        zone = backend.get_hosted_zone_by_name(name if name.endswith(".") else f"{name}.")
        if zone is None:
            raise ResourceHandlerError(
                f"No hosted zone found with name: {name}", service="Route53", status=404
            )
        return zone
    zone_id = properties.get("HostedZoneId", "")
    try:
        return backend.get_hosted_zone(zone_id)
    except NoSuchHostedZone as error:
        raise ResourceHandlerError(
            f"No hosted zone found with ID: {zone_id}", service="Route53", status=404
        ) from error


@register
class RecordSet(StackResource):
    CFN_TYPE = "AWS::Route53::RecordSet"

    def __init__(self, name: str, record_type: str, properties: dict[str, Any]):
        self.name = name
        self.record_type = record_type
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> RecordSet:
        record = _zone(ctx, properties).add_rrset(dict(properties))
        return cls(record.name, record.type, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        self.delete_resource()
        return type(self)._create(self.ctx, new_name, {"Properties": properties})

    def delete_resource(self) -> None:
        _zone(self.ctx, self.properties).delete_rrset(
            {"Name": self.name, "Type": self.record_type}
        )

    @property
    def physical_resource_id(self) -> str:
        # Ref of a record set is its domain name.
        return self.name
