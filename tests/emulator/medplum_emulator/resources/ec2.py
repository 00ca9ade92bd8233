"""AWS::EC2::SecurityGroupIngress and AWS::EC2::SecurityGroupEgress; deletes for moto's EC2
models.

Owns: standalone security group rules, authorized in moto's ec2 backend (visible to
DescribeSecurityGroups / DescribeSecurityGroupRules) and revoked on delete. moto has no
egress model and its ingress model never revokes its rule; both are replaced here. The
physical id is the ``sgr-`` rule id, as in AWS. Ports may arrive as strings (CloudFormation's
``Fn::GetAtt DBCluster.Endpoint.Port`` is a string) and are converted.

Does not model: prefix-list and IPv6 sources other than ``CidrIpv6``, cross-account
``SourceSecurityGroupOwnerId``, and in-place update (every property of these types requires
replacement in AWS, which is the default here). All other EC2 types are moto's own models;
those the templates use and moto cannot delete (EIP, FlowLog, InternetGateway,
VPCGatewayAttachment, NatGateway, Route, RouteTable, SubnetRouteTableAssociation) get a
delete here, so a stack delete empties the VPC and the VPC's own delete succeeds. Their
updates remain moto's (none: a changed property leaves the moto object as it was).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import InvalidRouteTableIdError, InvalidSecurityGroupNotFoundError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_ip_addresses import ElasticAddress
from moto.ec2.models.flow_logs import FlowLogs
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.nat_gateways import NatGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

from ._common import Context, StackResource, deletes, register


def _backend(ctx: Context) -> Any:
    return ec2_backends[ctx.account_id][ctx.region_name]


class _Rule(StackResource):
    """One rule; ``PEER`` names the property holding the other security group."""

    DIRECTION: str
    PEER: str

    def __init__(self, rule_id: str, arguments: dict[str, Any], properties: dict[str, Any]):
        self.rule_id = rule_id
        self.arguments = arguments
        self.properties = properties

    @classmethod
    def _arguments(cls, properties: dict[str, Any]) -> dict[str, Any]:
        ip_ranges = []
        if "CidrIp" in properties:
            ip_ranges.append(
                {"CidrIp": properties["CidrIp"], "Description": properties.get("Description")}
            )
        if "CidrIpv6" in properties:
            ip_ranges.append(
                {"CidrIpv6": properties["CidrIpv6"], "Description": properties.get("Description")}
            )
        source_groups = []
        if cls.PEER in properties:
            source_groups.append(
                {"GroupId": properties[cls.PEER], "Description": properties.get("Description")}
            )
        protocol = str(properties["IpProtocol"])
        # Protocol "-1" (all traffic) has no ports.
        from_port = properties.get("FromPort", -1 if protocol == "-1" else None)
        to_port = properties.get("ToPort", -1 if protocol == "-1" else None)
        return {
            "group_name_or_id": properties["GroupId"],
            "ip_protocol": protocol,
            "from_port": None if from_port is None else int(from_port),
            "to_port": None if to_port is None else int(to_port),
            "ip_ranges": ip_ranges,
            "source_groups": source_groups,
        }

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> _Rule:
        arguments = cls._arguments(properties)
        authorize = getattr(_backend(ctx), f"authorize_security_group_{cls.DIRECTION}")
        rules, _group = authorize(**arguments)
        return cls(rules[0].id, arguments, properties)

    def delete_resource(self) -> None:
        revoke = getattr(_backend(self.ctx), f"revoke_security_group_{self.DIRECTION}")
        try:
            revoke(**self.arguments)
        except InvalidSecurityGroupNotFoundError:
            # moto's stack delete ignores dependencies and may delete the group first; its
            # rules went with it.
            pass

    @property
    def physical_resource_id(self) -> str:
        return self.rule_id


@register
class SecurityGroupIngress(_Rule):
    CFN_TYPE = "AWS::EC2::SecurityGroupIngress"
    DIRECTION = "ingress"
    PEER = "SourceSecurityGroupId"


@register
class SecurityGroupEgress(_Rule):
    CFN_TYPE = "AWS::EC2::SecurityGroupEgress"
    DIRECTION = "egress"
    PEER = "DestinationSecurityGroupId"


# --- deletes for moto's own EC2 models (see _common.deletes) ---------------------------


@deletes(ElasticAddress)
def _release_address(address: Any, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].release_address(allocation_id=address.allocation_id)


@deletes(FlowLogs)
def _delete_flow_log(flow_log: Any, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].delete_flow_logs([flow_log.id])


@deletes(InternetGateway)
def _delete_internet_gateway(gateway: Any, account_id: str, region_name: str) -> None:
    # Raises DependencyViolation while attached; the stack delete retries after the detach.
    ec2_backends[account_id][region_name].delete_internet_gateway(gateway.id)


@deletes(VPCGatewayAttachment)
def _detach_gateway(attachment: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if attachment.gateway_id.startswith("igw-"):
        backend.detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)
    else:
        backend.detach_vpn_gateway(attachment.gateway_id, attachment.vpc_id)


@deletes(NatGateway)
def _delete_nat_gateway(gateway: Any, account_id: str, region_name: str) -> None:
    # moto keeps deleted NAT gateways listed in state "deleted", as AWS does for a while.
    ec2_backends[account_id][region_name].delete_nat_gateway(gateway.id)


@deletes(Route)
def _delete_route(route: Any, account_id: str, region_name: str) -> None:
    try:
        ec2_backends[account_id][region_name].delete_route(
            route.route_table.id, route.destination_cidr_block
        )
    except InvalidRouteTableIdError:
        # The table went first (moto lets a table with routes be deleted); so did its routes.
        pass


@deletes(RouteTable)
def _delete_route_table(route_table: Any, account_id: str, region_name: str) -> None:
    # Raises DependencyViolation while subnets are associated; retried after they go.
    ec2_backends[account_id][region_name].delete_route_table(route_table.id)


@deletes(SubnetRouteTableAssociation)
def _disassociate(association: Any, account_id: str, region_name: str) -> None:
    # moto's association model keeps no association id; find it in the route table.
    backend = ec2_backends[account_id][region_name]
    try:
        route_table = backend.get_route_table(association.route_table_id)
    except InvalidRouteTableIdError:
        # Deleting the subnet already dropped the association, and then the table went.
        return
    for association_id, subnet_id in list(route_table._associations.items()):
        if subnet_id == association.subnet_id:
            backend.disassociate_route_table(association_id)
