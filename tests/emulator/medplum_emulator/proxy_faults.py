"""Error responses for the fault-injecting proxy, each in its service's own protocol.

``identify(method, path, headers, body)`` names the service (the SigV4 credential scope
``.../<region>/<service>/aws4_request`` in the ``Authorization`` header or the presigned
``X-Amz-Credential`` query parameter), its protocol and the operation. ``render(kind, call)``
builds the status, headers and body of a ``500``, ``503`` or ``throttle`` fault the way that
service's SDK parses it:

========================  ==============  ===========================================
protocol                  services        throttling error
========================  ==============  ===========================================
query (XML)               cloudformation, ``<ErrorResponse><Error><Type>Sender</Type>
                          sts, iam, ses   <Code>Throttling</Code>...`` HTTP 400
                          v1, elb, rds
ec2 (XML)                 ec2             ``<Response><Errors><Error><Code>
                                          RequestLimitExceeded``... HTTP 503
awsJson 1.0/1.1           acm, ssm, ecs   ``{"__type": "ThrottlingException"}`` HTTP 400
                          (any X-Amz-
                          Target)
restJson                  lambda, sesv2   ``x-amzn-ErrorType: TooManyRequestsException``
                          (``/v2/``)      + JSON body, HTTP 429
restXml, wrapped          cloudfront,     ``<ErrorResponse><Error><Type>Sender</Type>
                          route53         <Code>Throttling</Code>...`` HTTP 400
restXml, S3               s3              ``<Error><Code>SlowDown</Code>...`` HTTP 503
========================  ==============  ===========================================
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
QUERY_SERVICES = {"cloudformation", "sts", "iam", "ses", "elasticloadbalancing", "rds", "sns", "elasticache", "autoscaling"}
WRAPPED_XML_SERVICES = {"cloudfront", "route53"}
REST_JSON_SERVICES = {"lambda", "apigateway", "execute-api"}
XMLNS = {
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "ses": "http://ses.amazonaws.com/doc/2010-12-01/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
}


@dataclass
class Call:
    """What the proxy knows of a request: enough to log it and to fake its service's errors."""

    service: str | None  # the SigV4 signing name, e.g. "ssm", "ses" (SES v1 and v2 both sign as ses)
    protocol: str  # query | ec2 | json | rest-json | rest-xml | s3
    operation: str  # X-Amz-Target, the query Action, or "METHOD /path"
    method: str
    json_content_type: str = "application/x-amz-json-1.1"


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def identify(method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> Call:
    """Names the service, protocol and operation of a request (``target`` is the request-target)."""
    split = urlsplit(target)
    path = split.path or "/"
    query = parse_qs(split.query, keep_blank_values=True)
    service = None
    auth = _header(headers, "authorization") or ""
    match = SCOPE.search(auth) or SCOPE.search("Credential=" + unquote((query.get("X-Amz-Credential") or [""])[0]))
    if match:
        service = match.group(1)
    amz_target = _header(headers, "x-amz-target")
    content_type = (_header(headers, "content-type") or "").lower()
    form = {}
    if body is not None and "application/x-www-form-urlencoded" in content_type:
        try:
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        except ValueError:
            form = {}
    action = (form.get("Action") or query.get("Action") or [None])[0]
    if amz_target:
        protocol, operation = "json", amz_target
    elif action and service == "ec2":
        protocol, operation = "ec2", action
    elif action or (service in QUERY_SERVICES and not (service == "ses" and path.startswith("/v2/"))):
        protocol, operation = "query", action or f"{method} {path}"
    elif service == "s3":
        protocol, operation = "s3", f"{method} {path}"
    elif service in WRAPPED_XML_SERVICES:
        protocol, operation = "rest-xml", f"{method} {path}"
    else:
        protocol, operation = "rest-json", f"{method} {path}"
    call = Call(service=service, protocol=protocol, operation=operation, method=method)
    if content_type.startswith("application/x-amz-json-"):
        call.json_content_type = content_type.split(";")[0]
    return call


# kind -> (status, code, message, query Type) for the protocols that share codes
_GENERIC = {
    "500": (500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.", "Receiver"),
    "503": (503, "ServiceUnavailable", "Service is unavailable. Please try again later.", "Receiver"),
}


def render(kind: str, call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body of fault ``kind`` (``500``, ``503``, ``throttle``) for ``call``."""
    request_id = str(uuid.uuid4())
    protocol = call.protocol
    if protocol == "s3":
        status, code, message = {
            "500": (500, "InternalError", "We encountered an internal error. Please try again."),
            "503": (503, "ServiceUnavailable", "Please reduce your request rate."),
            "throttle": (503, "SlowDown", "Please reduce your request rate."),
        }[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id), ("x-amz-id-2", "fault-proxy")]
        return status, headers, _no_body_for_head(call, body)
    if protocol == "ec2":
        status, code, message = {
            "500": (500, "InternalError", "An internal error has occurred."),
            "503": (503, "Unavailable", "The server is overloaded and can't handle the request."),
            "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
        }[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()
    if protocol in ("query", "rest-xml"):
        if kind == "throttle":
            status, code, message, error_type = 400, "Throttling", "Rate exceeded", "Sender"
        else:
            status, code, message, error_type = _GENERIC[kind]
        xmlns = XMLNS.get(call.service or "")
        open_tag = f'<ErrorResponse xmlns="{xmlns}">' if xmlns else "<ErrorResponse>"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"{open_tag}<Error><Type>{error_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return status, headers, _no_body_for_head(call, body)
    if protocol == "json":
        if kind == "throttle":
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        else:
            status, code, message, _ = _GENERIC[kind]
        body = json.dumps({"__type": code, "message": message})
        return status, [("Content-Type", call.json_content_type), ("x-amzn-RequestId", request_id)], body.encode()
    # rest-json (Lambda, SES v2, unknown services)
    if kind == "throttle":
        status, code, message = 429, "TooManyRequestsException", "Rate exceeded"
        payload = {"message": message, "Type": "User", "Reason": "CallerRateLimitExceeded"}
    else:
        status, code, message, _ = _GENERIC[kind]
        payload = {"message": message, "Type": "Service"}
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    return status, headers, _no_body_for_head(call, json.dumps(payload))


def _no_body_for_head(call: Call, body: str) -> bytes:
    # A response to HEAD has no body (the client would not read it); the status alone speaks.
    return b"" if call.method == "HEAD" else body.encode()
