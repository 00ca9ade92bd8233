"""moto's XML IAM denials re-rendered as JSON for JSON-protocol services (``auth_errors``)."""

from __future__ import annotations

import json

from medplum_emulator import auth_errors

DENIAL = (b'<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error><Code>AccessDenied</Code>'
          b"<Message>User: arn:aws:iam::123456789012:user/l is not authorized to perform: acm:RequestCertificate"
          b"</Message><Type>Sender</Type></Error></Errors></ErrorResponse>")


def run(app, environ):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(auth_errors.wrap(app)(environ, start_response))
    return seen["status"], seen["headers"], body


def moto_answer(status, body, headers=()):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/html; charset=utf-8"), *headers])
        return [body]

    return app


def test_a_json_protocol_denial_is_json_as_aws_sends_it():
    environ = {"HTTP_X_AMZ_TARGET": "CertificateManager.RequestCertificate", "CONTENT_TYPE": "application/x-amz-json-1.1"}
    status, headers, body = run(moto_answer("403 FORBIDDEN", DENIAL, [("x-amzn-requestid", "r1")]), environ)
    assert status.startswith("403")
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-RequestId"] == "r1"
    assert json.loads(body) == {
        "__type": "AccessDeniedException",
        "message": "User: arn:aws:iam::123456789012:user/l is not authorized to perform: acm:RequestCertificate",
    }
    assert int(headers["Content-Length"]) == len(body)


def test_query_protocol_answers_and_other_errors_pass_untouched():
    # STS and the other query services get moto's XML, which is their own format.
    status, _, body = run(moto_answer("403 FORBIDDEN", DENIAL), {"CONTENT_TYPE": "application/x-www-form-urlencoded"})
    assert body == DENIAL
    json_env = {"HTTP_X_AMZ_TARGET": "AmazonSSM.GetParameter"}
    other = b'{"__type": "ParameterNotFound", "message": ""}'
    assert run(moto_answer("400 BAD REQUEST", other), json_env)[2] == other
    assert run(moto_answer("200 OK", b"{}"), json_env)[2] == b"{}"


def test_the_query_codes_become_the_json_protocol_codes():
    bad_key = DENIAL.replace(b"AccessDenied", b"InvalidClientTokenId")
    _, _, body = run(moto_answer("403 FORBIDDEN", bad_key), {"HTTP_X_AMZ_TARGET": "AmazonSSM.GetParameter"})
    assert json.loads(body)["__type"] == "UnrecognizedClientException"
