"""Drift detection as CloudFormation answers it: a detection that takes a moment, then IN_SYNC,
or DRIFTED with the resources the operator changed outside CloudFormation (the control API's
``drift`` stands in for the hand edit)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import emu, emu_cfn, emu_server, wait_until  # noqa: F401

TEMPLATE = json.dumps(
    {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    }
)


def _deployed(cfn) -> None:
    cfn.create_stack(StackName="s", TemplateBody=TEMPLATE)
    wait_until(lambda: cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE")


def _detect(cfn) -> dict:
    detection = cfn.detect_stack_drift(StackName="s")["StackDriftDetectionId"]
    first = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    assert first["DetectionStatus"] == "DETECTION_IN_PROGRESS"
    assert "StackDriftStatus" not in first

    def complete():
        d = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        return d if d["DetectionStatus"] == "DETECTION_COMPLETE" else None

    return wait_until(complete, timeout=10, interval=0.1)


def test_a_stack_nobody_touched_is_in_sync(emu, emu_cfn) -> None:  # noqa: F811
    _deployed(emu_cfn)
    done = _detect(emu_cfn)
    assert done["StackDriftStatus"] == "IN_SYNC"
    assert done["DriftedStackResourceCount"] == 0
    drifts = emu_cfn.describe_stack_resource_drifts(StackName="s")["StackResourceDrifts"]
    assert {d["StackResourceDriftStatus"] for d in drifts} == {"IN_SYNC"}


def test_resources_changed_by_hand_are_drifted(emu, emu_cfn) -> None:  # noqa: F811
    _deployed(emu_cfn)
    emu.control("POST", "drift", {"stack": "s", "logicalId": "Topic", "status": "MODIFIED", "property": "/Properties/DisplayName", "expected": "a", "actual": "b"})
    emu.control("POST", "drift", {"stack": "s", "logicalId": "Queue", "status": "DELETED"})
    done = _detect(emu_cfn)
    assert done["StackDriftStatus"] == "DRIFTED"
    assert done["DriftedStackResourceCount"] == 2
    drifts = emu_cfn.describe_stack_resource_drifts(
        StackName="s", StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]
    )["StackResourceDrifts"]
    by_id = {d["LogicalResourceId"]: d for d in drifts}
    assert by_id["Topic"]["StackResourceDriftStatus"] == "MODIFIED"
    assert by_id["Topic"]["PropertyDifferences"][0]["PropertyPath"] == "/Properties/DisplayName"
    assert by_id["Queue"]["StackResourceDriftStatus"] == "DELETED"


def test_an_unknown_stack_or_detection_is_a_validation_error(emu, emu_cfn) -> None:  # noqa: F811
    with pytest.raises(ClientError) as caught:
        emu_cfn.detect_stack_drift(StackName="nope")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError):
        emu_cfn.describe_stack_drift_detection_status(StackDriftDetectionId="00000000-0000-0000-0000-000000000000")
