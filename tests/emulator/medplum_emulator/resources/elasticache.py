"""AWS::ElastiCache::ReplicationGroup and AWS::ElastiCache::SubnetGroup.

Owns: Redis replication groups and cache subnet groups in moto's elasticache backend
(visible to DescribeReplicationGroups / DescribeCacheSubnetGroups), with generated
lowercase identifiers (40 characters for a replication group, as ElastiCache allows), the
primary/reader endpoint attributes, and in-place updates of the properties ElastiCache
modifies without replacement (description, node type, failover, Multi-AZ, snapshot
retention). Deleting removes the object from the backend at once; moto's own delete only
marks a replication group ``deleting`` and keeps it listed forever, and has no delete for
subnet groups, so both are removed from the backend's dictionaries directly.

Does not model: cluster mode enabled (configuration endpoint attributes), global
replication groups, user groups, the auth token (accepted, not stored or checked), and the
member cache clusters (moto lists their names but does not create them).
"""

from __future__ import annotations

from typing import Any

from moto.elasticache.models import elasticache_backends

from ._common import Context, StackResource, generated_name, register


def _backend(ctx: Context) -> Any:
    return elasticache_backends[ctx.account_id][ctx.region_name]


@register
class SubnetGroup(StackResource):
    CFN_TYPE = "AWS::ElastiCache::SubnetGroup"
    NAME_PROPERTY = "CacheSubnetGroupName"

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=255, lowercase=True)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> SubnetGroup:
        group = _backend(ctx).create_cache_subnet_group(
            cache_subnet_group_name=cls.resource_name(ctx, name, properties).lower(),
            cache_subnet_group_description=properties["Description"],
            subnet_ids=properties["SubnetIds"],
            tags=properties.get("Tags"),
        )
        return cls(group.cache_subnet_group_name, properties)

    def delete_resource(self) -> None:
        del _backend(self.ctx).cache_subnet_groups[self.name]

    @property
    def physical_resource_id(self) -> str:
        return self.name


@register
class ReplicationGroup(StackResource):
    CFN_TYPE = "AWS::ElastiCache::ReplicationGroup"
    NAME_PROPERTY = "ReplicationGroupId"
    ATTRIBUTES = (
        "PrimaryEndPoint.Address",
        "PrimaryEndPoint.Port",
        "ReaderEndPoint.Address",
        "ReaderEndPoint.Port",
    )
    # Everything else in the templates is a replacement in AWS too (engine, subnet group,
    # encryption settings, node-group layout).
    _IN_PLACE = {
        "ReplicationGroupDescription",
        "CacheNodeType",
        "AutomaticFailoverEnabled",
        "MultiAZEnabled",
        "SnapshotRetentionLimit",
        "EngineVersion",
        "AuthToken",
        "SecurityGroupIds",
        "Tags",
    }

    def __init__(self, group_id: str, properties: dict[str, Any]):
        self.group_id = group_id
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=40, lowercase=True)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> ReplicationGroup:
        group_id = cls.resource_name(ctx, name, properties).lower()
        _backend(ctx).create_replication_group(
            replication_group_id=group_id,
            replication_group_description=properties["ReplicationGroupDescription"],
            global_replication_group_id=None,
            primary_cluster_id=properties.get("PrimaryClusterId"),
            automatic_failover_enabled=properties.get("AutomaticFailoverEnabled", False),
            multi_az_enabled=properties.get("MultiAZEnabled", False),
            num_cache_clusters=properties.get("NumCacheClusters"),
            preferred_cache_cluster_azs=properties.get("PreferredCacheClusterAZs", []),
            num_node_groups=properties.get("NumNodeGroups"),
            replicas_per_node_group=properties.get("ReplicasPerNodeGroup"),
            node_group_configuration=properties.get("NodeGroupConfiguration", []),
            cache_node_type=properties.get("CacheNodeType"),
            engine=properties.get("Engine", "redis").lower(),
            engine_version=properties.get("EngineVersion"),
            cache_parameter_group_name=properties.get("CacheParameterGroupName"),
            cache_subnet_group_name=properties.get("CacheSubnetGroupName"),
            cache_security_group_names=properties.get("CacheSecurityGroupNames", []),
            security_group_ids=properties.get("SecurityGroupIds", []),
            tags=properties.get("Tags", []),
            snapshot_arns=properties.get("SnapshotArns", []),
            snapshot_name=properties.get("SnapshotName"),
            preferred_maintenance_window=properties.get("PreferredMaintenanceWindow"),
            port=properties.get("Port"),
            notification_topic_arn=properties.get("NotificationTopicArn"),
            auto_minor_version_upgrade=properties.get("AutoMinorVersionUpgrade", True),
            snapshot_retention_limit=properties.get("SnapshotRetentionLimit", 0),
            snapshot_window=properties.get("SnapshotWindow"),
            auth_token=properties.get("AuthToken"),
            transit_encryption_enabled=properties.get("TransitEncryptionEnabled", False),
            at_rest_encryption_enabled=properties.get("AtRestEncryptionEnabled", False),
            kms_key_id=properties.get("KmsKeyId"),
            user_group_ids=properties.get("UserGroupIds", []),
            log_delivery_configurations=properties.get("LogDeliveryConfigurations", []),
            data_tiering_enabled=properties.get("DataTieringEnabled", False),
            network_type=properties.get("NetworkType"),
            ip_discovery=properties.get("IpDiscovery"),
            transit_encryption_mode=properties.get("TransitEncryptionMode"),
            cluster_mode=properties.get("ClusterMode"),
            serverless_cache_snapshot_name=None,
        )
        return cls(group_id, properties)

    def _group(self) -> Any:
        return _backend(self.ctx).replication_groups[self.group_id]

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        changed = {
            key
            for key in set(self.properties) | set(properties)
            if self.properties.get(key) != properties.get(key)
        }
        if not changed <= self._IN_PLACE:
            return super().update(new_name, properties)
        _backend(self.ctx).modify_replication_group(
            replication_group_id=self.group_id,
            replication_group_description=properties.get("ReplicationGroupDescription"),
            engine=None,
            cache_node_type=properties.get("CacheNodeType"),
            automatic_failover_enabled=properties.get("AutomaticFailoverEnabled"),
            multi_az_enabled=properties.get("MultiAZEnabled"),
            snapshot_retention_limit=properties.get("SnapshotRetentionLimit"),
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        del _backend(self.ctx).replication_groups[self.group_id]

    @property
    def physical_resource_id(self) -> str:
        return self.group_id

    def attributes(self) -> dict[str, Any]:
        node_group = self._group().node_groups[0]
        # CloudFormation returns ports as strings.
        return {
            "PrimaryEndPoint.Address": node_group["primary_endpoint_address"],
            "PrimaryEndPoint.Port": str(node_group["port"]),
            "ReaderEndPoint.Address": node_group["reader_endpoint_address"],
            "ReaderEndPoint.Port": str(node_group["port"]),
        }
