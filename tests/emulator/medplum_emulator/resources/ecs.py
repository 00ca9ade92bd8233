"""Deletes for moto's AWS::ECS::{Cluster, Service, TaskDefinition} models, and forced new
deployments that roll out over time.

Owns: removing what a stack created from moto's ecs backend when the stack is deleted (moto's
models have no delete, so the service, task definition and cluster stayed ACTIVE). The
service is deleted with ``force`` (CloudFormation scales it to zero first); the cluster is
marked INACTIVE as ECS does; the task definition revision is deregistered (INACTIVE).

UpdateService with ``forceNewDeployment``: moto renames the one deployment in place, so a
caller that waits for the rollout sees it finished at once. ECS starts a new PRIMARY deployment
(``rolloutState`` IN_PROGRESS, no task running yet) beside the old one, now ACTIVE and still
serving, replaces the tasks one by one, and only then drops the old deployment and reports the
new one COMPLETED. Here the rollout takes ``MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS`` (default 2,
read at each call), its running count rising with time, as DescribeServices shows it. With
``MEDPLUM_EMULATOR_ECS_ROLLOUT_FAILS=1`` the rollout ends FAILED (the circuit breaker's
verdict) and the old deployment is PRIMARY again, its tasks still serving, as ECS leaves a service whose
rollout it rolled back.

Does not model: other updates, which stay moto's own: moto updates a service's
``DesiredCount`` and ``TaskDefinition`` in place, which is what the Medplum deploys change;
other service properties are ignored on update.
"""

from __future__ import annotations

import os
import time
from typing import Any

from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends

from ._common import deletes, on_install

ROLLOUT_SECONDS = "MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS"
ROLLOUT_FAILS = "MEDPLUM_EMULATOR_ECS_ROLLOUT_FAILS"

# Deployment id to the monotonic time its rollout started.
_STARTED: dict[str, float] = {}


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


def _advance(service: Any) -> None:
    """Moves a forced deployment's rollout on to where the time since it started puts it."""
    if not service.deployments:
        return
    new = service.deployments[0]
    started = _STARTED.get(new["id"])
    if started is None or new.get("rolloutState") != "IN_PROGRESS":
        return
    from moto.core.utils import utcnow

    seconds = float(os.environ.get(ROLLOUT_SECONDS, "2"))
    desired = service.desired_count
    done = time.monotonic() - started >= seconds
    new["updatedAt"] = utcnow()
    if done and os.environ.get(ROLLOUT_FAILS) == "1":
        new["rolloutState"] = "FAILED"
        new["rolloutStateReason"] = (
            "ECS deployment circuit breaker: tasks failed to start."
        )
        new["runningCount"] = 0
        new["pendingCount"] = 0
        new["failedTasks"] = desired
        new["status"] = "ACTIVE"
        for old in service.deployments[1:]:
            old["status"] = "PRIMARY"
        service.deployments.append(service.deployments.pop(0))
        return
    if done:
        new["rolloutState"] = "COMPLETED"
        new["rolloutStateReason"] = f"ECS deployment {new['id']} completed."
        new["runningCount"] = desired
        new["pendingCount"] = 0
        del service.deployments[1:]
        service.running_count = desired
        service.pending_count = 0
        return
    share = (time.monotonic() - started) / seconds
    running = min(desired - 1, int(share * desired)) if desired else 0
    new["runningCount"] = max(running, 0)
    new["pendingCount"] = desired - new["runningCount"]


@on_install
def _rolling_deployments() -> None:
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.moto_api._internal import mock_random

    original_update = EC2ContainerServiceBackend.update_service
    original_describe = EC2ContainerServiceBackend.describe_services

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        force = bool(service_properties.pop("force_new_deployment", False))
        service = original_update(self, service_properties)
        if force and service.deployments:
            primary = service.deployments[0]
            for d in service.deployments:
                d["status"] = "ACTIVE"
            now = utcnow()
            new = dict(primary)
            new.update(
                {
                    "id": f"ecs-svc/{mock_random.randint(0, 32**12)}",
                    "status": "PRIMARY",
                    "rolloutState": "IN_PROGRESS",
                    "createdAt": now,
                    "updatedAt": now,
                    "desiredCount": service.desired_count,
                    "runningCount": 0,
                    "pendingCount": service.desired_count,
                    "failedTasks": 0,
                    "taskDefinition": service.task_definition,
                }
            )
            new["rolloutStateReason"] = f"ECS deployment {new['id']} in progress."
            service.deployments.insert(0, new)
            _STARTED[new["id"]] = time.monotonic()
        return service

    def describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
        services, failures = original_describe(self, cluster_str, names)
        for service in services:
            _advance(service)
        return services, failures

    EC2ContainerServiceBackend.update_service = update_service
    EC2ContainerServiceBackend.describe_services = describe_services
