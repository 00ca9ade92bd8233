"""AWS::WAFv2::WebACL and AWS::WAFv2::WebACLAssociation.

Owns: web ACLs in moto's wafv2 backend (visible to GetWebACL / ListWebACLs; CLOUDFRONT-scoped
ones in moto's "global" region, where the WAFv2 API looks for them), ``Ref`` as AWS returns
it (``name|id|scope``), in-place updates (rules, default action, visibility config), and
associations of a regional web ACL with a load balancer (visible to GetWebACLForResource).

Does not model: rule evaluation, managed rule group contents and capacity checks, IP set
existence checks for ``IPSetReferenceStatement``, logging configurations, and the AWS rule
that a CLOUDFRONT-scoped ACL can only be created in us-east-1.
"""

from __future__ import annotations

from typing import Any

from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

from ._common import Context, ResourceHandlerError, StackResource, generated_name, register


def _backend(ctx: Context, scope: str) -> Any:
    region = GLOBAL_REGION if scope == "CLOUDFRONT" else ctx.region_name
    return wafv2_backends[ctx.account_id][region]


@register
class WebACL(StackResource):
    CFN_TYPE = "AWS::WAFv2::WebACL"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Arn", "Id", "Capacity", "LabelNamespace")

    def __init__(self, name: str, acl_id: str, scope: str, properties: dict[str, Any]):
        self.name = name
        self.acl_id = acl_id
        self.scope = scope
        self.properties = properties

    @classmethod
    def generated(cls, ctx: Context) -> str:
        return generated_name(ctx, max_length=128)

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> WebACL:
        scope = properties["Scope"]
        acl = _backend(ctx, scope).create_web_acl(
            name=cls.resource_name(ctx, name, properties),
            visibility_config=properties["VisibilityConfig"],
            default_action=properties["DefaultAction"],
            scope=scope,
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
            rules=properties.get("Rules", []),
            association_config=properties.get("AssociationConfig"),
            captcha_config=properties.get("CaptchaConfig"),
            challenge_config=properties.get("ChallengeConfig"),
            custom_response_bodies=properties.get("CustomResponseBodies"),
            token_domains=properties.get("TokenDomains"),
        )
        return cls(acl.name, acl.id, scope, properties)

    def _acl(self) -> Any:
        return _backend(self.ctx, self.scope).get_web_acl(None, self.name, self.acl_id)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        if properties.get("Name") != self.properties.get("Name") or (
            properties["Scope"] != self.scope
        ):
            return super().update(new_name, properties)
        _backend(self.ctx, self.scope).update_web_acl(
            name=self.name,
            _id=self.acl_id,
            default_action=properties["DefaultAction"],
            rules=properties.get("Rules", []),
            description=properties.get("Description"),
            visibility_config=properties["VisibilityConfig"],
            lock_token=self._acl().lock_token,
            custom_response_bodies=properties.get("CustomResponseBodies"),
            captcha_config=properties.get("CaptchaConfig"),
            challenge_config=properties.get("ChallengeConfig"),
            token_domains=properties.get("TokenDomains"),
            association_config=properties.get("AssociationConfig"),
        )
        self.properties = properties
        return self

    def delete_resource(self) -> None:
        acl = self._acl()
        if acl.associated_resources:
            # AWS refuses to delete an ACL still associated with a resource; the stack delete
            # retries once the association resource is gone.
            raise ResourceHandlerError(
                f"AWS WAF couldn't perform the operation because your resource is being used "
                f"by another resource or it's associated with another resource: {self.name}",
                service="Wafv2",
            )
        _backend(self.ctx, self.scope).delete_web_acl(
            self.name, self.scope, self.acl_id, acl.lock_token
        )

    @property
    def physical_resource_id(self) -> str:
        return f"{self.name}|{self.acl_id}|{self.scope}"

    def attributes(self) -> dict[str, Any]:
        acl = self._acl()
        return {
            "Arn": acl.arn,
            "Id": self.acl_id,
            "Capacity": acl.capacity,
            "LabelNamespace": acl.label_namespace,
        }


@register
class WebACLAssociation(StackResource):
    CFN_TYPE = "AWS::WAFv2::WebACLAssociation"

    def __init__(self, resource_arn: str, web_acl_arn: str, properties: dict[str, Any]):
        self.resource_arn = resource_arn
        self.web_acl_arn = web_acl_arn
        self.properties = properties

    @classmethod
    def create(cls, ctx: Context, name: str, properties: dict[str, Any]) -> WebACLAssociation:
        resource_arn, web_acl_arn = properties["ResourceArn"], properties["WebACLArn"]
        _backend(ctx, "REGIONAL").associate_web_acl(web_acl_arn, resource_arn)
        return cls(resource_arn, web_acl_arn, properties)

    def update(self, new_name: str, properties: dict[str, Any]) -> StackResource:
        # A resource has at most one ACL and moto disassociates by resource ARN alone, so the
        # old association must go before the new one exists (the default replacement order
        # would remove the new one).
        self.delete_resource()
        return type(self)._create(self.ctx, new_name, {"Properties": properties})

    def delete_resource(self) -> None:
        _backend(self.ctx, "REGIONAL").disassociate_web_acl(self.resource_arn)

    @property
    def physical_resource_id(self) -> str:
        return f"{self.resource_arn}|{self.web_acl_arn}"
