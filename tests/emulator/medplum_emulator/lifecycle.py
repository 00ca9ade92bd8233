"""Stacks and change sets as CloudFormation runs them: asynchronously, resource by resource.

This module owns the emulator's CloudFormation state (stacks, change sets, events, per-resource
status) and the worker that carries out a stack operation. moto's own ``CloudFormationBackend``
is not used for stacks: it executes a change set inside the request, emits stack-level events
only and cannot roll back. Resources are still created, updated and deleted through moto's
``ResourceMap`` and models, so they exist in moto's service backends (S3, SSM, IAM, ...) and the
models the ``resources`` package registers are used too.

One worker thread runs one stack operation. ``LOCK`` guards moto's backends (plain dicts) and
everything here; the server holds it while it answers a request, so a response reads a
consistent snapshot, and a worker holds it only for one resource step at a time, never while
it waits out a resource's delay.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import string
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
from moto.cloudformation.parsing import (
    Export,
    OutputMap,
    ResourceMap,
    generate_resource_name,
    parse_and_update_resource,
    resource_name_property_from_type,
)
from moto.cloudformation.utils import generate_changeset_id, generate_stack_id

from . import changes, rules, templates
from .faults import REGISTRY as FAULTS

LOCK = threading.RLock()

# Where an operation that hit an emulator bug leaves its stack (a failed state the engine knows).
_BROKEN = {
    "CREATE_IN_PROGRESS": "CREATE_FAILED",
    "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
    "DELETE_IN_PROGRESS": "DELETE_FAILED",
    "UPDATE_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE",
}

NO_CHANGES_REASON = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Timing:
    """How long things take. From the environment at start-up; tests may change it."""

    change_set_seconds: float = 0.3
    resource_seconds: float = 0.05
    type_seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Timing:
        return cls(
            change_set_seconds=float(env.get("MEDPLUM_EMULATOR_CHANGE_SET_DELAY", "0.3")),
            resource_seconds=float(env.get("MEDPLUM_EMULATOR_RESOURCE_DELAY", "0.05")),
            type_seconds={k: float(v) for k, v in json.loads(env.get("MEDPLUM_EMULATOR_TYPE_DELAYS", "{}")).items()},
        )

    def for_type(self, resource_type: str) -> float:
        return self.type_seconds.get(resource_type, self.resource_seconds)


TIMING = Timing.from_env(dict(os.environ))


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFound"


class StepFailed(Exception):
    """A resource step failed; ``reason`` becomes the resource's ResourceStatusReason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Placeholder:
    """Stands in for a resource of a type that neither moto nor ``resources`` models.

    It has a physical ID (the name CloudFormation would generate) so Refs to it resolve, and
    answers every GetAtt with ``<physical id>.<attribute>``.
    """

    def __init__(self, physical_resource_id: str):
        self.physical_resource_id = physical_resource_id

    def get_cfn_attribute(self, attribute: str) -> str:
        return f"{self.physical_resource_id}.{attribute}"

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing exists behind a placeholder."""


@dataclass
class Resource:
    """A stack resource as DescribeStackResources shows it."""

    logical_id: str
    type: str
    status: str
    reason: str | None = None
    physical_id: str | None = None
    updated: datetime = field(default_factory=_now)
    exists: bool = False  # whether moto holds a resource for it (what a rollback must delete)


class Stack:
    def __init__(self, backend: Backend, name: str, tags: dict[str, str]):
        self.backend = backend
        self.name = name
        self.stack_id = generate_stack_id(name, backend.region, backend.account_id)
        self.status = "REVIEW_IN_PROGRESS"
        self.status_reason: str | None = None
        self.template_body = ""
        self.template: dict[str, Any] = {}
        self.inputs: dict[str, str] = {}
        self.resolved: dict[str, str] = {}
        self.tags = tags
        self.description: str | None = None  # the template's Description
        self.capabilities: list[str] = []
        self.notification_arns: list[str] = []
        self.role_arn: str | None = None
        self.disable_rollback = False
        self.creation_time = _now()
        self.last_updated_time: datetime | None = None
        self.deletion_time: datetime | None = None
        self.outputs: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.resources: dict[str, Resource] = {}
        self.rmap: ResourceMap | None = None
        self.operation: Operation | None = None
        self.change_set_id: str | None = None

    def stack_event(self, status: str, reason: str | None = None) -> None:
        self.status, self.status_reason = status, reason
        self._append_event(self.name, "AWS::CloudFormation::Stack", status, reason, self.stack_id)

    def resource_event(
        self,
        logical_id: str,
        type_: str,
        status: str,
        reason: str | None = None,
        physical_id: str | None = None,
        track: bool = True,
    ) -> None:
        """Adds a resource event; with ``track`` it is also the resource's current status."""
        if track:
            record = self.resources.get(logical_id)
            if record is None:
                record = self.resources[logical_id] = Resource(logical_id, type_, status)
            record.status, record.reason, record.updated = status, reason, _now()
            if physical_id is not None:
                record.physical_id = physical_id
            physical_id = record.physical_id
        self._append_event(logical_id, type_, status, reason, physical_id or "")

    def _append_event(self, logical_id: str, type_: str, status: str, reason: str | None, physical_id: str) -> None:
        self.events.append(
            {
                "StackId": self.stack_id,
                "EventId": str(uuid.uuid4()),
                "StackName": self.name,
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": physical_id,
                "ResourceType": type_,
                "Timestamp": _now(),
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
                "ClientRequestToken": self.operation.token if self.operation else None,
            }
        )

    def resource_json(self, logical_id: str) -> dict[str, Any]:
        return templates.resources(self.template).get(logical_id, {})

    @property
    def live_resources(self) -> dict[str, Resource]:
        """The resources the stack holds (deleted ones, kept for the record, left out)."""
        return {lid: r for lid, r in self.resources.items() if r.status not in ("DELETE_COMPLETE", "DELETE_SKIPPED")}


