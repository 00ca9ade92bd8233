"""AWS::RDS::DBProxy and AWS::RDS::DBProxyTargetGroup.

Owns: RDS proxies in moto's rds backend (visible to DescribeDBProxies), created through its
``create_db_proxy``; the proxy's ``default`` target group (DescribeDBProxyTargetGroups) with
the clusters and instances the target group resource registers (DescribeDBProxyTargets, via
moto's ``register_db_proxy_targets``). moto's identifiers are reshaped to AWS's: endpoint
``<name>.proxy-<12 lowercase letters/digits>.<region>.rds.amazonaws.com`` (moto:
``.db-proxy-``), ``prx-<17 hex>`` and ``prx-tg-<17 hex>`` resource ids (moto: letters too).

Refused as in AWS, before anything is created:

* a proxy: ``DBProxyName`` absent or not an RDS identifier (1-63 letters, digits, hyphens;
  a letter first; no trailing or double hyphen); ``EngineFamily`` not POSTGRESQL, MYSQL or
  SQLSERVER; an ``Auth`` entry whose ``SecretArn`` is not an existing Secrets Manager secret
  in the proxy's region; ``RoleArn`` not an existing IAM role; ``VpcSubnetIds`` naming a
  subnet that does not exist, fewer than two subnets, subnets in one Availability Zone only,
  or subnets of different VPCs; a proxy of that name already in the account and region
  (DBProxyAlreadyExistsFault; names compared case-insensitively, as RDS identifiers are);
* a target group: ``DBProxyName`` not an existing proxy, ``TargetGroupName`` other than
  ``default`` (the only target group a proxy has), a ``DBClusterIdentifiers`` or
  ``DBInstanceIdentifiers`` entry that is not an existing cluster or instance.

The exact wording AWS uses for the secret, role and Availability Zone refusals is not
verified; the messages name the offending value and the fault.

Updates: a proxy's auth, role, security groups, TLS, idle timeout, debug logging and tags
change in place (validated again); its name, engine family or subnets replace it, and a
replacement under the same name is refused (``_common.StackResource.update``). A target
group's targets and connection pool settings change in place.

Delete: the proxy is removed from moto (its target group with it); deleting the target group
resource deregisters the targets it registered, and is a no-op once the proxy is gone.

Does not model: proxy endpoints (AWS::RDS::DBProxyEndpoint), the engine family matching the
target's engine, the one-cluster-per-target-group rule, security-group existence, IAM
authentication, connection pooling behaviour, and the minutes a proxy takes to become
``available`` (it is at once).
"""

from __future__ import annotations

import re
import string
from typing import Any

from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random as random
from moto.rds.exceptions import RDSClientError
from moto.rds.models import rds_backends
from moto.secretsmanager.models import secretsmanager_backends

from ._common import (
    Context,
    PropertiesValidationError,
    ResourceHandlerError,
    StackResource,
    as_bool,
    register,
    require,
)

_ENGINE_FAMILIES = ("POSTGRESQL", "MYSQL", "SQLSERVER")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_SERVICE = "Rds"


def _backend(ctx: Context) -> Any:
    return rds_backends[ctx.account_id][ctx.region_name]


def _validate_auth_and_role(ctx: Context, properties: dict[str, Any]) -> None:
    secrets = secretsmanager_backends[ctx.account_id][ctx.region_name]
    for entry in properties["Auth"]:
        arn = entry.get("SecretArn")
        if not arn or not secrets._is_valid_identifier(arn):
            raise ResourceHandlerError(
                f"The secret {arn} does not exist or is not accessible in {ctx.region_name}.",
                service=_SERVICE,
            )
    role_arn = properties["RoleArn"]
    try:
        iam_backends[ctx.account_id][ctx.partition].get_role_by_arn(role_arn)
    except Exception as error:  # moto's NotFoundException
        raise ResourceHandlerError(
            f"IAM role {role_arn} does not exist.", service=_SERVICE
        ) from error


def _validate_subnets(ctx: Context, subnet_ids: list[str]) -> None:
    ec2 = ec2_backends[ctx.account_id][ctx.region_name]
    try:
        subnets = [ec2.get_subnet(subnet_id) for subnet_id in subnet_ids]
    except InvalidSubnetIdError as error:
        raise ResourceHandlerError(error.message, service=_SERVICE) from error
    zones = sorted({subnet.availability_zone for subnet in subnets})
    if len(subnets) < 2 or len(zones) < 2:
        raise ResourceHandlerError(
            "InvalidSubnet: a DB proxy needs subnets in at least 2 Availability Zones. "
            f"Current AZ coverage: {', '.join(zones)}.",
            service=_SERVICE,
        )
    if len({subnet.vpc_id for subnet in subnets}) > 1:
        raise ResourceHandlerError(
            f"The requested subnet {subnet_ids[-1]} is invalid, or multiple subnets were "
            "requested that are not all in a common VPC.",
            service=_SERVICE,
        )


@register
class DBProxy(StackResource):
    CFN_TYPE = "AWS::RDS::DBProxy"
    NAME_PROPERTY = "DBProxyName"
    ATTRIBUTES = ("DBProxyArn", "Endpoint", "VpcId")
    _REPLACING = ("DBProxyName", "EngineFamily", "VpcSubnetIds")

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBProxy:
        require(ctx, properties, "DBProxyName", "EngineFamily", "Auth", "RoleArn", "VpcSubnetIds")
        name = str(properties["DBProxyName"])
        if not _IDENTIFIER.fullmatch(name) or name.endswith("-") or "--" in name:
            raise ResourceHandlerError(
                "The parameter DBProxyName is not a valid identifier. Identifiers must begin "
                "with a letter; must contain only ASCII letters, digits, and hyphens; and must "
                "not end with a hyphen or contain two consecutive hyphens.",
                service=_SERVICE,
            )
        if properties["EngineFamily"] not in _ENGINE_FAMILIES:
            raise PropertiesValidationError(
                ctx.logical_id,
                f"#/EngineFamily: {properties['EngineFamily']} is not a valid enum value",
            )
        backend = _backend(ctx)
        if any(existing.lower() == name.lower() for existing in backend.db_proxies):
            raise ResourceHandlerError(
                f"Cannot create the DBProxy because a DBProxy with the identifier {name} "
                "already exists. (DBProxyAlreadyExistsFault)",
                service=_SERVICE,
            )
        _validate_auth_and_role(ctx, properties)
        _validate_subnets(ctx, list(properties["VpcSubnetIds"]))
        try:
            proxy = backend.create_db_proxy(
                db_proxy_name=name,
                engine_family=properties["EngineFamily"],
                auth=list(properties["Auth"]),
                role_arn=properties["RoleArn"],
                vpc_subnet_ids=list(properties["VpcSubnetIds"]),
                vpc_security_group_ids=list(properties.get("VpcSecurityGroupIds") or []),
                require_tls=as_bool(properties.get("RequireTLS", False)),
                idle_client_timeout=properties.get("IdleClientTimeout"),
                debug_logging=as_bool(properties.get("DebugLogging", False)),
                tags=list(properties.get("Tags") or []),
            )
        except RDSClientError as error:
            raise ResourceHandlerError(error.message, service=_SERVICE) from error
        # AWS's shapes, where moto's differ.
        url_id = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(12))
        proxy.url_identifier = url_id
        proxy.endpoint = f"{name}.proxy-{url_id}.{ctx.region_name}.rds.amazonaws.com"
        proxy.unique_id = f"prx-{random.get_random_hex(17)}"
        proxy.proxy_target_groups["default"]._name = f"prx-tg-{random.get_random_hex(17)}"
        return cls(name, properties)

    def _proxy(self) -> Any:
        return _backend(self.ctx).db_proxies[self.name]

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if any(self.properties.get(key) != properties.get(key) for key in self._REPLACING):
            return super().update(new_name, properties)
        require(self.ctx, properties, "Auth", "RoleArn")
        _validate_auth_and_role(self.ctx, properties)
        proxy = self._proxy()
        proxy.auth = list(properties["Auth"])
        proxy.role_arn = properties["RoleArn"]
        if properties.get("VpcSecurityGroupIds"):
            proxy.vpc_security_group_ids = list(properties["VpcSecurityGroupIds"])
        proxy.require_tls = as_bool(properties.get("RequireTLS", False))
        proxy.idle_client_timeout = int(properties.get("IdleClientTimeout", 1800))
        proxy.debug_logging = as_bool(properties.get("DebugLogging", False))
        proxy.tags = list(properties.get("Tags") or [])
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).db_proxies.pop(self.name, None)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def attributes(self) -> dict[str, Any]:
        proxy = self._proxy()
        return {"DBProxyArn": proxy.arn, "Endpoint": proxy.endpoint, "VpcId": proxy.vpc_id}


