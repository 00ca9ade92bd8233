"""The web app's publish as AWS does it: S3 object writes and CloudFront invalidations.

Owns:

* A log of the S3 object writes (PutObject, DeleteObject, DeleteObjects, CopyObject) and of
  CloudFront's CreateInvalidation, in the order they were answered, served by the control API
  at ``GET /medplum-emulator/delivery`` (``control.DELIVERY``; ``?action=PutObject`` filters). So a test can see that a
  publish put ``index.html`` after every asset and removed stale objects only after it, which
  moto's final state cannot show.
* Invalidations that take time, as CloudFront's do: ``InProgress`` for
  ``MEDPLUM_EMULATOR_INVALIDATION_DELAY`` seconds (default 0.3), then ``Completed`` (AWS's
  spelling; moto answers ``COMPLETED`` at once).
* CallerReference: a CreateInvalidation repeating an earlier one's reference with the same paths
  returns that invalidation instead of making another; with other paths it is refused with
  ``InvalidationBatchAlreadyExists`` (HTTP 409), as AWS does (moto makes a second one).

* Bucket policies as S3 applies them to a request over TLS: moto evaluates a Deny statement
  whose Condition does not hold as a denial, so the CDK's TLS-only statement (Deny ``s3:*`` when
  ``aws:SecureTransport`` is ``false``) refused every PutObject into the app bucket. The emulator
  stands in for S3's https endpoint: that statement never applies (a client of real S3 reaches
  it over https too), the bucket's other statements are evaluated as moto does.

Requests are told apart by the service in their SigV4 credential scope (every service shares
the emulator's one host name) and, for S3, path-style addressing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

from . import control

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_INVALIDATION_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/distribution/([^/]+)/invalidation$")


def invalidation_delay() -> float:
    return float(os.environ.get("MEDPLUM_EMULATOR_INVALIDATION_DELAY", "0.3"))




def classify(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The log entry of a write this module records, else ``None``. Nothing is read but headers."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    region, service = scope.groups()
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    entry: dict[str, Any] = {"region": region, "service": service}
    if service == "s3":
        bucket, _, key = path.lstrip("/").partition("/")
        key = unquote(key)
        if method == "PUT" and key and not ({"uploadId", "partNumber", "tagging", "acl"} & set(query)):
            copy = environ.get("HTTP_X_AMZ_COPY_SOURCE")
            entry.update(
                action="CopyObject" if copy else "PutObject",
                bucket=bucket,
                key=key,
                contentType=environ.get("CONTENT_TYPE"),
                cacheControl=environ.get("HTTP_CACHE_CONTROL"),
            )
            return entry
        if method == "DELETE" and key and "uploadId" not in query:
            entry.update(action="DeleteObject", bucket=bucket, key=key)
            return entry
        if method == "POST" and not key and "delete" in query:
            entry.update(action="DeleteObjects", bucket=bucket)
            return entry
        return None
    if service == "cloudfront" and method == "POST":
        m = _INVALIDATION_PATH.match(path)
        if m:
            entry.update(action="CreateInvalidation", distributionId=m.group(1))
            return entry
    return None


def wrap(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Records the writes ``classify`` names, once answered, with their HTTP status."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        entry = classify(environ)
        if entry is None:
            return app(environ, start_response)
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = app(environ, capture)
        entry["status"] = seen.get("status")
        entry["time"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        if entry["action"] == "CreateInvalidation":
            text = b"".join(body)
            body = [text]
            entry["paths"] = re.findall(r"<Path>([^<]*)</Path>", text.decode("utf-8", "replace"))
            ref = re.search(r"<CallerReference>([^<]*)</CallerReference>", text.decode("utf-8", "replace"))
            entry["callerReference"] = ref.group(1) if ref else None
        control.DELIVERY.add(entry)
        return body

    return logged


def install() -> None:
    """Patches moto's CloudFront invalidations (status over time, CallerReference)."""
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend, Invalidation

    if getattr(Invalidation, "_medplum_patched", False):
        return

    original_init = Invalidation.__init__

    def init(self: Any, distribution: Any, paths: list[str], caller_ref: str) -> None:
        original_init(self, distribution, paths, caller_ref)
        self._medplum_done_at = time.monotonic() + invalidation_delay()

    def status(self: Any) -> str:
        return "Completed" if time.monotonic() >= self._medplum_done_at else "InProgress"

    def set_status(self: Any, value: str) -> None:
        pass  # moto's constructor sets "COMPLETED"; the status is the clock's

    Invalidation.__init__ = init
    Invalidation.status = property(status, set_status)

    original_create = CloudFrontBackend.create_invalidation

    def create_invalidation(self: Any, dist_id: str, paths: list[str], caller_ref: str) -> Any:
        for earlier in self.invalidations.get(dist_id, []):
            if earlier.caller_ref == caller_ref:
                if sorted(earlier.paths) == sorted(paths):
                    return earlier
                raise CloudFrontException(
                    "InvalidationBatchAlreadyExists",
                    "The CallerReference you are using to create an invalidation batch is associated with another invalidation batch.",
                )
        return original_create(self, dist_id, paths, caller_ref)

    CloudFrontBackend.create_invalidation = create_invalidation
    Invalidation._medplum_patched = True
    _install_tls_bucket_policies()


def _insecure_transport_only(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    return condition == {"Bool": {"aws:SecureTransport": "false"}} or condition == {
        "Bool": {"aws:SecureTransport": False}
    }


def _install_tls_bucket_policies() -> None:
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        document["Statement"] = [s for s in statements if not _insecure_transport_only(s)]
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission
