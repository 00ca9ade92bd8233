"""moto's IAM denials in each JSON-protocol service's own format.

With IAM enforcement on (``INITIAL_NO_AUTH_ACTION_COUNT``), moto answers a denied call with the
query protocol's XML (``<ErrorResponse><Errors><Error><Code>AccessDenied</Code>...``) whatever
the service. AWS answers a JSON-protocol service (ACM, SSM, ...: the ones called with
``X-Amz-Target``) in JSON: ``{"__type": "AccessDeniedException", "message": "..."}``. An SDK
reading the XML as JSON fails to read the response at all, so the denied action and its hint
never reach the user. ``wrap`` re-renders such answers as AWS does; everything else passes
through untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

# The JSON protocol's names for the denials moto spells in the query protocol's words.
CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _tag(body: str, name: str) -> str | None:
    m = re.search(rf"<{name}>(.*?)</{name}>", body, re.S)
    return m.group(1) if m else None


def translate(status: str, body: bytes, content_type: str | None) -> tuple[list[tuple[str, str]], bytes] | None:
    """The JSON answer for moto's XML denial, or None when the answer is not one."""
    if not status.startswith(("401", "403")) or b"<ErrorResponse" not in body:
        return None
    text = body.decode("utf-8", "replace")
    code = _tag(text, "Code") or "AccessDenied"
    message = _tag(text, "Message") or code
    payload = json.dumps({"__type": CODES.get(code, code), "message": message}).encode()
    kind = (content_type or "application/x-amz-json-1.1").split(";")[0].strip()
    return [("Content-Type", kind), ("Content-Length", str(len(payload)))], payload


def wrap(app: WsgiApp) -> WsgiApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET"):
            return app(environ, start_response)
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            seen["status"], seen["headers"] = status, headers
            return lambda data: None  # moto's werkzeug app returns its body; it never writes

        body = b"".join(app(environ, capture))
        json_answer = translate(seen["status"], body, environ.get("CONTENT_TYPE"))
        if json_answer is None:
            start_response(seen["status"], seen["headers"])
            return [body]
        headers, payload = json_answer
        request_id = [v for k, v in seen["headers"] if k.lower() == "x-amzn-requestid"]
        start_response(seen["status"], headers + [("x-amzn-RequestId", v) for v in request_id[:1]])
        return [payload]

    return wrapped
