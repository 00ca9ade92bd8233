"""Deletes for moto's AWS::ECS::{Cluster, Service, TaskDefinition} models.

Owns: removing what a stack created from moto's ecs backend when the stack is deleted (moto's
models have no delete, so the service, task definition and cluster stayed ACTIVE). The
service is deleted with ``force`` (CloudFormation scales it to zero first); the cluster is
marked INACTIVE as ECS does; the task definition revision is deregistered (INACTIVE).

Does not model: anything about create or update, which stay moto's own: moto updates a
service's ``DesiredCount`` and ``TaskDefinition`` in place, which is what the Medplum
deploys change; other service properties are ignored on update.
"""

from __future__ import annotations

from typing import Any

from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends

from ._common import deletes


@deletes(Service)
def _delete_service(service: Any, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].delete_service(
        service.cluster_name, service.name, force=True
    )


@deletes(TaskDefinition)
def _deregister_task_definition(definition: Any, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].deregister_task_definition(definition.arn)


@deletes(Cluster)
def _delete_cluster(cluster: Any, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].delete_cluster(cluster.name)
