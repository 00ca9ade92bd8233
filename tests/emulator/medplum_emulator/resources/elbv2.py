"""Fixes to moto's AWS::ElasticLoadBalancingV2::* models.

Owns: the load balancer's ``CanonicalHostedZoneID``, ``LoadBalancerFullName`` and
``SecurityGroups`` attributes, which moto declares but does not return (a Route 53 alias
record to the load balancer read an unresolved ``Fn::GetAtt`` object as its zone id), and
removing listeners and target groups from moto's elbv2 backend when the stack is
deleted (moto's models have no delete; its LoadBalancer model does). A target group still
used by a listener cannot be deleted, as in AWS; the stack delete retries after the listener.

Does not model: anything about create or update, which stay moto's own.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.exceptions import ListenerNotFoundError
from moto.elbv2.models import FakeListener, FakeLoadBalancer, FakeTargetGroup, elbv2_backends

from ._common import deletes, on_install


@deletes(FakeListener)
def _delete_listener(listener: Any, account_id: str, region_name: str) -> None:
    try:
        elbv2_backends[account_id][region_name].delete_listener(listener.arn)
    except ListenerNotFoundError:
        # moto's stack delete ignores dependencies: the load balancer may have gone first,
        # taking its listeners with it.
        pass


@deletes(FakeTargetGroup)
def _delete_target_group(target_group: Any, account_id: str, region_name: str) -> None:
    elbv2_backends[account_id][region_name].delete_target_group(target_group.arn)


@on_install
def _load_balancer_attributes() -> None:
    moto_get_cfn_attribute = FakeLoadBalancer.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "CanonicalHostedZoneID":
            return self.canonical_hosted_zone_id
        if attribute_name == "LoadBalancerFullName":
            # arn:...:loadbalancer/app/<name>/<id> -> app/<name>/<id>
            return self.arn.split(":loadbalancer/", 1)[1]
        if attribute_name == "SecurityGroups":
            return list(self.security_groups)
        return moto_get_cfn_attribute(self, attribute_name)

    FakeLoadBalancer.get_cfn_attribute = get_cfn_attribute
