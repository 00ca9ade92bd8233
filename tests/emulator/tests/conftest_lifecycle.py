"""Fixtures for the lifecycle tests: one shared emulator, reset before each test.

Imported explicitly by the test modules (``from conftest_lifecycle import ...``) so they do not
depend on fixtures of the resource-model tests. The emulator is started the way the Rust test
harness starts it, through ``scripts/emulator --port 0``, reading the port from its ready line.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[3]
# The tests also import the emulator's modules directly (scripts/emulator sets this path too).
if str(REPO / "tests" / "emulator") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "emulator"))
READY = re.compile(r"emulator: listening on (http://\S+)")
START_TIMEOUT = 60.0
TERMINAL = re.compile(r"_(COMPLETE|FAILED)$")


class Emulator:
    """A running emulator: its URL, boto3 clients for it and its control API."""

    def __init__(self, url: str, process: subprocess.Popen[str]):
        self.url = url
        self.process = process

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/medplum-emulator/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def start_emulator(extra_args: list[str] = (), env: dict[str, str] | None = None) -> Emulator:
    """Starts ``scripts/emulator --port 0`` and waits for its ready line."""
    process = subprocess.Popen(
        [str(REPO / "scripts" / "emulator"), "--port", "0", *extra_args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + START_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = READY.search(line)
        if match:
            # Keep draining stderr so the emulator never blocks on a full pipe.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return Emulator(match.group(1), process)
    process.kill()
    raise RuntimeError(f"emulator did not start: {''.join(seen)}")


def stop_emulator(emulator: Emulator) -> int:
    emulator.process.terminate()
    return emulator.process.wait(timeout=10)


_SHARED: list[Emulator] = []


@pytest.fixture(scope="module")
def emu_server() -> Emulator:
    """One emulator for every module that uses it, started on first use, stopped at exit.

    Starting one costs seconds (moto imports every service's models), and each test resets
    it, so the lifecycle, rules and faults modules share it rather than start one each.
    """
    if not _SHARED or _SHARED[0].process.poll() is not None:
        _SHARED[:] = [start_emulator()]
        atexit.register(stop_emulator, _SHARED[0])
    return _SHARED[0]


@pytest.fixture
def emu(emu_server: Emulator) -> Emulator:
    """The module's emulator, reset, with fast delays (tests that need slower ones set them)."""
    emu_server.control("POST", "reset")
    emu_server.control("POST", "timing", {"changeSetSeconds": 0.1, "resourceSeconds": 0.02, "typeSeconds": {}})
    return emu_server


@pytest.fixture
def emu_cfn(emu: Emulator) -> Any:
    return emu.client("cloudformation")


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Polls ``check`` until it returns something truthy; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {getattr(check, '__name__', check)}")
        time.sleep(interval)


def stack_status(cfn: Any, name: str) -> str:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def wait_stack(cfn: Any, name: str, timeout: float = 10.0) -> dict[str, Any]:
    """Waits for the stack to reach a terminal status (``*_COMPLETE``/``*_FAILED``); returns it."""

    def settled() -> dict[str, Any] | None:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        in_flight = stack["StackStatus"].endswith("_IN_PROGRESS")
        return None if in_flight or not TERMINAL.search(stack["StackStatus"]) else stack

    return wait_until(settled, timeout)


def wait_change_set(cfn: Any, stack: str, name: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        change_set = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        return None if change_set["Status"] in ("CREATE_PENDING", "CREATE_IN_PROGRESS") else change_set

    return wait_until(settled)


def events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """All the stack's events, oldest first (DescribeStackEvents pages newest first)."""
    found = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        found.extend(page["StackEvents"])
    return found[::-1]


def template(resources: dict[str, Any], parameters: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"Resources": resources}
    if parameters:
        body["Parameters"] = parameters
    if outputs:
        body["Outputs"] = outputs
    return json.dumps(body)


def deploy(cfn: Any, name: str, body: str, change_set_type: str = "CREATE", **kwargs: Any) -> dict[str, Any]:
    """CreateChangeSet, wait, ExecuteChangeSet, wait: what the deploy engine does. Returns the stack."""
    change_set_name = "cs-" + change_set_type.lower() + str(time.monotonic_ns())
    cfn.create_change_set(StackName=name, ChangeSetName=change_set_name, TemplateBody=body, ChangeSetType=change_set_type, **kwargs)
    change_set = wait_change_set(cfn, name, change_set_name)
    assert change_set["Status"] == "CREATE_COMPLETE", change_set.get("StatusReason")
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set["ChangeSetName"])
    return wait_stack(cfn, name)
