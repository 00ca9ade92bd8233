"""AWS::CloudFront::{Distribution, CloudFrontOriginAccessIdentity, KeyGroup, PublicKey,
CachePolicy, ResponseHeadersPolicy}.

Owns:

* Distribution, KeyGroup and PublicKey in moto's cloudfront backend, so GetDistribution /
  ListDistributions / GetKeyGroup / GetPublicKey see them. The distribution's template
  shape (plain lists) is translated to the API shape moto stores (``Quantity``/``Items``
  wrappers, ``IsIPV6Enabled``, ``ACMCertificateArn``...). A key group's ``Items`` must name
  existing public keys, as in AWS, and are updated in place (key rotation).
* Origin access identities, cache policies and response headers policies, which moto's
  cloudfront backend does not have: they live in ``cloudfront_extras`` (a moto
  ``BackendDict``, so moto's reset clears it). ``api.py`` in this package serves
  GetCloudFrontOriginAccessIdentity / ListCloudFrontOriginAccessIdentities from it.

moto's ``Origin`` keeps an S3 origin's access identity but its GetDistribution response
omits ``S3OriginConfig``; ``install()`` gives it the property the serializer reads.

CreatePublicKey through the API refuses a name or CallerReference already in use with
``PublicKeyAlreadyExists`` (HTTP 409), as AWS does; moto makes a duplicate, which hid a
retried create (its first answer lost) registering the same key twice.

Does not model: origin request policies, functions and Lambda@Edge associations, origin
groups, the "distribution must be disabled before deletion" rule (deletion is immediate),
and validation of WebACLId / certificate ARNs / policy ids referenced by a distribution.
"""

from __future__ import annotations

import string
import uuid
from typing import Any

from moto.cloudfront.models import Origin, cloudfront_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random as random
from moto.utilities.utils import PARTITION_NAMES

from ._common import Context, ResourceHandlerError, StackResource, on_install, register


class OriginAccessIdentity:
    """What GetCloudFrontOriginAccessIdentity returns, in the shape its serializer reads."""

    def __init__(self, comment: str):
        # AWS ids: "E" and 13 upper-case letters/digits; canonical user ids: 96 hex digits.
        alphabet = string.ascii_uppercase + string.digits
        self.id = "E" + "".join(random.choice(alphabet) for _ in range(13))
        self.s3_canonical_user_id = "".join(random.choice("0123456789abcdef") for _ in range(96))
        self.comment = comment
        self.caller_reference = str(uuid.uuid4())
        self.etag = "".join(random.choice(alphabet) for _ in range(14))

    @property
    def cloud_front_origin_access_identity_config(self) -> dict[str, str]:
        return {"CallerReference": self.caller_reference, "Comment": self.comment}


class Policy:
    """A cache policy or response headers policy: an id and the template's config."""

    def __init__(self, config: dict[str, Any]):
        self.id = str(uuid.uuid4())
        self.config = config
        self.last_modified_time = utcnow()