class ChangeSet:
    """A change set; ``internal`` ones stand behind CreateStack/UpdateStack and are never listed."""

    def __init__(self, stack: Stack, name: str, change_set_type: str, request: dict[str, Any], internal: bool):
        self.stack = stack
        self.name = name
        self.change_set_id = generate_changeset_id(name, stack.backend.region, stack.backend.account_id)
        self.change_set_type = change_set_type
        self.template_body: str = request["template_body"]
        self.template: dict[str, Any] = request["template"]
        self.inputs: dict[str, str] = request["inputs"]
        self.resolved: dict[str, str] = request["resolved"]
        self.capabilities: list[str] = request["capabilities"]
        self.tags: dict[str, str] = request["tags"]
        self.description: str | None = request["description"]
        self.notification_arns: list[str] = request["notification_arns"]
        self.role_arn: str | None = request["role_arn"]
        self.internal = internal
        self.changes: list[dict[str, Any]] = []
        self.creation_time = _now()
        # CloudFormation computes a change set in the background; DescribeChangeSet shows
        # CREATE_IN_PROGRESS until then. The outcome is known at once here, shown after the delay.
        self.ready_at = time.monotonic() + (0.0 if internal else TIMING.change_set_seconds)
        self.outcome = "CREATE_COMPLETE"
        self.outcome_reason: str | None = None
        self.executed: str | None = None  # EXECUTE_IN_PROGRESS / EXECUTE_COMPLETE / EXECUTE_FAILED / OBSOLETE
        self.token: str | None = None

    @property
    def ready(self) -> bool:
        return time.monotonic() >= self.ready_at

    @property
    def status(self) -> str:
        return self.outcome if self.ready else "CREATE_IN_PROGRESS"

    @property
    def status_reason(self) -> str | None:
        return self.outcome_reason if self.ready else None

    @property
    def execution_status(self) -> str:
        if self.executed:
            return self.executed
        return "AVAILABLE" if self.status == "CREATE_COMPLETE" else "UNAVAILABLE"


class Operation:
    """One stack operation under way; its worker thread watches ``cancel``."""

    def __init__(self, stack: Stack, token: str | None, retain_except_on_create: bool):
        self.stack = stack
        self.token = token
        self.retain_except_on_create = retain_except_on_create
        self.cancel = threading.Event()
        self.delete_requested = False
        self.abandoned = False  # set by reset: stop at the next step without touching anything
        self.thread: threading.Thread | None = None


@dataclass
class Step:
    """One resource's part in a phase. ``begin`` runs with LOCK held and returns its duration."""

    logical_id: str
    on: str  # the fault operation: create / update / delete
    begin: Callable[[bool], float]  # argument: a fault will fail or hang it, so do no real work
    finish: Callable[[], None]
    fail: Callable[[str], None]
    cancel: Callable[[], None]


