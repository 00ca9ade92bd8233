"""CloudFront API operations moto does not serve, for objects the models here create.

Owns: GetCloudFrontOriginAccessIdentity and ListCloudFrontOriginAccessIdentities, answered
from ``cloudfront.cloudfront_extras``, so tests and the CLI can read back the origin access
identities a stack created. ``install()`` adds the two REST paths to moto's cloudfront URL
table and the two handlers to moto's ``CloudFrontResponse``; it must run before the server
serves its first CloudFront request (the URL table is read when the service's app is built).

Also makes GetPublicKey and DeletePublicKey of a key that does not exist answer
``NoSuchPublicKey`` (HTTP 404), as AWS does: moto raised ``KeyError`` (HTTP 500) on the get and
accepted the delete, so a purge run twice could not be told from a broken endpoint.

Does not serve: Create/Update/Delete of origin access identities, and any cache policy or
response headers policy operation (those objects are only reachable through the stack).
"""

from __future__ import annotations

from moto.cloudfront import urls
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult

from .cloudfront import cloudfront_extras


class NoSuchCloudFrontOriginAccessIdentity(ServiceException):
    code = "NoSuchCloudFrontOriginAccessIdentity"
    message = "The specified origin access identity does not exist."


class NoSuchPublicKey(ServiceException):
    code = "NoSuchPublicKey"
    message = "The specified public key does not exist."


_ORIGINAL_GET_PUBLIC_KEY = CloudFrontResponse.get_public_key
_ORIGINAL_DELETE_PUBLIC_KEY = CloudFrontResponse.delete_public_key


def _known_key(response: CloudFrontResponse) -> None:
    if response._get_param("Id") not in response.backend.public_keys:
        raise NoSuchPublicKey()


def get_public_key(self: CloudFrontResponse) -> ActionResult:
    _known_key(self)
    return _ORIGINAL_GET_PUBLIC_KEY(self)


class PublicKeyInUse(ServiceException):
    code = "PublicKeyInUse"
    message = "The specified public key is in use."


class InvalidIfMatchVersion(ServiceException):
    code = "InvalidIfMatchVersion"
    message = "The If-Match version is missing or not valid for the resource."


def delete_public_key(self: CloudFrontResponse) -> ActionResult:
    """As CloudFront: a key a key group still trusts cannot go (409 PublicKeyInUse), and the
    delete needs the key's ETag in If-Match; moto deleted any key, with or without either."""
    _known_key(self)
    key_id = self._get_param("Id")
    if any(key_id in g.items for g in self.backend.key_groups.values()):
        raise PublicKeyInUse()
    if self.headers.get("If-Match") != self.backend.public_keys[key_id].etag:
        raise InvalidIfMatchVersion()
    return _ORIGINAL_DELETE_PUBLIC_KEY(self)


def _identities(response: CloudFrontResponse) -> dict:
    return cloudfront_extras[response.current_account][response.partition].origin_access_identities


def get_cloud_front_origin_access_identity(self: CloudFrontResponse) -> ActionResult:
    identity = _identities(self).get(self._get_param("Id"))
    if identity is None:
        raise NoSuchCloudFrontOriginAccessIdentity()
    return ActionResult({"CloudFrontOriginAccessIdentity": identity, "ETag": identity.etag})


def list_cloud_front_origin_access_identities(self: CloudFrontResponse) -> ActionResult:
    identities = list(_identities(self).values())
    return ActionResult(
        {
            "CloudFrontOriginAccessIdentityList": {
                "Marker": "",
                "MaxItems": len(identities),
                "IsTruncated": False,
                "Quantity": len(identities),
                "Items": [
                    {
                        "Id": identity.id,
                        "S3CanonicalUserId": identity.s3_canonical_user_id,
                        "Comment": identity.comment,
                    }
                    for identity in identities
                ],
            }
        }
    )


def install() -> None:
    base = "{0}/2020-05-31/origin-access-identity/cloudfront"
    urls.url_paths[f"{base}$"] = CloudFrontResponse.dispatch
    urls.url_paths[f"{base}/(?P<oai_id>[^/]+)$"] = CloudFrontResponse.dispatch
    CloudFrontResponse.get_cloud_front_origin_access_identity = (
        get_cloud_front_origin_access_identity
    )
    CloudFrontResponse.list_cloud_front_origin_access_identities = (
        list_cloud_front_origin_access_identities
    )
    CloudFrontResponse.get_public_key = get_public_key
    CloudFrontResponse.delete_public_key = delete_public_key