class CloudFrontExtrasBackend(BaseBackend):
    """CloudFront objects moto's cloudfront backend lacks."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.origin_access_identities: dict[str, OriginAccessIdentity] = {}
        self.cache_policies: dict[str, Policy] = {}
        self.response_headers_policies: dict[str, Policy] = {}


# Keyed like moto's cloudfront_backends: account, then partition (CloudFront is global).
cloudfront_extras = BackendDict(
    CloudFrontExtrasBackend,
    "cloudfront",
    use_boto3_regions=False,
    additional_regions=PARTITION_NAMES,
)


def _backend(ctx: Context) -> Any:
    return cloudfront_backends[ctx.account_id][ctx.partition]


def _extras(ctx: Context) -> CloudFrontExtrasBackend:
    return cloudfront_extras[ctx.account_id][ctx.partition]


def _items(values: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(values), "Items": values}


def _origin(origin: dict[str, Any]) -> dict[str, Any]:
    api = {key: origin[key] for key in ("Id", "DomainName", "OriginPath") if key in origin}
    if "S3OriginConfig" in origin:
        api["S3OriginConfig"] = {
            "OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity", "")
        }
    if "CustomOriginConfig" in origin:
        custom = origin["CustomOriginConfig"]
        api["CustomOriginConfig"] = {
            "HTTPPort": custom.get("HTTPPort", 80),
            "HTTPSPort": custom.get("HTTPSPort", 443),
            "OriginProtocolPolicy": custom["OriginProtocolPolicy"],
            "OriginSslProtocols": _items(custom.get("OriginSSLProtocols", ["TLSv1.2"])),
        }
    return api


def _behavior(behavior: dict[str, Any]) -> dict[str, Any]:
    api = {
        key: value
        for key, value in behavior.items()
        if key not in ("AllowedMethods", "CachedMethods", "TrustedKeyGroups", "TrustedSigners")
    }
    methods = behavior.get("AllowedMethods", ["GET", "HEAD"])
    api["AllowedMethods"] = {
        **_items(methods),
        "CachedMethods": _items(behavior.get("CachedMethods", ["GET", "HEAD"])),
    }
    key_groups = behavior.get("TrustedKeyGroups", [])
    api["TrustedKeyGroups"] = {"Enabled": bool(key_groups), **_items(key_groups)}
    return api


def _api_config(config: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    """The template's DistributionConfig in the CreateDistribution request shape."""
    certificate = config.get("ViewerCertificate", {})
    api: dict[str, Any] = {
        "CallerReference": caller_reference,
        "Comment": config.get("Comment", ""),
        "Enabled": config["Enabled"],
        "Aliases": _items(config.get("Aliases", [])),
        "Origins": _items([_origin(origin) for origin in config.get("Origins", [])]),
        "DefaultCacheBehavior": _behavior(config["DefaultCacheBehavior"]),
        "DefaultRootObject": config.get("DefaultRootObject", ""),
        "HttpVersion": config.get("HttpVersion", "http1.1"),
        "IsIPV6Enabled": config.get("IPV6Enabled", False),
        "PriceClass": config.get("PriceClass", "PriceClass_All"),
        "WebACLId": config.get("WebACLId", ""),
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": certificate.get(
                "CloudFrontDefaultCertificate", "AcmCertificateArn" not in certificate
            ),
            "ACMCertificateArn": certificate.get("AcmCertificateArn", ""),
            "SSLSupportMethod": certificate.get("SslSupportMethod", "sni-only"),
            "MinimumProtocolVersion": certificate.get("MinimumProtocolVersion", "TLSv1"),
        },
    }
    if config.get("CacheBehaviors"):
        api["CacheBehaviors"] = _items([_behavior(b) for b in config["CacheBehaviors"]])
    if config.get("CustomErrorResponses"):
        api["CustomErrorResponses"] = _items(config["CustomErrorResponses"])
    if "Logging" in config:
        api["Logging"] = {
            "Enabled": True,
            "IncludeCookies": config["Logging"].get("IncludeCookies", False),
            "Bucket": config["Logging"]["Bucket"],
            "Prefix": config["Logging"].get("Prefix", ""),
        }
    return api


