"""AWS::SNS::Topic.

Owns: topics in moto's sns backend (visible to ListTopics, GetTopicAttributes,
ListTagsForResource, ListSubscriptionsByTopic). moto's own model is replaced because it
passes every property to CreateTopic as an attribute: a list-shaped ``Tags`` (what CDK
writes) ended up in a stray attribute, so the topic had no tags; it has no GetAtt
``TopicArn``; and every update deleted and recreated the topic, losing subscriptions.

Ref is the topic ARN; GetAtt ``TopicArn`` and ``TopicName``. The name is ``TopicName`` or,
without one, ``<stack>-<logical id>-<random>`` (at most 256 characters, ``.fifo`` appended for
a FIFO topic, as CloudFormation does). A topic of that name already in the region is
refused (CloudFormation's already-exists check; CreateTopic itself would return the existing
topic, which the stack would then delete). moto's CreateTopic checks the name's characters.
Updates of ``DisplayName``, ``KmsMasterKeyId``, ``ContentBasedDeduplication``,
``DeliveryPolicy``, ``SignatureVersion``, ``TracingConfig``, ``Tags`` and ``Subscription``
are in place (subscriptions the template no longer lists are removed); ``TopicName`` or
``FifoTopic`` replace the topic. Delete removes the topic and its subscriptions.

Does not model: ``DataProtectionPolicy``, ``ArchivePolicy``, ``FifoThroughputScope``,
delivery status logging (accepted, stored nowhere), KMS key checks, and message delivery to
the subscriptions' endpoints (moto's own behaviour).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import ServiceException
from moto.sns.models import sns_backends

from ._common import (
    AlreadyExistsError,
    Context,
    ResourceHandlerError,
    StackResource,
    as_bool,
    generated_name,
    register,
)

#: Properties CreateTopic / SetTopicAttributes take as attributes (moto's attribute names).
_ATTRIBUTES = {
    "DisplayName": "display_name",
    "KmsMasterKeyId": "kms_master_key_id",
    "ContentBasedDeduplication": "content_based_deduplication",
    "DeliveryPolicy": "delivery_policy",
    "SignatureVersion": "signature_version",
    "TracingConfig": "tracing_config",
}


def _backend(ctx: Context) -> Any:
    return sns_backends[ctx.account_id][ctx.region_name]


def _attribute_value(key: str, value: Any) -> Any:
    if key == "DeliveryPolicy" and not isinstance(value, str):
        return json.dumps(value)
    if key == "ContentBasedDeduplication":
        return as_bool(value)
    return value


@register
class Topic(StackResource):
    CFN_TYPE = "AWS::SNS::Topic"
    NAME_PROPERTY = "TopicName"
    ATTRIBUTES = ("TopicArn", "TopicName")

    def __init__(self, arn: str, name: str, properties: dict[str, Any]):
        self.arn = arn
        self.name = name
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> Topic:
        fifo = as_bool(properties.get("FifoTopic", False))
        if properties.get("TopicName"):
            name = str(properties["TopicName"])
        else:
            name = generated_name(ctx, max_length=256 - (len(".fifo") if fifo else 0))
            if fifo:
                name += ".fifo"
        backend = _backend(ctx)
        arn = f"arn:{ctx.partition}:sns:{ctx.region_name}:{ctx.account_id}:{name}"
        if arn in backend.topics:
            raise AlreadyExistsError(cls.CFN_TYPE, arn)
        attributes = {"FifoTopic": fifo} if fifo else {}
        try:
            topic = backend.create_topic(name, attributes, cls._tags(properties))
        except ServiceException as error:
            raise ResourceHandlerError(error.message, service="Sns") from error
        resource = cls(topic.arn, name, properties)
        resource.ctx = ctx
        resource._apply(properties)
        return resource

    @staticmethod
    def _tags(properties: dict[str, Any]) -> dict[str, str]:
        return {tag["Key"]: tag["Value"] for tag in properties.get("Tags") or []}

    def _apply(self, properties: dict[str, Any]) -> None:
        """Attributes, tags and subscriptions as the template states them."""
        backend = _backend(self.ctx)
        topic = backend.topics[self.arn]
        for key, attribute in _ATTRIBUTES.items():
            if key in properties:
                setattr(topic, attribute, _attribute_value(key, properties[key]))
            elif key in self.properties and self.properties is not properties:
                setattr(topic, attribute, "")
        topic._tags = self._tags(properties)
        wanted = {(s["Protocol"], s["Endpoint"]) for s in properties.get("Subscription") or []}
        existing = backend._get_topic_subscriptions(topic)
        for subscription in existing:
            if (subscription.protocol, subscription.endpoint) not in wanted:
                backend.unsubscribe(subscription.arn)
        have = {(s.protocol, s.endpoint) for s in existing}
        for protocol, endpoint in sorted(wanted - have):
            try:
                backend.subscribe(self.arn, endpoint, protocol)
            except ServiceException as error:
                raise ResourceHandlerError(error.message, service="Sns") from error

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if any(
            properties.get(key) != self.properties.get(key) for key in ("TopicName", "FifoTopic")
        ):
            return super().update(new_name, properties)
        self._apply(properties)
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        _backend(self.ctx).delete_topic(self.arn)

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def attributes(self) -> dict[str, Any]:
        return {"TopicArn": self.arn, "TopicName": self.name}
