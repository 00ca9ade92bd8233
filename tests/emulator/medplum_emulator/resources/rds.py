"""AWS::RDS::{DBCluster, DBClusterParameterGroup, DBInstance, DBSubnetGroup}.

Owns: Aurora clusters, their parameter groups, subnet groups and member instances, created
in moto's rds backend (visible to DescribeDBClusters / DescribeDBInstances /
DescribeDBClusterParameterGroups / DescribeDBSubnetGroups), with CloudFormation-style
generated identifiers (lowercase ``<stack>-<logical id>-<random>``, at most 63 characters).
moto's own DBInstance model is replaced because it reads ``DBSubnetGroupName`` as an object
(a Ref is a string), ignores ``DBClusterIdentifier`` and defaults the port to MySQL's; its
DBSubnetGroup model because it has no physical id, so its Ref is the Python object.

Updates keep the identifier (AWS modifies these in place) for the properties the Medplum
deploys change: engine version, instance class, backup retention, parameter-group
parameters, security groups, CA certificate. Changing an identifier, the engine or (for a
cluster) the subnet group or database name is a replacement, as in AWS.

Does not model: AWS::RDS::DBParameterGroup (unused by the templates), a DBInstance's own
snapshot on delete (Aurora instances have none), Serverless v2 scaling, global clusters,
IAM auth, and the minutes these operations take in AWS (everything is ``available`` at once).
``DeletionPolicy: Snapshot`` on a cluster: the lifecycle emulator calls ``final_snapshot``
before the delete, which leaves a manual cluster snapshot in moto (DescribeDBClusterSnapshots).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from ._common import Context, StackResource, generated_name, register

_MAX_IDENTIFIER = 63


def _backend(ctx: Context) -> Any:
    return rds_backends[ctx.account_id][ctx.region_name]


def _changed(old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(old.get(key) != new.get(key) for key in keys)


@register
class DBSubnetGroup(StackResource):
    CFN_TYPE = "AWS::RDS::DBSubnetGroup"
    NAME_PROPERTY = "DBSubnetGroupName"

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=255, lowercase=True)

    @staticmethod
    def _subnets(ctx: Context, properties: dict[str, Any]) -> list[Any]:
        ec2 = ec2_backends[ctx.account_id][ctx.region_name]
        return [ec2.get_subnet(subnet_id) for subnet_id in properties["SubnetIds"]]

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBSubnetGroup:
        group = _backend(ctx).create_subnet_group(
            cls.resource_name(ctx, name, properties).lower(),
            properties["DBSubnetGroupDescription"],
            cls._subnets(ctx, properties),
            properties.get("Tags", []),
        )
        return cls(group.name, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties.get("DBSubnetGroupName") != self.properties.get("DBSubnetGroupName"):
            return super().update(new_name, properties)
        _backend(self.ctx).modify_db_subnet_group(
            self.name, properties["DBSubnetGroupDescription"], self._subnets(self.ctx, properties)
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_subnet_group(self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name


@register
class DBClusterParameterGroup(StackResource):
    CFN_TYPE = "AWS::RDS::DBClusterParameterGroup"
    NAME_PROPERTY = "DBClusterParameterGroupName"

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=255, lowercase=True)

    @classmethod
    def create(
        cls, ctx: Context, name: str, properties: dict[str, Any]
    ) -> DBClusterParameterGroup:
        backend = _backend(ctx)
        group = backend.create_db_cluster_parameter_group(
            db_cluster_parameter_group_name=cls.resource_name(ctx, name, properties),
            db_parameter_group_family=properties["Family"],
            description=properties.get("Description", ""),
            tags=properties.get("Tags"),
        )
        resource = cls(group.name, properties)
        resource.ctx = ctx
        resource._apply_parameters(properties.get("Parameters") or {})
        return resource

    def _apply_parameters(self, parameters: dict[str, Any]) -> None:
        _backend(self.ctx).modify_db_cluster_parameter_group(
            self.name,
            [
                {"ParameterName": key, "ParameterValue": str(value), "ApplyMethod": "immediate"}
                for key, value in parameters.items()
            ],
        )

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(
            self.properties, properties, ("Family", "DBClusterParameterGroupName", "Description")
        ):
            return super().update(new_name, properties)
        group = _backend(self.ctx).db_cluster_parameter_groups[self.name]
        group.parameters.clear()
        self._apply_parameters(properties.get("Parameters") or {})
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_db_cluster_parameter_group(self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name


@register
class DBCluster(StackResource):
    CFN_TYPE = "AWS::RDS::DBCluster"
    NAME_PROPERTY = "DBClusterIdentifier"
    ATTRIBUTES = (
        "Endpoint.Address",
        "Endpoint.Port",
        "ReadEndpoint.Address",
        "DBClusterArn",
        "DBClusterResourceId",
    )
    # Properties whose change makes AWS replace the cluster.
    _REPLACING = (
        "DBClusterIdentifier",
        "Engine",
        "DBSubnetGroupName",
        "DatabaseName",
        "StorageEncrypted",
        "KmsKeyId",
        "MasterUsername",
    )

    def __init__(self, identifier: str, properties: dict[str, Any]):
        self.identifier = identifier
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=_MAX_IDENTIFIER, lowercase=True)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBCluster:
        identifier = cls.resource_name(ctx, name, properties).lower()
        cluster = _backend(ctx).create_db_cluster(
            {
                "db_cluster_identifier": identifier,
                "engine": properties["Engine"],
                "engine_version": properties.get("EngineVersion"),
                "engine_mode": properties.get("EngineMode"),
                "master_username": properties.get("MasterUsername"),
                "master_user_password": properties.get("MasterUserPassword"),
                "backup_retention_period": int(properties.get("BackupRetentionPeriod", 1)),
                "copy_tags_to_snapshot": properties.get("CopyTagsToSnapshot", False),
                "database_name": properties.get("DatabaseName"),
                "db_cluster_parameter_group_name": properties.get(
                    "DBClusterParameterGroupName"
                ),
                "db_subnet_group_name": properties.get("DBSubnetGroupName"),
                "port": int(properties["Port"]) if "Port" in properties else None,
                "storage_encrypted": properties.get("StorageEncrypted", False),
                "kms_key_id": properties.get("KmsKeyId"),
                "vpc_security_group_ids": properties.get("VpcSecurityGroupIds", []),
                "enable_cloudwatch_logs_exports": properties.get(
                    "EnableCloudwatchLogsExports", []
                ),
                "deletion_protection": properties.get("DeletionProtection", False),
                "tags": properties.get("Tags", []),
            }
        )
        return cls(cluster.db_cluster_identifier, properties)

    def _cluster(self) -> Any:
        return _backend(self.ctx).clusters[self.identifier]

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(self.properties, properties, self._REPLACING):
            return super().update(new_name, properties)
        cluster = self._cluster()
        cluster.engine_version = properties.get("EngineVersion", cluster.engine_version)
        cluster.backup_retention_period = int(properties.get("BackupRetentionPeriod", 1))
        cluster.parameter_group = properties.get(
            "DBClusterParameterGroupName", cluster.parameter_group
        )
        cluster.vpc_security_group_ids = properties.get("VpcSecurityGroupIds", [])
        cluster.deletion_protection = properties.get("DeletionProtection", False)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        # Raises while member instances exist; moto's stack delete retries after they go.
        _backend(self.ctx).delete_db_cluster(self.identifier)

    def final_snapshot(self, name: str) -> None:
        """``DeletionPolicy: Snapshot``: the manual snapshot CloudFormation takes before it
        deletes the cluster; it outlives the stack."""
        _backend(self.ctx).create_db_cluster_snapshot(self.identifier, name, snapshot_type="manual")

    @property
    def physical_resource_id(self) -> str:
        return self.identifier

    def attributes(self) -> dict[str, Any]:
        cluster = self._cluster()
        return {
            "Endpoint.Address": cluster.endpoint,
            # CloudFormation returns ports as strings.
            "Endpoint.Port": str(cluster.port),
            "ReadEndpoint.Address": cluster.reader_endpoint,
            "DBClusterArn": cluster.db_cluster_arn,
            "DBClusterResourceId": cluster.db_cluster_resource_id,
        }


@register
class DBInstance(StackResource):
    CFN_TYPE = "AWS::RDS::DBInstance"
    NAME_PROPERTY = "DBInstanceIdentifier"
    ATTRIBUTES = ("Endpoint.Address", "Endpoint.Port", "DBInstanceArn", "DbiResourceId")
    _REPLACING = ("DBInstanceIdentifier", "DBClusterIdentifier", "Engine", "DBSubnetGroupName")

    def __init__(self, identifier: str, properties: dict[str, Any]):
        self.identifier = identifier
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=_MAX_IDENTIFIER, lowercase=True)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBInstance:
        identifier = cls.resource_name(ctx, name, properties).lower()
        db_kwargs: dict[str, Any] = {
            "db_instance_identifier": identifier,
            "db_instance_class": properties["DBInstanceClass"],
            "engine": properties.get("Engine"),
            "db_subnet_group_name": properties.get("DBSubnetGroupName"),
            "publicly_accessible": properties.get("PubliclyAccessible", False),
            "auto_minor_version_upgrade": properties.get("AutoMinorVersionUpgrade", True),
            "availability_zone": properties.get("AvailabilityZone"),
            "ca_certificate_identifier": properties.get("CACertificateIdentifier"),
            "enable_performance_insights": properties.get("EnablePerformanceInsights", False),
            "performance_insights_retention_period": properties.get(
                "PerformanceInsightsRetentionPeriod"
            ),
            "db_parameter_group_name": properties.get("DBParameterGroupName"),
            "tags": properties.get("Tags", []),
        }
        cluster_id = properties.get("DBClusterIdentifier")
        if cluster_id:
            # Storage, credentials, engine version and port belong to the cluster; moto's
            # clustered instance refuses them.
            db_kwargs["db_cluster_identifier"] = cluster_id.lower()
        else:
            db_kwargs.update(
                {
                    "allocated_storage": properties.get("AllocatedStorage"),
                    "engine_version": properties.get("EngineVersion"),
                    "master_username": properties.get("MasterUsername"),
                    "master_user_password": properties.get("MasterUserPassword"),
                    "db_name": properties.get("DBName"),
                    "port": properties.get("Port"),
                    "backup_retention_period": properties.get("BackupRetentionPeriod"),
                    "storage_encrypted": properties.get("StorageEncrypted"),
                    "vpc_security_group_ids": properties.get("VPCSecurityGroups", []),
                    "multi_az": properties.get("MultiAZ"),
                }
            )
        database = _backend(ctx).create_db_instance(
            {key: value for key, value in db_kwargs.items() if value is not None}
        )
        return cls(database.db_instance_identifier, properties)

    def _database(self) -> Any:
        return _backend(self.ctx).databases[self.identifier]

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(self.properties, properties, self._REPLACING):
            return super().update(new_name, properties)
        database = self._database()
        database.db_instance_class = properties["DBInstanceClass"]
        database.ca_certificate_identifier = properties.get("CACertificateIdentifier")
        database.auto_minor_version_upgrade = properties.get("AutoMinorVersionUpgrade", True)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_db_instance(self.identifier, skip_final_snapshot=True)

    @property
    def physical_resource_id(self) -> str:
        return self.identifier

    def attributes(self) -> dict[str, Any]:
        database = self._database()
        endpoint = database.endpoint
        return {
            "Endpoint.Address": endpoint["Address"],
            "Endpoint.Port": str(endpoint["Port"]),
            "DBInstanceArn": database.db_instance_arn,
            "DbiResourceId": database.dbi_resource_id,
        }
