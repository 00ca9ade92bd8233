"""The control API under ``/medplum-emulator/`` and the log of CloudFormation requests it serves.

``GET  /medplum-emulator/health``    ``{"status": "ok", "faults": N, "timing": {...}}``
``GET  /medplum-emulator/faults``    the current fault rules (a JSON array)
``POST /medplum-emulator/faults``    replaces them (body: a JSON array of rules, see ``faults``)
``POST /medplum-emulator/timing``    changes delays: ``{"changeSetSeconds", "resourceSeconds", "typeSeconds"}``
``GET  /medplum-emulator/requests``  ``{"requests": [...]}`` every CloudFormation call received,
                                     oldest first; ``?action=CreateChangeSet`` filters
``GET  /medplum-emulator/delivery``  ``{"requests": [...]}`` the S3 object writes and CloudFront
                                     invalidations, in answer order (see ``delivery``);
                                     ``?action=PutObject`` filters
``POST /medplum-emulator/ses/verify`` what the operator does outside AWS: opens SES's link for an
                                     address, or publishes a domain's DKIM records
                                     (body: ``{"identity", "region"?, "account"?}``); moto never
                                     verifies an identity by itself
``POST /medplum-emulator/drift``     a stack resource changed outside CloudFormation, as drift
                                     detection will find it (body: ``{"stack", "logicalId",
                                     "status": "MODIFIED"|"DELETED"|"IN_SYNC", "property"?,
                                     "expected"?, "actual"?}``; see ``drift``)
``POST /medplum-emulator/reset``     forgets every stack, moto's state, the logs and the faults

Answers are JSON; a bad body is a 400 with ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from . import drift, faults, lifecycle

PREFIX = "/medplum-emulator/"


class RequestLog:
    """CloudFormation calls as received: what the engine sent, for tests and benchmarks to check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def start(self, action: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Records a call as it arrives; the handler may add to the entry it returns."""
        entry = {
            "seq": 0,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "action": action,
            "region": region,
            "stackName": params.get("StackName"),
            "changeSetName": params.get("ChangeSetName"),
            "changeSetType": params.get("ChangeSetType"),
            "clientRequestToken": params.get("ClientRequestToken"),
            "parameters": params.get("Parameters"),
            "capabilities": params.get("Capabilities"),
            "templateParameters": None,
            "error": None,
        }
        with self._lock:
            entry["seq"] = len(self._entries) + 1
            self._entries.append(entry)
        return entry

    def add(self, entry: dict[str, Any]) -> None:
        """Records an entry made elsewhere (the S3 and CloudFront writes of ``delivery``)."""
        with self._lock:
            entry["seq"] = len(self._entries) + 1
            self._entries.append(entry)

    def entries(self, action: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if action is None or e["action"] == action]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


REQUESTS = RequestLog()
# The S3 object writes and CloudFront invalidations (``delivery``), in answer order.
DELIVERY = RequestLog()


def reset() -> None:
    """A clean slate: no stacks, no moto resources, no logged requests, no fault rules."""
    from moto.moto_api._internal.models import moto_api_backend

    with lifecycle.LOCK:
        threads = lifecycle.STORE.reset()
    for thread in threads:
        # Abandoned workers stop at their next step; a step is short (one moto call).
        thread.join(timeout=5)
    with lifecycle.LOCK:
        moto_api_backend.reset()
    REQUESTS.clear()
    DELIVERY.clear()
    drift.reset()
    faults.REGISTRY.replace([])


def _timing_json() -> dict[str, Any]:
    timing = lifecycle.TIMING
    return {
        "changeSetSeconds": timing.change_set_seconds,
        "resourceSeconds": timing.resource_seconds,
        "typeSeconds": timing.type_seconds,
    }


def _set_timing(body: Any) -> None:
    if not isinstance(body, dict) or set(body) - {"changeSetSeconds", "resourceSeconds", "typeSeconds"}:
        raise ValueError("timing takes changeSetSeconds, resourceSeconds and typeSeconds")
    timing = lifecycle.TIMING
    timing.change_set_seconds = float(body.get("changeSetSeconds", timing.change_set_seconds))
    timing.resource_seconds = float(body.get("resourceSeconds", timing.resource_seconds))
    if "typeSeconds" in body:
        timing.type_seconds = {str(k): float(v) for k, v in dict(body["typeSeconds"]).items()}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The control API as a WSGI application (the server routes ``PREFIX`` here)."""
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")[len(PREFIX) :].strip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    status, payload = "200 OK", None
    try:
        if (method, path) == ("GET", "health"):
            payload = {"status": "ok", "faults": len(faults.REGISTRY.rules()), "timing": _timing_json()}
        elif (method, path) == ("GET", "faults"):
            payload = [rule.to_json() for rule in faults.REGISTRY.rules()]
        elif (method, path) == ("POST", "faults"):
            rules = faults.parse_rules(_body(environ))
            faults.REGISTRY.replace(rules)
            payload = [rule.to_json() for rule in rules]
        elif (method, path) == ("POST", "timing"):
            _set_timing(_body(environ))
            payload = _timing_json()
        elif (method, path) == ("GET", "requests"):
            payload = {"requests": REQUESTS.entries(query.get("action", [None])[0])}
        elif (method, path) == ("GET", "delivery"):
            payload = {"requests": DELIVERY.entries(query.get("action", [None])[0])}
        elif (method, path) == ("POST", "ses/verify"):
            payload = _verify_identity(_body(environ))
        elif (method, path) == ("POST", "drift"):
            payload = drift.mark(_body(environ))
        elif (method, path) == ("POST", "reset"):
            reset()
            payload = {"status": "reset"}
        else:
            status, payload = "404 Not Found", {"error": f"no control endpoint {method} {PREFIX}{path}"}
    except ValueError as e:  # includes json.JSONDecodeError
        status, payload = "400 Bad Request", {"error": str(e)}
    body = json.dumps(payload, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _verify_identity(body: Any) -> dict[str, Any]:
    from moto.ses.models import ses_backends

    if not isinstance(body, dict) or not isinstance(body.get("identity"), str):
        raise ValueError('expected {"identity": "<address or domain>"}')
    backend = ses_backends[body.get("account", "123456789012")][body.get("region", "us-east-1")]
    identity = backend.email_identities.get(body["identity"])
    if identity is None:
        raise ValueError(f"no SES identity {body['identity']}")
    identity.verified_for_sending_status = True
    if identity.identity_type == "DOMAIN" and isinstance(identity.dkim_attributes, dict):
        identity.dkim_attributes["Status"] = "SUCCESS"
    return {"identity": body["identity"], "verified": True}


def _body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(length) or b"null")