class Backend:
    """The stacks of one account and region."""

    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.stacks: dict[str, Stack] = {}
        self.deleted: dict[str, Stack] = {}
        self.change_sets: dict[str, ChangeSet] = {}
        self.exports: dict[str, Export] = {}

    # Lookup -------------------------------------------------------------------------------

    def find_stack(self, name_or_id: str) -> Stack | None:
        """A live stack by name or ID, or a deleted one by ID (as CloudFormation resolves them)."""
        for stack in self.stacks.values():
            if name_or_id in (stack.name, stack.stack_id):
                return stack
        return self.deleted.get(name_or_id)

    def get_stack(self, name_or_id: str) -> Stack:
        stack = self.find_stack(name_or_id)
        if stack is None:
            raise ValidationError(message=f"Stack with id {name_or_id} does not exist")
        return stack

    def get_change_set(self, name_or_id: str, stack_name: str | None) -> ChangeSet:
        if name_or_id in self.change_sets:
            return self.change_sets[name_or_id]
        stack = self.find_stack(stack_name) if stack_name else None
        for change_set in self.change_sets.values():
            if change_set.name == name_or_id and stack is not None and change_set.stack is stack and not change_set.internal:
                return change_set
        raise ChangeSetNotFound(f"ChangeSet [{name_or_id}] does not exist")

    def ssm_value(self, name: str) -> str | None:
        from moto.ssm.models import ssm_backends

        parameter = ssm_backends[self.account_id][self.region].get_parameter(name)
        return None if parameter is None else parameter.value

    # Change sets --------------------------------------------------------------------------

    def create_change_set(
        self, stack_name: str, name: str, change_set_type: str, request: dict[str, Any], internal: bool = False
    ) -> ChangeSet:
        """Validates as CloudFormation does and records the change set. ``request`` holds
        ``template_body`` (None with UsePreviousTemplate), ``parameters`` (as sent),
        ``capabilities``, ``tags`` (None: keep the stack's), ``description``,
        ``notification_arns`` and ``role_arn``."""
        from moto.cloudformation.utils import validate_create_change_set

        validate_create_change_set(name)
        stack = next((s for s in self.stacks.values() if stack_name in (s.name, s.stack_id)), None)
        rules.check_change_set_target(stack, stack_name, change_set_type)
        if stack is not None and any(cs.name == name and cs.stack is stack for cs in self.change_sets.values()):
            raise AlreadyExistsException(f"ChangeSet {name} already exists")
        previous = stack if change_set_type == "UPDATE" else None
        request = self.check_request(request, previous)

        new_stack = stack is None
        if stack is None:
            stack = Stack(self, stack_name, request["tags"])
        try:
            after_map = self._resource_map(stack, request["template"], request["inputs"])
            after = changes.StackSide(_active(after_map, request["template"]), request["resolved"], {})
        except CloudFormationError:
            raise
        except Exception as e:  # noqa: BLE001 - moto's template evaluation fails with plain errors
            raise ValidationError(message=f"Template format error: {e!r}") from e
        if new_stack:
            self.stacks[stack.stack_id] = stack
            if not internal:
                stack.stack_event("REVIEW_IN_PROGRESS", "User Initiated")
        change_set = ChangeSet(stack, name, change_set_type, request, internal)
        before = changes.StackSide({}, {}, {})
        if previous is not None:
            before = changes.StackSide(
                {lid: stack.resource_json(lid) for lid in stack.live_resources},
                stack.resolved,
                {lid: r.physical_id or "" for lid, r in stack.live_resources.items()},
            )
            rules.check_type_changes(before.resources, after.resources)
        change_set.changes = changes.compute(before, after)
        if previous is not None and not change_set.changes and (
            request["template"] == stack.template and request["inputs"] == stack.inputs and request["tags"] == stack.tags
        ):
            change_set.outcome, change_set.outcome_reason = "FAILED", NO_CHANGES_REASON
        self.change_sets[change_set.change_set_id] = change_set
        return change_set

    def check_request(self, request: dict[str, Any], previous: Stack | None) -> dict[str, Any]:
        """The request's template and parameters checked and resolved (CloudFormation's rules)."""
        body = request["template_body"]
        if body is None:
            if previous is None:
                raise ValidationError(message="Either Template URL or Template Body must be specified.")
            body = previous.template_body
        template = templates.parse(body)
        resources = templates.resources(template)
        rules.check_resource_count(resources)
        rules.check_references(template)
        inputs, resolved = rules.resolve_parameters(
            templates.declared_parameters(template),
            request["parameters"],
            previous.inputs if previous is not None else None,
            self.ssm_value,
        )
        rules.check_capabilities(resources, request["capabilities"])
        if previous is not None and request["tags"] is None:
            request = dict(request, tags=previous.tags)
        return dict(request, template_body=body, template=template, inputs=inputs, resolved=resolved, tags=request["tags"] or {})

    def delete_change_set(self, change_set: ChangeSet) -> None:
        if change_set.executed == "EXECUTE_IN_PROGRESS":
            raise rules.InvalidChangeSetStatus(
                f"Cannot delete ChangeSet in status {change_set.execution_status}"
            )
        del self.change_sets[change_set.change_set_id]

    def execute_change_set(
        self, change_set: ChangeSet, token: str | None, retain_except_on_create: bool, disable_rollback: bool
    ) -> None:
        if change_set.executed and token is not None and token == change_set.token:
            return  # a retry of the same request: CloudFormation accepts it and does nothing more
        if change_set.status != "CREATE_COMPLETE":
            raise rules.InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of [{change_set.status}]"
            )
        if change_set.execution_status != "AVAILABLE":
            raise rules.InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution status of "
                f"[{change_set.execution_status}]"
            )
        stack = change_set.stack
        if change_set.change_set_type == "UPDATE":
            rules.check_updatable(stack)
        change_set.executed, change_set.token = "EXECUTE_IN_PROGRESS", token
        for other in self.change_sets.values():
            if other.stack is stack and other is not change_set and other.executed is None:
                other.executed = "OBSOLETE"
        stack.disable_rollback = disable_rollback
        worker = _create if change_set.change_set_type == "CREATE" else _update
        self._start(stack, token, retain_except_on_create, lambda op: worker(op, change_set))

    # Stacks -------------------------------------------------------------------------------

    def create_stack(self, stack_name: str, request: dict[str, Any], token: str | None, disable_rollback: bool) -> Stack:
        """CreateStack: a change set made and executed at once, as CloudFormation does inside."""
        if self.find_stack(stack_name) is not None:
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
        change_set = self.create_change_set(stack_name, f"create-{uuid.uuid4().hex}", "CREATE", request, internal=True)
        self.execute_change_set(change_set, token, False, disable_rollback)
        return change_set.stack

    def update_stack(self, stack_name: str, request: dict[str, Any], token: str | None, disable_rollback: bool) -> Stack:
        change_set = self.create_change_set(stack_name, f"update-{uuid.uuid4().hex}", "UPDATE", request, internal=True)
        if change_set.outcome == "FAILED":
            del self.change_sets[change_set.change_set_id]
            raise ValidationError(message="No updates are to be performed.")
        self.execute_change_set(change_set, token, False, disable_rollback)
        return change_set.stack

    def delete_stack(self, stack: Stack, token: str | None) -> None:
        if stack.status == "DELETE_COMPLETE" or stack.status == "DELETE_IN_PROGRESS":
            return
        operation = stack.operation
        if operation is not None and stack.status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            # CloudFormation stops a create to delete the stack; a rollback finishes first.
            operation.delete_requested = True
            if stack.status == "CREATE_IN_PROGRESS":
                operation.cancel.set()
            return
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
        self._start(stack, token, False, _delete)

    def cancel_update(self, stack: Stack) -> None:
        if stack.status != "UPDATE_IN_PROGRESS" or stack.operation is None:
            raise ValidationError(message=f"CancelUpdateStack cannot be called from current stack status")
        stack.operation.cancel.set()

    def _start(self, stack: Stack, token: str | None, retain_except_on_create: bool, work: Callable[[Operation], None]) -> None:
        operation = Operation(stack, token, retain_except_on_create)
        stack.operation = operation

        def run() -> None:
            try:
                work(operation)
            except Exception as e:  # noqa: BLE001 - an emulator bug must not leave the stack in progress
                traceback.print_exc()
                with LOCK:
                    stack.stack_event(_BROKEN.get(stack.status, stack.status), f"Internal emulator error: {e!r}")
            finally:
                with LOCK:
                    if stack.operation is operation:
                        stack.operation = None

        operation.thread = threading.Thread(target=run, name=f"stack-{stack.name}", daemon=True)
        operation.thread.start()

    def _resource_map(self, stack: Stack, template: dict[str, Any], inputs: dict[str, str]) -> ResourceMap:
        rmap = ResourceMap(
            stack.stack_id,
            stack.name,
            dict(inputs),
            stack.tags,
            region_name=self.region,
            account_id=self.account_id,
            template=copy.deepcopy(template),
            cross_stack_resources=self.exports,
        )
        # ResourceMap.load() without validate_outputs(): that refuses outputs whose GetAtt moto's
        # model lacks, a limit of moto and not of the template. Such outputs are left out instead.
        rmap.load_mapping()
        rmap.transform_mapping()
        rmap.load_parameters()
        rmap.load_conditions()
        return rmap

    def abandon_all(self) -> None:
        """Stops every worker (for a reset): they return at their next step."""
        for stack in self.stacks.values():
            if stack.operation is not None:
                stack.operation.abandoned = True
                stack.operation.cancel.set()