@register
class DBProxyTargetGroup(StackResource):
    CFN_TYPE = "AWS::RDS::DBProxyTargetGroup"
    ATTRIBUTES = ("TargetGroupArn",)

    def __init__(self, proxy_name: str, arn: str, properties: dict[str, Any]):
        self.proxy_name = proxy_name
        self.arn = arn
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBProxyTargetGroup:
        require(ctx, properties, "DBProxyName", "TargetGroupName")
        if properties["TargetGroupName"] != "default":
            raise PropertiesValidationError(
                ctx.logical_id,
                f"#/TargetGroupName: {properties['TargetGroupName']} is not a valid enum value",
            )
        proxy_name = str(properties["DBProxyName"])
        proxy = _backend(ctx).db_proxies.get(proxy_name)
        if proxy is None:
            raise ResourceHandlerError(
                f"The specified proxy name {proxy_name} doesn't correspond to a proxy owned by "
                "your Amazon Web Services account in the specified Amazon Web Services Region.",
                service=_SERVICE,
                status=404,
            )
        group = cls(proxy_name, proxy.proxy_target_groups["default"].arn, properties)
        group.ctx = ctx
        group._register(properties)
        return group

    @staticmethod
    def _targets(properties: dict[str, Any]) -> tuple[list[str], list[str]]:
        return (
            [str(c).lower() for c in properties.get("DBClusterIdentifiers") or []],
            [str(i).lower() for i in properties.get("DBInstanceIdentifiers") or []],
        )

    def _register(self, properties: dict[str, Any]) -> None:
        backend = _backend(self.ctx)
        clusters, instances = self._targets(properties)
        for cluster in clusters:
            if cluster not in backend.clusters:
                raise ResourceHandlerError(
                    f"DBCluster {cluster} not found.", service=_SERVICE, status=404
                )
        for instance in instances:
            if instance not in backend.databases:
                raise ResourceHandlerError(
                    f"DBInstance {instance} not found.", service=_SERVICE, status=404
                )
        backend.register_db_proxy_targets(self.proxy_name, "default", clusters, instances)
        config = properties.get("ConnectionPoolConfigurationInfo") or {}
        if config:
            backend.modify_db_proxy_target_group(self.proxy_name, config)

    def _deregister(self) -> None:
        backend = _backend(self.ctx)
        if self.proxy_name not in backend.db_proxies:
            return  # the proxy went first; its target group went with it
        clusters, instances = self._targets(self.properties)
        backend.deregister_db_proxy_targets(self.proxy_name, "default", clusters, instances)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if any(
            self.properties.get(key) != properties.get(key)
            for key in ("DBProxyName", "TargetGroupName")
        ):
            return super().update(new_name, properties)
        self._deregister()
        self._register(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        self._deregister()

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def attributes(self) -> dict[str, Any]:
        return {"TargetGroupArn": self.arn}
