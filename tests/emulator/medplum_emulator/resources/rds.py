"""AWS::RDS::{DBCluster, DBClusterParameterGroup, DBInstance, DBParameterGroup, DBSubnetGroup}.

Owns: Aurora clusters, their parameter groups, their instances' parameter groups, subnet
groups and member instances, created in moto's rds backend (visible to DescribeDBClusters /
DescribeDBInstances / DescribeDBClusterParameterGroups / DescribeDBParameterGroups /
DescribeDBParameters / DescribeDBSubnetGroups), with CloudFormation-style generated
identifiers (lowercase ``<stack>-<logical id>-<random>``, at most 63 characters; parameter
and subnet group names at most 255). moto's own DBInstance model is replaced because it reads
``DBSubnetGroupName`` as an object (a Ref is a string), ignores ``DBClusterIdentifier`` and
defaults the port to MySQL's; its DBSubnetGroup and DBParameterGroup models because they
have no physical id, so their Ref is the Python object (an instance naming the group failed).

Parameter group names are stored lowercase, as RDS stores them (moto lowercases the group's
name but keys its store by the name as given, so a mixed-case explicit name was unreachable).
A DBInstance's ``DBParameterGroupName`` must name a group of the region (or a ``default.``
group of its engine), else it fails as RDS does (DBParameterGroupNotFound); it is recorded on
the instance (DescribeDBInstances ``DBParameterGroups``) and changes in place. Deleting a
parameter group that an instance (DBParameterGroup) or a cluster (DBClusterParameterGroup)
still uses fails with InvalidDBParameterGroupState, through the API as through a stack
(``_refuse_deleting_groups_in_use`` patches moto's backend, which deleted them).

Updates keep the identifier (AWS modifies these in place) for the properties the Medplum
deploys change: engine version, instance class, backup retention, parameter groups and their
parameters, security groups, CA certificate. Changing an identifier, the engine or (for a
cluster) the subnet group or database name is a replacement, as in AWS; so is a parameter
group's new name, family or description.

Does not model: the family of an instance's parameter group matching its engine version, a
DBInstance's own snapshot on delete (Aurora instances have none), Serverless v2 scaling,
global clusters, IAM auth, and the minutes these operations take in AWS (everything is
``available`` at once).
``DeletionPolicy: Snapshot`` on a cluster: the lifecycle emulator calls ``final_snapshot``
before the delete, which leaves a manual cluster snapshot in moto (DescribeDBClusterSnapshots).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.ec2.models import ec2_backends
from moto.rds.exceptions import RDSClientError
from moto.rds.models import rds_backends

from ._common import (
    AlreadyExistsError,
    Context,
    PropertiesValidationError,
    ResourceHandlerError,
    StackResource,
    generated_name,
    on_install,
    register,
    require,
)

_MAX_IDENTIFIER = 63
#: RDS's limit on parameter group (and subnet group) names.
_MAX_GROUP_NAME = 255
#: The resource schema's pattern for DBParameterGroupName: a letter first, then letters,
#: digits and single hyphens, no trailing hyphen.
_GROUP_NAME = re.compile(r"[a-zA-Z](?:-?[a-zA-Z0-9])*")
_SERVICE = "Rds"


def _backend(ctx: Context) -> Any:
    return rds_backends[ctx.account_id][ctx.region_name]


def _changed(old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(old.get(key) != new.get(key) for key in keys)


def _group_name(value: Any) -> str | None:
    """A parameter group name as RDS stores it (lowercase), or None when absent."""
    return str(value).lower() if value else None


def _parameters(properties: dict[str, Any]) -> list[dict[str, str]]:
    """``Parameters`` (a map, or that map as a JSON string, as the schema allows) as the
    ModifyDB[Cluster]ParameterGroup list."""
    parameters = properties.get("Parameters") or {}
    if isinstance(parameters, str):
        parameters = json.loads(parameters) if parameters.strip() else {}
    return [
        {"ParameterName": key, "ParameterValue": str(value), "ApplyMethod": "immediate"}
        for key, value in parameters.items()
    ]


class InvalidDBParameterGroupState(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidDBParameterGroupState", message)


@on_install
def _refuse_deleting_groups_in_use() -> None:
    """As RDS: DeleteDBParameterGroup / DeleteDBClusterParameterGroup refuse a group that an
    instance / a cluster still uses (moto deleted it, leaving the instance naming nothing).
    The instance wording is RDS's; the cluster wording follows it (not verified)."""
    from moto.rds.models import RDSBackend

    delete_group = RDSBackend.delete_db_parameter_group
    delete_cluster_group = RDSBackend.delete_db_cluster_parameter_group

    def delete_db_parameter_group(self: RDSBackend, db_parameter_group_name: str) -> Any:
        if any(
            database.db_parameter_group_name == db_parameter_group_name
            for database in self.databases.values()
        ):
            raise InvalidDBParameterGroupState(
                "One or more database instances are still members of this parameter group "
                f"{db_parameter_group_name}, so the group cannot be deleted"
            )
        return delete_group(self, db_parameter_group_name)

    def delete_db_cluster_parameter_group(
        self: RDSBackend, db_cluster_parameter_group_name: str
    ) -> Any:
        if any(
            cluster.parameter_group == db_cluster_parameter_group_name
            for cluster in self.clusters.values()
        ):
            raise InvalidDBParameterGroupState(
                "One or more database clusters are still members of this parameter group "
                f"{db_cluster_parameter_group_name}, so the group cannot be deleted"
            )
        return delete_cluster_group(self, db_cluster_parameter_group_name)

    RDSBackend.delete_db_parameter_group = delete_db_parameter_group
    RDSBackend.delete_db_cluster_parameter_group = delete_db_cluster_parameter_group