class _Store:
    def __init__(self) -> None:
        self.backends: dict[tuple[str, str], Backend] = {}

    def backend(self, account_id: str, region: str) -> Backend:
        key = (account_id, region)
        if key not in self.backends:
            self.backends[key] = Backend(account_id, region)
        return self.backends[key]

    def reset(self) -> list[threading.Thread]:
        """Forgets every stack; returns the workers that were running, to be joined."""
        threads = []
        for backend in self.backends.values():
            backend.abandon_all()
            threads.extend(s.operation.thread for s in backend.stacks.values() if s.operation and s.operation.thread)
        self.backends.clear()
        return threads


STORE = _Store()


# Workers --------------------------------------------------------------------------------------


class _Abandoned(Exception):
    """Raised inside a worker after a reset: the state it works on is gone."""


def _active(rmap: ResourceMap, template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's resources whose Condition holds."""
    return {
        lid: resource
        for lid, resource in templates.resources(template).items()
        if not resource.get("Condition") or rmap.lazy_condition_map[resource["Condition"]]
    }


def _ordered(resources: dict[str, dict[str, Any]], only: set[str] | None = None) -> tuple[list[str], dict[str, set[str]]]:
    """Dependency order of ``resources`` and each one's dependencies, restricted to ``only``."""
    graph = templates.dependencies(resources)
    order = [lid for lid in templates.dependency_order(graph) if only is None or lid in only]
    position = {lid: i for i, lid in enumerate(order)}
    # Keep only edges to earlier resources, so a cycle cannot stall the scheduler.
    deps = {lid: {d for d in graph[lid] if d in position and position[d] < position[lid]} for lid in order}
    return order, deps


def _reversed(order: list[str], deps: dict[str, set[str]]) -> tuple[list[str], dict[str, set[str]]]:
    """The order and edges for deleting: a resource goes only after those that depend on it."""
    dependents: dict[str, set[str]] = {lid: set() for lid in order}
    for lid, needs in deps.items():
        for need in needs:
            dependents[need].add(lid)
    return list(reversed(order)), dependents


@dataclass
class Phase:
    """What became of a phase's steps."""

    failed: list[str] = field(default_factory=list)  # failed on their own (fault or service error)
    cancelled: list[str] = field(default_factory=list)  # stopped while under way
    begun: set[str] = field(default_factory=set)
    stopped_by_cancel: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stopped_by_cancel


def _run(
    op: Operation,
    order: list[str],
    deps: dict[str, set[str]],
    steps: dict[str, Step],
    cancellable: bool,
    inject: bool = False,
) -> Phase:
    """Runs a phase: each step starts once its dependencies are complete, independent steps overlap.

    On the first failure, or a cancellation (only in a ``cancellable`` phase), steps still under
    way are cancelled and nothing more starts. Fault rules apply only with ``inject``: to the
    operation asked for (create, update, stack delete), never to its rollback or cleanup, so a
    rule describes one failure and the stack still reaches a ``*_ROLLBACK_COMPLETE`` state.
    """
    pending = [lid for lid in order if lid in steps]
    running: dict[str, tuple[float, Any]] = {}
    done: set[str] = set()
    phase = Phase()
    failed = phase.failed
    stack = op.stack
    while True:
        if op.abandoned:
            raise _Abandoned()
        stopping = bool(failed) or (cancellable and op.cancel.is_set())
        if not stopping:
            for lid in [lid for lid in pending if deps.get(lid, set()) & set(steps) <= done]:
                pending.remove(lid)
                phase.begun.add(lid)
                fault = FAULTS.take(stack.name, lid, steps[lid].on) if inject else None
                # Only a cancellable phase can hang: nothing could ever end a hung delete.
                hangs = fault is not None and fault.hang and cancellable
                with LOCK:
                    try:
                        # A hung resource does its real work first, as a service that never
                        # stabilises does: it exists, with its physical id, and never completes.
                        seconds = steps[lid].begin(fault is not None and not hangs)
                    except StepFailed as e:
                        steps[lid].fail(e.reason)
                        failed.append(lid)
                        break
                running[lid] = (math.inf if hangs else time.monotonic() + seconds, fault)
            stopping = bool(failed)
        if stopping or (cancellable and op.cancel.is_set()):
            with LOCK:
                for lid in running:
                    steps[lid].cancel()
            phase.cancelled = list(running)
            phase.stopped_by_cancel = not failed
            return phase
        if not running:
            return phase
        due = min(d for d, _ in running.values())
        timeout = None if due == math.inf else max(0.0, due - time.monotonic())
        if cancellable:
            op.cancel.wait(timeout)
        elif timeout:
            time.sleep(timeout)
        now = time.monotonic()
        for lid, (due_at, fault) in list(running.items()):
            if due_at <= now:
                del running[lid]
                with LOCK:
                    if fault is not None:
                        steps[lid].fail(fault.reason)
                        failed.append(lid)
                    else:
                        steps[lid].finish()
                        done.add(lid)


def _failure_reason(error: Exception) -> str:
    """What CloudFormation would put in ResourceStatusReason for a failed service call."""
    if getattr(error, "code", None) == "BucketAlreadyExists":
        return f"{error.bucket_name} already exists"  # type: ignore[attr-defined]
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def _create_model(stack: Stack, rmap: ResourceMap, logical_id: str, resource_type: str) -> Any:
    rmap._parsed_resources.pop(logical_id, None)
    try:
        model = rmap[logical_id]
    except Exception as e:  # noqa: BLE001 - any service error fails the resource, as in AWS
        raise StepFailed(_failure_reason(e)) from e
    if model is None:
        model = Placeholder(generate_resource_name(resource_type, stack.name, logical_id))
        rmap._parsed_resources[logical_id] = model
    return model


def _delete_model(rmap: ResourceMap, logical_id: str, resource_json: dict[str, Any]) -> None:
    model = rmap._parsed_resources.get(logical_id)
    if model is None or isinstance(model, str):
        return
    try:
        rmap._delete_resource(model, copy.deepcopy(resource_json))
    except Exception as e:  # noqa: BLE001
        raise StepFailed(_failure_reason(e)) from e
    rmap._parsed_resources.pop(logical_id, None)


def _final_snapshot(stack: Stack, rmap: ResourceMap, logical_id: str, resource_json: dict[str, Any]) -> None:
    """``DeletionPolicy: Snapshot``: a final snapshot before the delete, as CloudFormation takes
    one (named ``<stack>-snapshot-<logical id>-<random>``, lowercase). Models without snapshots
    (``final_snapshot``) delete without one; CloudFormation refuses the policy on such types at
    validation, which the templates never rely on."""
    if resource_json.get("DeletionPolicy") != "Snapshot":
        return
    snapshot = getattr(rmap._parsed_resources.get(logical_id), "final_snapshot", None)
    if snapshot is None:
        return
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=12))
    name = re.sub(r"-+", "-", f"{stack.name}-snapshot-{logical_id}-{suffix}".lower())
    try:
        snapshot(name[:255])
    except Exception as e:  # noqa: BLE001 - the delete fails on it, as in AWS
        raise StepFailed(_failure_reason(e)) from e


