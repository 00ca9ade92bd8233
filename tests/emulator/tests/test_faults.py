"""Fault injection and the rollbacks CloudFormation runs when a resource fails."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import (  # noqa: F401
    REPO,
    deploy,
    emu,
    emu_cfn,
    emu_server,
    events,
    start_emulator,
    stop_emulator,
    template,
    wait_change_set,
    wait_stack,
    wait_until,
)

from medplum_emulator import faults


def param(name: str, value, **extra) -> dict:
    return {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String", "Value": value, **extra}}


def resource_events(cfn, stack: str) -> list[tuple[str, str, str | None]]:
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, stack)
        if e["ResourceType"] != "AWS::CloudFormation::Stack"
    ]


def stack_events(cfn, stack: str) -> list[tuple[str, str | None]]:
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, stack)
        if e["ResourceType"] == "AWS::CloudFormation::Stack"
    ]


def execute(cfn, stack: str, body: str, change_set_type: str = "CREATE", **execute_args) -> dict:
    """Like ``deploy``, but returns whatever the stack ends in and passes ExecuteChangeSet options."""
    name = f"cs{time.monotonic_ns()}"
    cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=change_set_type, TemplateBody=body)
    wait_change_set(cfn, stack, name)
    cfn.execute_change_set(StackName=stack, ChangeSetName=name, **execute_args)
    return wait_stack(cfn, stack)


def test_create_failure_rolls_back_in_reverse_order(emu, emu_cfn):
    emu.control("POST", "timing", {"typeSeconds": {"AWS::S3::Bucket": 0.5}})
    emu.control("POST", "faults", [{"logicalId": "Broken", "on": "create", "reason": "Quota exceeded"}])
    body = template(
        {
            "Base": param("/base", "1"),
            "Broken": param("/broken", {"Ref": "Base"}),
            "Slow": {"Type": "AWS::S3::Bucket"},  # still in flight when Broken fails
        }
    )
    stack = execute(emu_cfn, "s", body)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_events(emu_cfn, "s")[2:] == [
        ("ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Broken, Slow]. Rollback requested by user."),
        ("ROLLBACK_COMPLETE", None),
    ]
    seen = resource_events(emu_cfn, "s")
    assert ("Broken", "CREATE_FAILED", "Quota exceeded") in seen
    assert ("Slow", "CREATE_FAILED", "Resource creation cancelled") in seen
    assert seen.index(("Broken", "DELETE_COMPLETE", None)) < seen.index(("Base", "DELETE_IN_PROGRESS", None))
    assert {lid for lid, status, _ in seen if status == "DELETE_COMPLETE"} == {"Base", "Broken", "Slow"}
    with pytest.raises(ClientError):
        emu.client("ssm").get_parameter(Name="/base")
    assert emu.client("s3").list_buckets()["Buckets"] == []


RETAINED = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {"BucketName": "medplum-storage"}}


def _failing_create_with_retained_bucket(emu, emu_cfn, **execute_args) -> list:
    emu.control("POST", "faults", [{"logicalId": "Broken", "on": "create", "times": 1}])
    body = template({"Storage": RETAINED, "Broken": {**param("/broken", "1"), "DependsOn": "Storage"}})
    assert execute(emu_cfn, "s", body, **execute_args)["StackStatus"] == "ROLLBACK_COMPLETE"
    seen = resource_events(emu_cfn, "s")
    emu_cfn.delete_stack(StackName="s")
    wait_until(lambda: not emu_cfn.describe_stacks()["Stacks"])
    # The deploy engine's next attempt: the same stack again.
    retry = execute(emu_cfn, "s", body)
    return [seen, retry, resource_events(emu_cfn, "s")]


def test_retained_bucket_survives_the_rollback_and_blocks_the_next_create(emu, emu_cfn):
    seen, retry, retry_events = _failing_create_with_retained_bucket(emu, emu_cfn)
    assert ("Storage", "DELETE_SKIPPED", None) in seen
    assert retry["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Storage", "CREATE_FAILED", "medplum-storage already exists") in retry_events


def test_retain_except_on_create_deletes_what_the_failed_create_made(emu, emu_cfn):
    seen, retry, _ = _failing_create_with_retained_bucket(emu, emu_cfn, RetainExceptOnCreate=True)
    assert ("Storage", "DELETE_COMPLETE", None) in seen
    assert retry["StackStatus"] == "CREATE_COMPLETE"


def test_retain_except_on_create_policy_deletes_on_a_create_rollback(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Broken", "on": "create"}])
    storage = {**RETAINED, "DeletionPolicy": "RetainExceptOnCreate"}
    body = template({"Storage": storage, "Broken": {**param("/broken", "1"), "DependsOn": "Storage"}})
    assert execute(emu_cfn, "s", body)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Storage", "DELETE_COMPLETE", None) in resource_events(emu_cfn, "s")
    assert emu.client("s3").list_buckets()["Buckets"] == []


def test_update_failure_restores_the_previous_stack(emu, emu_cfn):
    before = template(
        {"Value": param("/value", {"Ref": "V"}), "Other": param("/other", "1")},
        parameters={"V": {"Type": "String"}},
        outputs={"V": {"Value": {"Fn::GetAtt": ["Value", "Value"]}}},
    )
    deploy(emu_cfn, "s", before, Parameters=[{"ParameterKey": "V", "ParameterValue": "old"}])
    emu.control("POST", "faults", [{"logicalId": "Other", "on": "update", "reason": "Throttled"}])
    after = template(
        {"Value": param("/value", {"Ref": "V"}), "Other": param("/other", "2"), "Added": param("/added", "1")},
        parameters={"V": {"Type": "String"}},
        outputs={"V": {"Value": {"Fn::GetAtt": ["Value", "Value"]}}},
    )
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="u", TemplateBody=after, Parameters=[{"ParameterKey": "V", "ParameterValue": "new"}]
    )
    wait_change_set(emu_cfn, "s", "u")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="u")
    stack = wait_stack(emu_cfn, "s")
    assert [s for s, _ in stack_events(emu_cfn, "s")][3:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert stack_events(emu_cfn, "s")[4] == ("UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [Other]. ")
    assert ("Other", "UPDATE_FAILED", "Throttled") in resource_events(emu_cfn, "s")
    assert stack["Parameters"] == [{"ParameterKey": "V", "ParameterValue": "old"}]
    assert stack["Outputs"] == [{"OutputKey": "V", "OutputValue": "old"}]
    # boto3 hands a JSON TemplateBody back parsed.
    assert emu_cfn.get_template(StackName="s")["TemplateBody"] == json.loads(before)
    ssm = emu.client("ssm")
    assert ssm.get_parameter(Name="/value")["Parameter"]["Value"] == "old"
    assert ssm.get_parameter(Name="/other")["Parameter"]["Value"] == "1"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/added")
    listed = {r["LogicalResourceId"] for r in emu_cfn.list_stack_resources(StackName="s")["StackResourceSummaries"]}
    assert listed == {"Value", "Other"}


def test_hang_keeps_the_resource_in_progress_until_the_stack_is_deleted(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Stuck", "on": "create", "hang": True}])
    emu_cfn.create_change_set(StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateBody=template({"Stuck": param("/s", "1")}))
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")
    # Far longer than the resource delay: the hung resource has not moved.
    with pytest.raises(pytest.fail.Exception):
        # No events yet (the execution is asynchronous, slow on a loaded machine) is still "not
        # moved": an empty list must not end the wait with an IndexError.
        wait_until(lambda: any(e[1] != "CREATE_IN_PROGRESS" for e in resource_events(emu_cfn, "s")), timeout=0.5)
    assert emu_cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    stack_id = emu_cfn.describe_stacks(StackName="s")["Stacks"][0]["StackId"]
    emu_cfn.delete_stack(StackName="s")
    assert wait_stack(emu_cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_times_and_stack_limit_which_operations_fail(emu, emu_cfn):
    emu.control(
        "POST",
        "faults",
        [
            {"logicalId": "P", "on": "create", "stack": "other"},
            {"logicalId": "P", "on": "create", "times": 1},
        ],
    )
    body = template({"P": param("/p", "1")})
    assert execute(emu_cfn, "s", body)["StackStatus"] == "ROLLBACK_COMPLETE"
    emu_cfn.delete_stack(StackName="s")
    wait_until(lambda: not emu_cfn.describe_stacks()["Stacks"])
    assert execute(emu_cfn, "s", body)["StackStatus"] == "CREATE_COMPLETE"
    assert [r["times"] for r in emu.control("GET", "faults")] == [None, 0]


def test_delete_failure(emu, emu_cfn):
    deploy(emu_cfn, "s", template({"P": param("/p", "1")}))
    emu.control("POST", "faults", [{"logicalId": "P", "on": "delete", "reason": "In use"}])
    emu_cfn.delete_stack(StackName="s")
    stack = wait_stack(emu_cfn, "s")
    assert (stack["StackStatus"], stack["StackStatusReason"]) == ("DELETE_FAILED", "The following resource(s) failed to delete: [P]. ")
    assert ("P", "DELETE_FAILED", "In use") in resource_events(emu_cfn, "s")


def test_bad_fault_rules_are_refused(emu):
    with pytest.raises(Exception) as raised:
        emu.control("POST", "faults", [{"logicalId": "P", "on": "explode"}])
    assert raised.value.code == 400
    assert json.loads(raised.value.read())["error"] == "faults[0].on must be one of ['create', 'update', 'delete']"


def test_fault_setting_inline_or_from_a_file(tmp_path):
    rules = [{"logicalId": "P", "on": "update", "hang": True}]
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(rules))
    assert faults.load_setting(json.dumps(rules)) == faults.load_setting(f"@{path}") == [
        faults.Fault(logical_id="P", on="update", hang=True)
    ]


def test_launcher_takes_faults_from_a_file_and_refuses_other_hosts(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"logicalId": "P", "on": "create", "reason": "from file"}]))
    emulator = start_emulator(["--faults", str(path)], env={"MEDPLUM_EMULATOR_FAULTS": "[]"})
    try:
        assert [r["reason"] for r in emulator.control("GET", "faults")] == ["from file"]
    finally:
        assert stop_emulator(emulator) == 0
    refused = subprocess.run(
        [str(REPO / "scripts" / "emulator"), "--port", "0", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2
    assert "only loopback addresses are allowed" in refused.stderr