def _delete_group(delete: Any, name: str) -> None:
    try:
        delete(name)
    except RDSClientError as error:
        raise ResourceHandlerError(error.message, service=_SERVICE) from error


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
            # moto keys its store by the name as given but lowercases the group's own name.
            db_cluster_parameter_group_name=cls.resource_name(ctx, name, properties).lower(),
            db_parameter_group_family=properties["Family"],
            description=properties.get("Description", ""),
            tags=properties.get("Tags"),
        )
        resource = cls(group.name, properties)
        resource.ctx = ctx
        resource._apply_parameters(properties)
        return resource

    def _apply_parameters(self, properties: dict[str, Any]) -> None:
        _backend(self.ctx).modify_db_cluster_parameter_group(self.name, _parameters(properties))

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(
            self.properties, properties, ("Family", "DBClusterParameterGroupName", "Description")
        ):
            return super().update(new_name, properties)
        group = _backend(self.ctx).db_cluster_parameter_groups[self.name]
        group.parameters.clear()
        self._apply_parameters(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _delete_group(_backend(self.ctx).delete_db_cluster_parameter_group, self.name)

    @property
    def physical_resource_id(self) -> str:
        return self.name


@register
class DBParameterGroup(StackResource):
    """An instance parameter group. Ref: its (lowercase) name. ``Parameters`` and ``Tags``
    change in place; a new name, family or description replaces it (all three are
    create-only in the resource schema)."""

    CFN_TYPE = "AWS::RDS::DBParameterGroup"
    NAME_PROPERTY = "DBParameterGroupName"
    _REPLACING = ("DBParameterGroupName", "Family", "Description")

    def __init__(self, name: str, properties: dict[str, Any]):
        self.name = name
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=_MAX_GROUP_NAME, lowercase=True)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> DBParameterGroup:
        require(ctx, properties, "Family", "Description")
        explicit = properties.get(cls.NAME_PROPERTY)
        if explicit and not _GROUP_NAME.fullmatch(str(explicit)):
            raise PropertiesValidationError(
                ctx.logical_id,
                f"#/{cls.NAME_PROPERTY}: failed validation constraint for keyword [pattern]",
            )
        group_name = cls.resource_name(ctx, name, properties).lower()
        if len(group_name) > _MAX_GROUP_NAME:
            raise ResourceHandlerError(
                f"Invalid parameter group name: {group_name} is longer than "
                f"{_MAX_GROUP_NAME} characters.",
                service=_SERVICE,
            )
        backend = _backend(ctx)
        if group_name in backend.db_parameter_groups:
            raise AlreadyExistsError(cls.CFN_TYPE, group_name)
        try:
            group = backend.create_db_parameter_group(
                {
                    "db_parameter_group_name": group_name,
                    "db_parameter_group_family": str(properties["Family"]),
                    "description": str(properties["Description"]),
                    "tags": list(properties.get("Tags") or []),
                }
            )
        except RDSClientError as error:
            raise ResourceHandlerError(error.message, service=_SERVICE) from error
        resource = cls(group.name, properties)
        resource.ctx = ctx
        backend.modify_db_parameter_group(group.name, _parameters(properties))
        return resource

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(self.properties, properties, self._REPLACING):
            return super().update(new_name, properties)
        backend = _backend(self.ctx)
        group = backend.db_parameter_groups[self.name]
        # A parameter left out of the template goes back to the family default (AWS resets
        # it); moto's store holds only what was set.
        group.parameters.clear()
        backend.modify_db_parameter_group(self.name, _parameters(properties))
        group.tags = list(properties.get("Tags") or [])
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _delete_group(_backend(self.ctx).delete_db_parameter_group, self.name)

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
                "db_cluster_parameter_group_name": _group_name(
                    properties.get("DBClusterParameterGroupName")
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
        cluster.parameter_group = (
            _group_name(properties.get("DBClusterParameterGroupName")) or cluster.parameter_group
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
            "db_parameter_group_name": cls._parameter_group(ctx, properties),
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

    @staticmethod
    def _parameter_group(ctx: Context, properties: dict[str, Any]) -> str | None:
        """``DBParameterGroupName``, lowercase; it must name a group of the region or one of
        the engine's ``default.`` groups (which exist in every account), as in RDS."""
        name = _group_name(properties.get("DBParameterGroupName"))
        if name is None:
            return None
        engine = str(properties.get("Engine") or "").lower()
        default = bool(engine) and name.startswith(f"default.{engine}")
        if name not in _backend(ctx).db_parameter_groups and not default:
            raise ResourceHandlerError(
                f"DBParameterGroup not found: {name}", service=_SERVICE, status=404
            )
        return name

    def _database(self) -> Any:
        return _backend(self.ctx).databases[self.identifier]

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if _changed(self.properties, properties, self._REPLACING):
            return super().update(new_name, properties)
        database = self._database()
        # Validated first: a failed update leaves the instance as it was.
        parameter_group = self._parameter_group(self.ctx, properties)
        database.db_parameter_group_name = parameter_group
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