def _physical_id(model: Any) -> str:
    return str(getattr(model, "physical_resource_id", "") or "")


def _create_step(op: Operation, rmap: ResourceMap, logical_id: str, resource_type: str) -> Step:
    stack = op.stack

    def begin(faulted: bool) -> float:
        stack.resource_event(logical_id, resource_type, "CREATE_IN_PROGRESS")
        if not faulted:
            model = _create_model(stack, rmap, logical_id, resource_type)
            stack.resources[logical_id].exists = True
            stack.resource_event(
                logical_id, resource_type, "CREATE_IN_PROGRESS", "Resource creation Initiated", _physical_id(model)
            )
        return TIMING.for_type(resource_type)

    return Step(
        logical_id,
        "create",
        begin,
        finish=lambda: stack.resource_event(logical_id, resource_type, "CREATE_COMPLETE"),
        fail=lambda reason: stack.resource_event(logical_id, resource_type, "CREATE_FAILED", reason),
        cancel=lambda: stack.resource_event(logical_id, resource_type, "CREATE_FAILED", "Resource creation cancelled"),
    )


def _delete_step(op: Operation, rmap: ResourceMap, logical_id: str, resource_json: dict[str, Any], retain: bool, track: bool = True, physical_id: str | None = None) -> Step:
    stack = op.stack
    resource_type = resource_json.get("Type", "")

    def event(status: str, reason: str | None = None) -> None:
        stack.resource_event(logical_id, resource_type, status, reason, physical_id, track=track)

    def begin(faulted: bool) -> float:
        if retain:
            event("DELETE_SKIPPED")
            return 0.0
        event("DELETE_IN_PROGRESS")
        if not faulted:
            _final_snapshot(stack, rmap, logical_id, resource_json)
            _delete_model(rmap, logical_id, resource_json)
            if track:
                stack.resources[logical_id].exists = False
        return TIMING.for_type(resource_type)

    return Step(
        logical_id,
        "delete",
        begin,
        finish=lambda: None if retain else event("DELETE_COMPLETE"),
        fail=lambda reason: event("DELETE_FAILED", reason),
        cancel=lambda: event("DELETE_FAILED", "Resource deletion cancelled"),
    )


