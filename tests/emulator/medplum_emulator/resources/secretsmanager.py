"""AWS::SecretsManager::Secret and AWS::SecretsManager::SecretTargetAttachment.

Owns: secrets created in moto's secretsmanager backend (visible to GetSecretValue /
DescribeSecret), with ``GenerateSecretString`` producing a real random password merged into
``SecretStringTemplate``; the target attachment adding ``engine``/``host``/``port``/
``dbClusterIdentifier`` of an RDS cluster to the secret, as AWS does. Secrets are deleted
without a recovery window, as CloudFormation deletes them.

Does not model: rotation, replica regions, KMS encryption, resource policies, attachment to
DB instances / Redshift / DocumentDB (only ``AWS::RDS::DBCluster`` targets), and removing
the added keys when an attachment is deleted (AWS does not remove them either).
"""

from __future__ import annotations

import json
import string
from typing import Any

from moto.moto_api._internal import mock_random as random
from moto.rds.models import rds_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.utils import random_password

from ._common import Context, ResourceHandlerError, StackResource, register

# Engine names as AWS writes them into an attached secret, keyed by the cluster's engine.
_SECRET_ENGINE = {
    "aurora-postgresql": "postgres",
    "aurora-mysql": "mysql",
    "aurora": "mysql",
}


def _backend(ctx: Context) -> Any:
    return secretsmanager_backends[ctx.account_id][ctx.region_name]


def _secret_string(properties: dict[str, Any]) -> str:
    if "SecretString" in properties:
        return str(properties["SecretString"])
    spec = properties.get("GenerateSecretString")
    if spec is None:
        # AWS generates a 32-character password when neither property is given.
        spec = {}
    password = random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
        exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
        exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
        exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
        include_space=bool(spec.get("IncludeSpace", False)),
        require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
    )
    if "SecretStringTemplate" not in spec:
        return password
    try:
        document = json.loads(spec["SecretStringTemplate"])
    except ValueError as error:
        raise ResourceHandlerError(
            f"SecretStringTemplate is not valid JSON: {error}", service="AWSSecretsManager"
        ) from error
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


@register
class Secret(StackResource):
    CFN_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Id",)

    def __init__(self, arn: str, properties: dict[str, Any]):
        self.arn = arn
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        # CloudFormation names unnamed secrets <logical id>-<12 random letters and digits>.
        alphabet = string.ascii_letters + string.digits
        return f"{ctx.logical_id[:200]}-" + "".join(random.choice(alphabet) for _ in range(12))

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Secret:
        created = _backend(ctx).create_secret(
            name=cls.resource_name(ctx, name, properties),
            secret_string=_secret_string(properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"], properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties.get("Name") != self.properties.get("Name"):
            return super().update(new_name, properties)
        # Name unchanged: AWS updates in place, generating a new value only when the value's
        # definition changed (e.g. the Redis secret's template after a new endpoint).
        value_changed = any(
            properties.get(key) != self.properties.get(key)
            for key in ("SecretString", "GenerateSecretString")
        )
        _backend(self.ctx).update_secret(
            secret_id=self.arn,
            secret_string=_secret_string(properties) if value_changed else None,
            description=properties.get("Description"),
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_secret(
            self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
        )

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def attributes(self) -> dict[str, Any]:
        return {"Id": self.arn}


@register
class SecretTargetAttachment(StackResource):
    CFN_TYPE = "AWS::SecretsManager::SecretTargetAttachment"

    def __init__(self, secret_arn: str, properties: dict[str, Any]):
        self.secret_arn = secret_arn
        self.properties = properties

    @classmethod
    def create(
        cls, ctx: Context, name: str, properties: dict[str, Any]
    ) -> SecretTargetAttachment:
        target_type = properties.get("TargetType")
        if target_type != "AWS::RDS::DBCluster":
            raise ResourceHandlerError(
                f"TargetType {target_type} is not modelled by the emulator",
                service="AWSSecretsManager",
            )
        backend = _backend(ctx)
        secret = backend.describe_secret(properties["SecretId"])
        cluster = rds_backends[ctx.account_id][ctx.region_name].describe_db_clusters(
            db_cluster_identifier=properties["TargetId"]
        )[0]
        current = backend.get_secret_value(secret.arn, None, None)["SecretString"]
        document = json.loads(current)
        document.update(
            {
                "engine": _SECRET_ENGINE.get(cluster.engine, cluster.engine),
                "host": cluster.endpoint,
                "port": int(cluster.port),
                "dbClusterIdentifier": cluster.db_cluster_identifier,
            }
        )
        backend.put_secret_value(
            secret_id=secret.arn,
            secret_string=json.dumps(document),
            secret_binary=None,
            client_request_token=None,
            version_stages=["AWSCURRENT"],
        )
        return cls(secret.arn, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # Re-attaching writes the (possibly new) target's connection keys into the secret.
        return type(self)._create(self.ctx, new_name, {"Properties": properties})

    def delete_resource(self) -> None:
        # Detaching leaves the secret and its keys as they are, like AWS.
        pass

    @property
    def physical_resource_id(self) -> str:
        # Ref of an attachment is the secret's ARN; the SSM parameter DatabaseSecrets reads it.
        return self.secret_arn
