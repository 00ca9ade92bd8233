"""The publish side of the emulator (``delivery``): the log of S3 object writes and CloudFront
invalidations, invalidations that take time, and CallerReference idempotency."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import emu, emu_server, wait_until  # noqa: F401


def distribution(emu) -> str:
    cf = emu.client("cloudfront")
    config = {
        "CallerReference": "dist-1",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "o1", "DomainName": "app.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "o1", "ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0},
    }
    return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def batch(paths: list[str], ref: str) -> dict:
    return {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": ref}


def test_object_writes_are_logged_in_order_with_their_headers(emu):
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="app")
    s3.put_object(Bucket="app", Key="assets/a-1.js", Body=b"a", ContentType="text/javascript", CacheControl="public, max-age=31536000")
    s3.put_object(Bucket="app", Key="index.html", Body=b"i", ContentType="text/html", CacheControl="no-cache")
    s3.delete_object(Bucket="app", Key="assets/a-1.js")
    s3.get_object(Bucket="app", Key="index.html")  # reads are not logged
    log = emu.control("GET", "delivery")["requests"]
    assert [(e["action"], e.get("key")) for e in log] == [
        ("PutObject", "assets/a-1.js"),
        ("PutObject", "index.html"),
        ("DeleteObject", "assets/a-1.js"),
    ]
    assert log[0]["cacheControl"] == "public, max-age=31536000"
    assert log[1]["contentType"] == "text/html"
    assert all(e["status"] in (200, 204) for e in log)
    assert [e["key"] for e in emu.control("GET", "delivery?action=PutObject")["requests"]] == ["assets/a-1.js", "index.html"]
    emu.control("POST", "reset")
    assert emu.control("GET", "delivery")["requests"] == []


def test_an_invalidation_is_in_progress_then_completed(emu):
    cf = emu.client("cloudfront")
    dist = distribution(emu)
    created = cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(["/index.html"], "r1"))["Invalidation"]
    assert created["Status"] == "InProgress"
    wait_until(lambda: cf.get_invalidation(DistributionId=dist, Id=created["Id"])["Invalidation"]["Status"] == "Completed", timeout=5)
    (entry,) = emu.control("GET", "delivery?action=CreateInvalidation")["requests"]
    assert entry["distributionId"] == dist
    assert entry["paths"] == ["/index.html"]
    assert entry["callerReference"] == "r1"


def test_a_repeated_caller_reference_returns_the_first_invalidation_or_is_refused(emu):
    cf = emu.client("cloudfront")
    dist = distribution(emu)
    first = cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(["/a", "/b"], "same"))["Invalidation"]
    again = cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(["/b", "/a"], "same"))["Invalidation"]
    assert again["Id"] == first["Id"]
    assert len(cf.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"]) == 1
    with pytest.raises(ClientError) as refused:
        cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(["/c"], "same"))
    assert refused.value.response["Error"]["Code"] == "InvalidationBatchAlreadyExists"


def test_the_tls_only_statement_lets_writes_through_and_other_denials_still_apply(emu):
    import json

    s3 = emu.client("s3")
    s3.create_bucket(Bucket="app")
    arns = ["arn:aws:s3:::app", "arn:aws:s3:::app/*"]
    tls_only = {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": arns,
    }
    s3.put_bucket_policy(Bucket="app", Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]}))
    s3.put_object(Bucket="app", Key="index.html", Body=b"i")
    deny_all = {"Action": "s3:PutObject", "Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": arns[1]}
    s3.put_bucket_policy(Bucket="app", Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only, deny_all]}))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="app", Key="index.html", Body=b"j")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
