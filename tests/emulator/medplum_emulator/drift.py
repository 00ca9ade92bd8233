"""Stack drift detection, which moto lacks: DetectStackDrift, DescribeStackDriftDetectionStatus
and DescribeStackResourceDrifts, answered from what the control API says was changed outside
CloudFormation (``POST /medplum-emulator/drift``: a resource edited or deleted by hand).

As CloudFormation does, a detection runs for a while (``MEDPLUM_EMULATOR_DRIFT_SECONDS``,
default 0.5, read at each call) before its status is DETECTION_COMPLETE, and its results are
what was true when it started. Resources nobody marked are IN_SYNC.

Does not model: NOT_CHECKED resource types, drift of stack sets, DetectStackResourceDrift.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.cloudformation.exceptions import ValidationError

DRIFT_SECONDS = "MEDPLUM_EMULATOR_DRIFT_SECONDS"

_LOCK = threading.Lock()
# (account, region, stack name) -> logical id -> {"status", "differences"}.
_MARKED: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
# detection id -> the detection.
_DETECTIONS: dict[str, dict[str, Any]] = {}
# (account, region, stack id) -> the last detection's id.
_LAST: dict[tuple[str, str, str], str] = {}


def reset() -> None:
    with _LOCK:
        _MARKED.clear()
        _DETECTIONS.clear()
        _LAST.clear()


def mark(body: Any) -> dict[str, Any]:
    """The control API: ``{"stack", "logicalId", "status": "MODIFIED"|"DELETED"|"IN_SYNC",
    "property"?, "expected"?, "actual"?, "region"?, "account"?}``."""
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("stack", "logicalId", "status")):
        raise ValueError('expected {"stack", "logicalId", "status"}')
    status = body["status"]
    if status not in ("MODIFIED", "DELETED", "IN_SYNC"):
        raise ValueError("status is MODIFIED, DELETED or IN_SYNC")
    key = (body.get("account", "123456789012"), body.get("region", "us-east-1"), body["stack"])
    differences = []
    if status == "MODIFIED":
        differences.append(
            {
                "PropertyPath": body.get("property", "/Properties"),
                "ExpectedValue": str(body.get("expected", "")),
                "ActualValue": str(body.get("actual", "")),
                "DifferenceType": "NOT_EQUAL",
            }
        )
    with _LOCK:
        marked = _MARKED.setdefault(key, {})
        if status == "IN_SYNC":
            marked.pop(body["logicalId"], None)
        else:
            marked[body["logicalId"]] = {"status": status, "differences": differences}
    return {"stack": body["stack"], "logicalId": body["logicalId"], "status": status}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def detect(account: str, region: str, stack: Any) -> str:
    """Starts a detection of ``stack`` (a lifecycle.Stack); returns its id."""
    if stack.status.endswith("_IN_PROGRESS"):
        raise ValidationError(message=f"Drift detection is not supported for stack {stack.name} in {stack.status}")
    detection_id = str(uuid.uuid4())
    with _LOCK:
        marked = dict(_MARKED.get((account, region, stack.name), {}))
        results = []
        for r in stack.resources.values():
            m = marked.get(r.logical_id)
            results.append(
                {
                    "StackId": stack.stack_id,
                    "LogicalResourceId": r.logical_id,
                    "PhysicalResourceId": r.physical_id,
                    "ResourceType": r.type,
                    "ExpectedProperties": "{}",
                    "ActualProperties": "{}",
                    "PropertyDifferences": m["differences"] if m else [],
                    "StackResourceDriftStatus": m["status"] if m else "IN_SYNC",
                    "Timestamp": _now(),
                }
            )
        _DETECTIONS[detection_id] = {
            "id": detection_id,
            "stack_id": stack.stack_id,
            "started": time.monotonic(),
            "results": results,
        }
        _LAST[(account, region, stack.stack_id)] = detection_id
    return detection_id


def status(detection_id: str) -> dict[str, Any]:
    with _LOCK:
        d = _DETECTIONS.get(detection_id)
    if d is None:
        raise ValidationError(message=f"Drift detection {detection_id} does not exist")
    seconds = float(os.environ.get(DRIFT_SECONDS, "0.5"))
    done = time.monotonic() - d["started"] >= seconds
    drifted = sum(1 for r in d["results"] if r["StackResourceDriftStatus"] != "IN_SYNC")
    out = {
        "StackId": d["stack_id"],
        "StackDriftDetectionId": detection_id,
        "DetectionStatus": "DETECTION_COMPLETE" if done else "DETECTION_IN_PROGRESS",
        "Timestamp": _now(),
    }
    if done:
        out["StackDriftStatus"] = "DRIFTED" if drifted else "IN_SYNC"
        out["DriftedStackResourceCount"] = drifted
    return out


def resource_drifts(account: str, region: str, stack: Any, filters: list[str]) -> list[dict[str, Any]]:
    """The last completed detection's results, filtered by drift status."""
    with _LOCK:
        detection_id = _LAST.get((account, region, stack.stack_id))
        d = _DETECTIONS.get(detection_id) if detection_id else None
    if d is None:
        return []
    return [r for r in d["results"] if not filters or r["StackResourceDriftStatus"] in filters]