def _retained(resource_json: dict[str, Any], created_by_this_operation: bool, op: Operation) -> bool:
    """Whether deleting this resource leaves it in place (DELETE_SKIPPED).

    ``RetainExceptOnCreate`` (the policy, or the ExecuteChangeSet flag applied to ``Retain``)
    deletes a resource created by the operation being rolled back and retains it otherwise.
    """
    policy = resource_json.get("DeletionPolicy", "Delete")
    if policy == "RetainExceptOnCreate":
        return not created_by_this_operation
    if policy == "Retain":
        return not (created_by_this_operation and op.retain_except_on_create)
    return False


def _commit_outputs(stack: Stack, rmap: ResourceMap, template: dict[str, Any]) -> None:
    """Outputs and exports from the template, evaluated against the stack's resources."""
    output_map = OutputMap(rmap, template, stack.stack_id)
    exports = {e.value: e.name for e in output_map.exports}
    stack.outputs = []
    for key in output_map:
        try:
            output = output_map[key]
        except Exception as e:  # noqa: BLE001 - a model lacking the attribute: leave the output out
            print(f"emulator: output {key} of {stack.name} left out: {e!r}", file=sys.stderr)
            continue
        if output is None:
            continue
        value = ",".join(map(str, output.value)) if isinstance(output.value, list) else str(output.value)
        stack.outputs.append(
            {"OutputKey": key, "OutputValue": value, "Description": output.description, "ExportName": exports.get(output.value)}
        )
    backend = stack.backend
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in output_map.exports:
        backend.exports[export.name] = export


def _failed_list(verb: str, failed: list[str]) -> str:
    return f"The following resource(s) failed to {verb}: [{', '.join(sorted(failed))}]. "


def _create(op: Operation, change_set: ChangeSet) -> None:
    stack, backend = op.stack, op.stack.backend
    try:
        with LOCK:
            stack.template_body, stack.template = change_set.template_body, change_set.template
            stack.inputs, stack.resolved = change_set.inputs, change_set.resolved
            stack.capabilities, stack.tags = change_set.capabilities, change_set.tags
            stack.description = change_set.template.get("Description")
            stack.notification_arns, stack.role_arn = change_set.notification_arns, change_set.role_arn
            stack.change_set_id = change_set.change_set_id
            stack.stack_event("CREATE_IN_PROGRESS", "User Initiated")
            rmap = stack.rmap = backend._resource_map(stack, stack.template, stack.inputs)
            active = _active(rmap, stack.template)
        order, deps = _ordered(active)
        steps = {lid: _create_step(op, rmap, lid, active[lid]["Type"]) for lid in order}
        phase = _run(op, order, deps, steps, cancellable=True, inject=True)
        with LOCK:
            change_set.executed = "EXECUTE_COMPLETE" if phase.ok else "EXECUTE_FAILED"
            if phase.ok:
                _commit_outputs(stack, rmap, stack.template)
                stack.stack_event("CREATE_COMPLETE")
                return
        if op.delete_requested and phase.stopped_by_cancel:
            _delete(op)
            return
        failed = phase.failed + phase.cancelled
        with LOCK:
            if stack.disable_rollback:
                stack.stack_event("CREATE_FAILED", _failed_list("create", failed))
                return
            stack.stack_event("ROLLBACK_IN_PROGRESS", _failed_list("create", failed) + "Rollback requested by user.")
        delete_order, delete_deps = _reversed(*_ordered(active, phase.begun))
        steps = {
            lid: _delete_step(op, rmap, lid, active[lid], _retained(active[lid], True, op)) for lid in delete_order
        }
        failed_deletes = _run(op, delete_order, delete_deps, steps, cancellable=False).failed
        with LOCK:
            stack.stack_event(
                "ROLLBACK_FAILED" if failed_deletes else "ROLLBACK_COMPLETE",
                _failed_list("delete", failed_deletes) if failed_deletes else None,
            )
        if op.delete_requested:
            _delete(op)
    except _Abandoned:
        return


