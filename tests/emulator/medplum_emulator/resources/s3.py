"""AWS::S3::BucketPolicy.

Owns: bucket policies in moto's s3 backend (visible to GetBucketPolicy), the document
rendered as JSON with every intrinsic function already resolved by the parser (canonical
user ids of origin access identities, role ARNs, bucket ARNs), replaced in place on update
and removed on delete. A policy for a bucket that does not exist fails like AWS.

Does not model: policy validation (malformed principals or actions are stored as given) and
the BlockPublicPolicy check against public statements. ``AWS::S3::Bucket`` itself is moto's
own model.
"""

from __future__ import annotations

import json
from typing import Any

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from ._common import Context, ResourceHandlerError, StackResource, register


def _backend(ctx: Context) -> Any:
    return s3_backends[ctx.account_id][ctx.partition]


@register
class BucketPolicy(StackResource):
    CFN_TYPE = "AWS::S3::BucketPolicy"

    def __init__(self, bucket: str, properties: dict[str, Any]):
        self.bucket = bucket
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> BucketPolicy:
        resource = cls(properties["Bucket"], properties)
        resource.ctx = ctx
        resource._put(properties["PolicyDocument"])
        return resource

    def _put(self, document: dict[str, Any]) -> None:
        try:
            _backend(self.ctx).put_bucket_policy(self.bucket, json.dumps(document).encode())
        except MissingBucket as error:
            raise ResourceHandlerError(
                f"The specified bucket does not exist: {self.bucket}", service="S3", status=404
            ) from error

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties["Bucket"] != self.bucket:
            return super().update(new_name, properties)
        self._put(properties["PolicyDocument"])
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        try:
            _backend(self.ctx).delete_bucket_policy(self.bucket)
        except MissingBucket:
            # The bucket went first (e.g. deleted outside the stack): nothing left to remove.
            pass

    @property
    def physical_resource_id(self) -> str:
        return self.bucket