@register
class Distribution(StackResource):
    CFN_TYPE = "AWS::CloudFront::Distribution"
    ATTRIBUTES = ("DomainName", "Id")

    def __init__(self, distribution_id: str, caller_reference: str, properties: dict[str, Any]):
        self.distribution_id = distribution_id
        self.caller_reference = caller_reference
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Distribution:
        caller_reference = str(uuid.uuid4())
        distribution, _location, _etag = _backend(ctx).create_distribution(
            _api_config(properties["DistributionConfig"], caller_reference),
            tags=properties.get("Tags", []),
        )
        return cls(distribution.distribution_id, caller_reference, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # Every DistributionConfig change is an in-place UpdateDistribution in AWS.
        _backend(self.ctx).update_distribution(
            _api_config(properties["DistributionConfig"], self.caller_reference),
            self.distribution_id,
            if_match=True,
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_distribution(self.distribution_id, if_match=True)

    @property
    def physical_resource_id(self) -> str:
        return self.distribution_id

    def attributes(self) -> dict[str, Any]:
        distribution = _backend(self.ctx).distributions[self.distribution_id]
        return {"DomainName": distribution.domain_name, "Id": self.distribution_id}


@register
class CloudFrontOriginAccessIdentity(StackResource):
    CFN_TYPE = "AWS::CloudFront::CloudFrontOriginAccessIdentity"
    ATTRIBUTES = ("Id", "S3CanonicalUserId")

    def __init__(self, identity: OriginAccessIdentity, properties: dict[str, Any]):
        self.identity = identity
        self.properties = properties

    @classmethod
    def create(
        cls, ctx: Context, name: str, properties: dict[str, Any]
    ) -> CloudFrontOriginAccessIdentity:
        config = properties["CloudFrontOriginAccessIdentityConfig"]
        identity = OriginAccessIdentity(config.get("Comment", ""))
        _extras(ctx).origin_access_identities[identity.id] = identity
        return cls(identity, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # The comment is the only property; AWS updates it in place.
        self.identity.comment = properties["CloudFrontOriginAccessIdentityConfig"].get(
            "Comment", ""
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        del _extras(self.ctx).origin_access_identities[self.identity.id]

    @property
    def physical_resource_id(self) -> str:
        return self.identity.id

    def attributes(self) -> dict[str, Any]:
        return {"Id": self.identity.id, "S3CanonicalUserId": self.identity.s3_canonical_user_id}


@register
class PublicKey(StackResource):
    CFN_TYPE = "AWS::CloudFront::PublicKey"
    ATTRIBUTES = ("Id",)

    def __init__(self, key_id: str, properties: dict[str, Any]):
        self.key_id = key_id
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> PublicKey:
        config = properties["PublicKeyConfig"]
        key = _backend(ctx).create_public_key(
            caller_ref=config["CallerReference"],
            name=config["Name"],
            encoded_key=config["EncodedKey"],
        )
        key.comment = config.get("Comment", "")
        return cls(key.id, properties)

    # A changed key is a new key (UpdatePublicKey can only change the comment): the default
    # replacement creates it under a new id, which is what key groups then reference.

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_public_key(self.key_id)

    @property
    def physical_resource_id(self) -> str:
        return self.key_id

    def attributes(self) -> dict[str, Any]:
        return {"Id": self.key_id}


@register
class KeyGroup(StackResource):
    CFN_TYPE = "AWS::CloudFront::KeyGroup"
    ATTRIBUTES = ("Id",)

    def __init__(self, group_id: str, properties: dict[str, Any]):
        self.group_id = group_id
        self.properties = properties

    @staticmethod
    def _checked(ctx: Context, config: dict[str, Any]) -> tuple[str, list[str]]:
        items = list(config.get("Items", []))
        known = _backend(ctx).public_keys
        for key_id in items:
            if key_id not in known:
                raise ResourceHandlerError(
                    f"The specified public key {key_id} does not exist.",
                    service="CloudFront",
                    status=404,
                )
        return config["Name"], items

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> KeyGroup:
        group_name, items = cls._checked(ctx, properties["KeyGroupConfig"])
        group = _backend(ctx).create_key_group(name=group_name, items=items)
        return cls(group.id, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # UpdateKeyGroup: same id, new items (key rotation adds a key, later drops the old).
        group_name, items = self._checked(self.ctx, properties["KeyGroupConfig"])
        group = _backend(self.ctx).key_groups[self.group_id]
        group.name = group_name
        group.items = items
        group.etag = "".join(random.choice(string.ascii_uppercase) for _ in range(14))
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        # moto's cloudfront backend has no DeleteKeyGroup.
        del _backend(self.ctx).key_groups[self.group_id]

    @property
    def physical_resource_id(self) -> str:
        return self.group_id

    def attributes(self) -> dict[str, Any]:
        return {"Id": self.group_id}


class _PolicyResource(StackResource):
    """Cache and response headers policies: an id, a config, updated in place."""

    CONFIG_PROPERTY: str
    STORE: str
    ATTRIBUTES = ("Id", "LastModifiedTime")

    def __init__(self, policy: Policy, properties: dict[str, Any]):
        self.policy = policy
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> _PolicyResource:
        store = getattr(_extras(ctx), cls.STORE)
        config = properties[cls.CONFIG_PROPERTY]
        if any(policy.config["Name"] == config["Name"] for policy in store.values()):
            raise ResourceHandlerError(
                f"A policy named {config['Name']} already exists.", service="CloudFront", status=409
            )
        policy = Policy(config)
        store[policy.id] = policy
        return cls(policy, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        self.policy.config = properties[self.CONFIG_PROPERTY]
        self.policy.last_modified_time = utcnow()
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        del getattr(_extras(self.ctx), self.STORE)[self.policy.id]

    @property
    def physical_resource_id(self) -> str:
        return self.policy.id

    def attributes(self) -> dict[str, Any]:
        return {
            "Id": self.policy.id,
            "LastModifiedTime": self.policy.last_modified_time.isoformat(),
        }


@register
class CachePolicy(_PolicyResource):
    CFN_TYPE = "AWS::CloudFront::CachePolicy"
    CONFIG_PROPERTY = "CachePolicyConfig"
    STORE = "cache_policies"


@register
class ResponseHeadersPolicy(_PolicyResource):
    CFN_TYPE = "AWS::CloudFront::ResponseHeadersPolicy"
    CONFIG_PROPERTY = "ResponseHeadersPolicyConfig"
    STORE = "response_headers_policies"


@on_install
def _serialize_s3_origin_config() -> None:
    def s3_origin_config(origin: Origin) -> dict[str, str] | None:
        if not origin.s3_access_identity:
            return None
        return {"OriginAccessIdentity": origin.s3_access_identity}

    Origin.s3_origin_config = property(s3_origin_config)


class PublicKeyAlreadyExists(ServiceException):
    code = "PublicKeyAlreadyExists"
    message = "The specified public key already exists."


@on_install
def _refuse_duplicate_public_keys() -> None:
    from moto.cloudfront.responses import CloudFrontResponse

    original = CloudFrontResponse.create_public_key

    def create_public_key(self: CloudFrontResponse) -> Any:
        config = self._get_param("PublicKeyConfig")
        for key in self.backend.public_keys.values():
            if key.name == config.get("Name") or key.caller_ref == config.get("CallerReference"):
                raise PublicKeyAlreadyExists()
        return original(self)

    CloudFrontResponse.create_public_key = create_public_key