def _update(op: Operation, change_set: ChangeSet) -> None:
    stack, backend = op.stack, op.stack.backend
    try:
        with LOCK:
            stack.stack_event("UPDATE_IN_PROGRESS", "User Initiated")
            old_map = stack.rmap
            old_resources = {lid: stack.resource_json(lid) for lid in stack.live_resources}
            old_physical = {lid: r.physical_id for lid, r in stack.live_resources.items()}
            by_action: dict[str, dict[str, dict[str, Any]]] = {"Add": {}, "Modify": {}, "Remove": {}}
            for change in change_set.changes:
                rc = change["ResourceChange"]
                by_action[rc["Action"]][rc["LogicalResourceId"]] = rc
            replaced = {lid for lid, rc in by_action["Modify"].items() if rc.get("Replacement") in ("True", "Conditional")}
            new_map = backend._resource_map(stack, change_set.template, change_set.inputs)
            for lid in old_resources:
                if lid not in replaced and lid in old_map._parsed_resources:
                    new_map._parsed_resources[lid] = old_map._parsed_resources[lid]
            new_active = _active(new_map, change_set.template)
        touched = set(by_action["Add"]) | set(by_action["Modify"])
        order, deps = _ordered(new_active, touched)
        steps = {}
        for lid in order:
            resource_type = new_active[lid]["Type"]
            if lid in by_action["Add"]:
                steps[lid] = _create_step(op, new_map, lid, resource_type)
            elif lid in replaced:
                steps[lid] = _replace_step(op, new_map, lid, new_active[lid], old_resources[lid])
            else:
                steps[lid] = _modify_step(op, new_map, lid, new_active[lid], "update")
        phase = _run(op, order, deps, steps, cancellable=True, inject=True)

        if phase.ok:
            with LOCK:
                stack.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                _adopt(stack, change_set, new_map)
            cleanup = {}
            for lid in set(by_action["Remove"]) | replaced:
                resource_json = old_resources[lid]
                if lid in replaced:
                    retain = resource_json.get("UpdateReplacePolicy") == "Retain"
                    cleanup[lid] = _delete_step(op, old_map, lid, resource_json, retain, track=False, physical_id=old_physical[lid])
                else:
                    cleanup[lid] = _delete_step(op, old_map, lid, resource_json, _retained(resource_json, False, op))
            delete_order, delete_deps = _reversed(*_ordered(old_resources, set(cleanup)))
            _run(op, delete_order, delete_deps, cleanup, cancellable=False)
            with LOCK:
                for lid in by_action["Remove"]:
                    stack.resources.pop(lid, None)
                stack.stack_event("UPDATE_COMPLETE")
                change_set.executed = "EXECUTE_COMPLETE"
            return

        with LOCK:
            change_set.executed = "EXECUTE_FAILED"
            failed = phase.failed
            reason = "Stack update cancelled" if phase.stopped_by_cancel else _failed_list(
                "update" if set(failed) - set(by_action["Add"]) else "create", failed
            )
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", reason)
        started = phase.begun
        reverts = {}
        for lid in sorted(started & set(by_action["Modify"])):
            if lid in replaced:
                reverts[lid] = _restore_step(op, lid, old_resources[lid]["Type"], old_physical[lid])
            else:
                old_map._parsed_resources[lid] = new_map._parsed_resources.get(lid, old_map._parsed_resources.get(lid))
                reverts[lid] = _modify_step(op, old_map, lid, old_resources[lid], "update")
        revert_order, revert_deps = _ordered(old_resources, set(reverts))
        failed_reverts = _run(op, revert_order, revert_deps, reverts, cancellable=False).failed
        with LOCK:
            stack.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        cleanup = {}
        for lid in started & (set(by_action["Add"]) | replaced):
            resource_json = new_active[lid]
            if lid in replaced:
                physical = _physical_id(new_map._parsed_resources.get(lid))
                cleanup[lid] = _delete_step(op, new_map, lid, resource_json, False, track=False, physical_id=physical)
            else:
                cleanup[lid] = _delete_step(op, new_map, lid, resource_json, _retained(resource_json, True, op))
        delete_order, delete_deps = _reversed(*_ordered(new_active, set(cleanup)))
        _run(op, delete_order, delete_deps, cleanup, cancellable=False)
        with LOCK:
            for lid in by_action["Add"]:
                if lid in stack.resources and stack.resources[lid].status != "DELETE_SKIPPED":
                    stack.resources.pop(lid)
            _commit_outputs(stack, old_map, stack.template)
            stack.stack_event("UPDATE_ROLLBACK_FAILED" if failed_reverts else "UPDATE_ROLLBACK_COMPLETE")
    except _Abandoned:
        return


def _adopt(stack: Stack, change_set: ChangeSet, new_map: ResourceMap) -> None:
    """The update succeeded: the change set's template and parameters become the stack's."""
    stack.template_body, stack.template = change_set.template_body, change_set.template
    stack.inputs, stack.resolved = change_set.inputs, change_set.resolved
    stack.capabilities, stack.tags = change_set.capabilities, change_set.tags
    stack.description = change_set.template.get("Description")
    stack.change_set_id = change_set.change_set_id
    stack.last_updated_time = _now()
    stack.rmap = new_map
    _commit_outputs(stack, new_map, stack.template)


def _modify_step(op: Operation, rmap: ResourceMap, logical_id: str, resource_json: dict[str, Any], on: str) -> Step:
    stack = op.stack
    resource_type = resource_json["Type"]

    def begin(faulted: bool) -> float:
        stack.resource_event(logical_id, resource_type, "UPDATE_IN_PROGRESS")
        if not faulted:
            try:
                model = parse_and_update_resource(
                    logical_id, copy.deepcopy(resource_json), rmap, rmap._account_id, rmap._region_name
                )
            except Exception as e:  # noqa: BLE001
                raise StepFailed(_failure_reason(e)) from e
            if model is not None:
                rmap._parsed_resources[logical_id] = model
                stack.resources[logical_id].physical_id = _physical_id(model)
        return TIMING.for_type(resource_type)

    return Step(
        logical_id,
        on,
        begin,
        finish=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_COMPLETE"),
        fail=lambda reason: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", reason),
        cancel=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", "Resource update cancelled"),
    )


def _replace_step(op: Operation, rmap: ResourceMap, logical_id: str, new_json: dict[str, Any], old_json: dict[str, Any]) -> Step:
    stack = op.stack
    resource_type = new_json["Type"]
    name_property = resource_name_property_from_type(resource_type)

    def begin(faulted: bool) -> float:
        stack.resource_event(
            logical_id,
            resource_type,
            "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one.",
        )
        old_name = (templates.resolve_parameters(old_json.get("Properties") or {}, stack.resolved)).get(name_property or "")
        new_name = (templates.resolve_parameters(new_json.get("Properties") or {}, rmap.resolved_parameters)).get(name_property or "")
        if old_name is not None and old_name == new_name:
            raise StepFailed(
                "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                f"Rename {old_name} and update the stack again."
            )
        if not faulted:
            model = _create_model(stack, rmap, logical_id, resource_type)
            stack.resource_event(
                logical_id, resource_type, "UPDATE_IN_PROGRESS", "Resource creation Initiated", _physical_id(model)
            )
        return TIMING.for_type(resource_type)

    return Step(
        logical_id,
        "update",
        begin,
        finish=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_COMPLETE"),
        fail=lambda reason: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", reason),
        cancel=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", "Resource update cancelled"),
    )


def _restore_step(op: Operation, logical_id: str, resource_type: str, old_physical: str | None) -> Step:
    """Rolls a replaced resource back to its old physical resource (which was never deleted)."""
    stack = op.stack

    def begin(faulted: bool) -> float:
        stack.resource_event(logical_id, resource_type, "UPDATE_IN_PROGRESS", physical_id=old_physical)
        return TIMING.for_type(resource_type)

    return Step(
        logical_id,
        "update",
        begin,
        finish=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_COMPLETE"),
        fail=lambda reason: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", reason),
        cancel=lambda: stack.resource_event(logical_id, resource_type, "UPDATE_FAILED", "Resource update cancelled"),
    )


def _delete(op: Operation) -> None:
    stack = op.stack
    try:
        with LOCK:
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            live = stack.live_resources
            resources_json = {lid: stack.resource_json(lid) or {"Type": r.type} for lid, r in live.items()}
            rmap = stack.rmap
        order, deps = _reversed(*_ordered(resources_json))
        steps = {
            lid: _delete_step(op, rmap, lid, resources_json[lid], _retained(resources_json[lid], False, op))
            for lid in order
        }
        failed = _run(op, order, deps, steps, cancellable=False, inject=True).failed
        with LOCK:
            if failed:
                stack.stack_event("DELETE_FAILED", _failed_list("delete", failed))
                return
            stack.stack_event("DELETE_COMPLETE")
            stack.deletion_time = _now()
            backend = stack.backend
            backend.stacks.pop(stack.stack_id, None)
            backend.deleted[stack.stack_id] = stack
            for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
                del backend.exports[name]
            for change_set_id in [i for i, cs in backend.change_sets.items() if cs.stack is stack]:
                del backend.change_sets[change_set_id]
    except _Abandoned:
        return
