"""Asynchronous change sets and stack operations, with per-resource events, as CloudFormation runs them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import (  # noqa: F401
    deploy,
    emu,
    emu_cfn,
    emu_server,
    events,
    stack_status,
    template,
    wait_change_set,
    wait_stack,
    wait_until,
)


def param(name: str, value, **extra) -> dict:
    return {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String", "Value": value, **extra}}


def resource_events(cfn, stack: str) -> list[tuple[str, str, str | None]]:
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, stack)
        if e["ResourceType"] != "AWS::CloudFormation::Stack"
    ]


def stack_statuses(cfn, stack: str) -> list[str]:
    return [e["ResourceStatus"] for e in events(cfn, stack) if e["ResourceType"] == "AWS::CloudFormation::Stack"]


def index(items: list, item) -> int:
    return items.index(item)


def test_change_set_is_computed_in_the_background(emu, emu_cfn):
    emu.control("POST", "timing", {"changeSetSeconds": 0.5})
    emu_cfn.create_change_set(StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateBody=template({"B": {"Type": "AWS::S3::Bucket"}}))
    first = emu_cfn.describe_change_set(StackName="s", ChangeSetName="cs")
    assert (first["Status"], first["ExecutionStatus"], first["Changes"]) == ("CREATE_IN_PROGRESS", "UNAVAILABLE", [])
    with pytest.raises(ClientError) as raised:
        emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")
    assert raised.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    done = wait_change_set(emu_cfn, "s", "cs")
    assert (done["Status"], done["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [c["ResourceChange"]["Action"] for c in done["Changes"]] == ["Add"]
    assert stack_status(emu_cfn, "s") == "REVIEW_IN_PROGRESS"


def test_execute_returns_at_once_and_creates_in_dependency_order(emu, emu_cfn):
    emu.control("POST", "timing", {"resourceSeconds": 0.2})
    body = template(
        {
            "First": param("/first", "1"),
            "Second": param("/second", {"Ref": "First"}),  # a Ref edge
            "Third": {**param("/third", "3"), "DependsOn": "Second"},  # a DependsOn edge
            "Alone": param("/alone", "4"),
        },
        outputs={"SecondValue": {"Value": {"Fn::GetAtt": ["Second", "Value"]}}},
    )
    emu_cfn.create_change_set(StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateBody=body)
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")
    assert stack_status(emu_cfn, "s") == "CREATE_IN_PROGRESS"
    stack = wait_stack(emu_cfn, "s")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "SecondValue", "OutputValue": "/first"}]

    seen = resource_events(emu_cfn, "s")
    for name in ("First", "Second", "Third", "Alone"):
        mine = [(status, reason) for lid, status, reason in seen if lid == name]
        assert mine == [
            ("CREATE_IN_PROGRESS", None),
            ("CREATE_IN_PROGRESS", "Resource creation Initiated"),
            ("CREATE_COMPLETE", None),
        ]
    assert index(seen, ("First", "CREATE_COMPLETE", None)) < index(seen, ("Second", "CREATE_IN_PROGRESS", None))
    assert index(seen, ("Second", "CREATE_COMPLETE", None)) < index(seen, ("Third", "CREATE_IN_PROGRESS", None))
    # Independent resources overlap: Alone starts before First completes.
    assert index(seen, ("Alone", "CREATE_IN_PROGRESS", None)) < index(seen, ("First", "CREATE_COMPLETE", None))
    assert stack_statuses(emu_cfn, "s") == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]

    initiated = [e for e in events(emu_cfn, "s") if e.get("ResourceStatusReason") == "Resource creation Initiated"]
    assert {e["LogicalResourceId"]: e["PhysicalResourceId"] for e in initiated}["First"] == "/first"
    resources = emu_cfn.list_stack_resources(StackName="s")["StackResourceSummaries"]
    assert {(r["LogicalResourceId"], r["PhysicalResourceId"], r["ResourceStatus"]) for r in resources} == {
        ("First", "/first", "CREATE_COMPLETE"),
        ("Second", "/second", "CREATE_COMPLETE"),
        ("Third", "/third", "CREATE_COMPLETE"),
        ("Alone", "/alone", "CREATE_COMPLETE"),
    }
    assert emu.client("ssm").get_parameter(Name="/second")["Parameter"]["Value"] == "/first"


def test_stack_resource_status_is_live_during_the_operation(emu, emu_cfn):
    emu.control("POST", "timing", {"typeSeconds": {"AWS::S3::Bucket": 1.0}})
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="cs", ChangeSetType="CREATE",
        TemplateBody=template({"Fast": param("/fast", "1"), "Slow": {"Type": "AWS::S3::Bucket"}}),
    )
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")

    def fast_done_slow_running():
        found = {r["LogicalResourceId"]: r["ResourceStatus"] for r in emu_cfn.describe_stack_resources(StackName="s")["StackResources"]}
        return found == {"Fast": "CREATE_COMPLETE", "Slow": "CREATE_IN_PROGRESS"}

    wait_until(fast_done_slow_running)
    assert wait_stack(emu_cfn, "s")["StackStatus"] == "CREATE_COMPLETE"


def test_a_repeated_execute_with_the_same_token_runs_once(emu_cfn):
    emu_cfn.create_change_set(StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateBody=template({"P": param("/p", "1")}))
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs", ClientRequestToken="tok-1")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs", ClientRequestToken="tok-1")
    wait_stack(emu_cfn, "s")
    with pytest.raises(ClientError) as raised:
        emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs", ClientRequestToken="tok-2")
    assert raised.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    assert stack_statuses(emu_cfn, "s") == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    executed = [e for e in events(emu_cfn, "s") if e["ResourceStatus"] != "REVIEW_IN_PROGRESS"]
    assert {e.get("ClientRequestToken") for e in executed} == {"tok-1"}


def test_no_changes_make_a_failed_change_set(emu_cfn):
    body = template({"P": param("/p", "1")})
    deploy(emu_cfn, "s", body)
    emu_cfn.create_change_set(StackName="s", ChangeSetName="same", TemplateBody=body)
    change_set = wait_change_set(emu_cfn, "s", "same")
    assert (change_set["Status"], change_set["ExecutionStatus"], change_set["StatusReason"]) == (
        "FAILED",
        "UNAVAILABLE",
        "The submitted information didn't contain changes. Submit different information to create a change set.",
    )


def test_update_modifies_adds_and_removes_then_cleans_up(emu, emu_cfn):
    deploy(emu_cfn, "s", template({"Keep": param("/keep", "1"), "Change": param("/change", "1"), "Drop": param("/drop", "1")}))
    after = template(
        {"Keep": param("/keep", "1"), "Change": param("/change", "2"), "New": param("/new", "1")},
        outputs={"Changed": {"Value": {"Fn::GetAtt": ["Change", "Value"]}}},
    )
    stack = deploy(emu_cfn, "s", after, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "Changed", "OutputValue": "2"}]
    assert stack_statuses(emu_cfn, "s")[3:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    every = events(emu_cfn, "s")
    start = next(i for i, e in enumerate(every) if e["ResourceStatus"] == "UPDATE_IN_PROGRESS")
    cleanup = next(i for i, e in enumerate(every) if e["ResourceStatus"] == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    seen = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in every[start + 1 :]]
    assert {lid for lid, _, _ in seen} - {"s"} == {"Change", "Drop", "New"}
    assert [s for lid, s, _ in seen if lid == "Change"] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    # Removed resources are deleted in the cleanup phase only.
    assert all(i > cleanup for i, e in enumerate(every) if e["LogicalResourceId"] == "Drop" and e["ResourceStatus"].startswith("DELETE"))
    assert ("Drop", "DELETE_COMPLETE", None) in seen
    ssm = emu.client("ssm")
    assert ssm.get_parameter(Name="/change")["Parameter"]["Value"] == "2"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/drop")
    listed = {r["LogicalResourceId"] for r in emu_cfn.list_stack_resources(StackName="s")["StackResourceSummaries"]}
    assert listed == {"Keep", "Change", "New"}


def test_change_set_details_and_property_values(emu_cfn):
    deploy(emu_cfn, "s", template({"P": param("/p", "1", Description="old")}))
    emu_cfn.create_change_set(StackName="s", ChangeSetName="u", TemplateBody=template({"P": param("/p", "2", Description="old")}))
    wait_change_set(emu_cfn, "s", "u")
    [plain] = emu_cfn.describe_change_set(StackName="s", ChangeSetName="u")["Changes"]
    [valued] = emu_cfn.describe_change_set(StackName="s", ChangeSetName="u", IncludePropertyValues=True)["Changes"]
    change = plain["ResourceChange"]
    assert (change["Action"], change["LogicalResourceId"], change["PhysicalResourceId"], change["Replacement"], change["Scope"]) == (
        "Modify", "P", "/p", "False", ["Properties"],
    )
    assert change["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "Value", "RequiresRecreation": "Never"},
            "Evaluation": "Static",
            "ChangeSource": "DirectModification",
        }
    ]
    target = valued["ResourceChange"]["Details"][0]["Target"]
    assert (target["BeforeValue"], target["AfterValue"]) == ("1", "2")
    assert json.loads(valued["ResourceChange"]["AfterContext"])["Properties"]["Value"] == "2"


def test_replacement_and_references_to_the_replaced_resource(emu, emu_cfn):
    before = {"Named": param("/old-name", "v"), "User": param("/user", {"Ref": "Named"})}
    deploy(emu_cfn, "s", template(before))
    after = {"Named": param("/new-name", "v"), "User": param("/user", {"Ref": "Named"})}
    emu_cfn.create_change_set(StackName="s", ChangeSetName="u", TemplateBody=template(after))
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in wait_change_set(emu_cfn, "s", "u")["Changes"]}
    assert changes["Named"]["Replacement"] == "True"
    assert changes["Named"]["Details"][0]["Target"] == {"Attribute": "Properties", "Name": "Name", "RequiresRecreation": "Always"}
    assert changes["User"]["Replacement"] == "False"
    assert changes["User"]["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "Value", "RequiresRecreation": "Never"},
            "Evaluation": "Dynamic",
            "ChangeSource": "ResourceReference",
            "CausingEntity": "Named",
        }
    ]
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="u")
    assert wait_stack(emu_cfn, "s")["StackStatus"] == "UPDATE_COMPLETE"
    seen = resource_events(emu_cfn, "s")
    assert (
        "Named",
        "UPDATE_IN_PROGRESS",
        "Requested update requires the creation of a new physical resource; hence creating one.",
    ) in seen
    # The old physical resource goes in the cleanup phase, after the stack reports it.
    cleanup = [e for e in events(emu_cfn, "s") if e["LogicalResourceId"] == "Named" and e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert [e["PhysicalResourceId"] for e in cleanup] == ["/old-name"]
    ssm = emu.client("ssm")
    assert ssm.get_parameter(Name="/user")["Parameter"]["Value"] == "/new-name"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/old-name")


def test_a_parameter_change_modifies_what_references_it(emu_cfn):
    body = template({"P": param("/p", {"Ref": "Oai"}), "Q": param("/q", "fixed")}, parameters={"Oai": {"Type": "String"}})
    deploy(emu_cfn, "s", body, Parameters=[{"ParameterKey": "Oai", "ParameterValue": "E1"}])
    emu_cfn.create_change_set(StackName="s", ChangeSetName="u", TemplateBody=body, Parameters=[{"ParameterKey": "Oai", "ParameterValue": "E2"}])
    [change] = wait_change_set(emu_cfn, "s", "u")["Changes"]
    assert change["ResourceChange"]["LogicalResourceId"] == "P"
    detail = change["ResourceChange"]["Details"][0]
    assert (detail["ChangeSource"], detail["CausingEntity"]) == ("ParameterReference", "Oai")


def test_custom_named_resource_that_needs_replacing_fails_the_update(emu_cfn):
    deploy(emu_cfn, "s", template({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q", "FifoQueue": False}}}))
    after = template({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}})
    stack = deploy(emu_cfn, "s", after, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "Q",
        "UPDATE_FAILED",
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename q and update the stack again.",
    ) in resource_events(emu_cfn, "s")


def test_events_are_newest_first_and_paged(emu_cfn):
    deploy(emu_cfn, "s", template({f"Q{i}": {"Type": "AWS::SQS::Queue"} for i in range(40)}))
    first = emu_cfn.describe_stack_events(StackName="s")
    assert len(first["StackEvents"]) == 100 and first["NextToken"]
    assert first["StackEvents"][0]["ResourceStatus"] == "CREATE_COMPLETE"
    assert first["StackEvents"][0]["LogicalResourceId"] == "s"
    every = events(emu_cfn, "s")
    assert len(every) == 2 + 40 * 3 + 1
    assert len({e["EventId"] for e in every}) == len(every)
    assert [e["Timestamp"] for e in every] == sorted(e["Timestamp"] for e in every)


def test_delete_stack_in_reverse_order_keeping_retained_ones(emu, emu_cfn):
    body = template(
        {
            "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {"BucketName": "kept-bucket"}},
            "Base": param("/base", "1"),
            "Top": param("/top", {"Ref": "Base"}),
        }
    )
    stack_id = deploy(emu_cfn, "s", body)["StackId"]
    emu_cfn.delete_stack(StackName="s")
    assert stack_status(emu_cfn, stack_id) == "DELETE_IN_PROGRESS"
    assert wait_stack(emu_cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    seen = resource_events(emu_cfn, stack_id)
    assert ("Kept", "DELETE_SKIPPED", None) in seen
    assert index(seen, ("Top", "DELETE_COMPLETE", None)) < index(seen, ("Base", "DELETE_IN_PROGRESS", None))
    assert emu.client("s3").head_bucket(Bucket="kept-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as raised:
        emu_cfn.describe_stacks(StackName="s")
    assert raised.value.response["Error"]["Message"] == "Stack with id s does not exist"
    # The name is free again.
    deploy(emu_cfn, "s", template({"Base": param("/base", "1")}))


def test_delete_stack_takes_a_final_snapshot_of_a_snapshot_policy_cluster(emu, emu_cfn):
    # As CloudFormation: DeletionPolicy Snapshot deletes the cluster after a manual snapshot,
    # which outlives the stack; a cluster without the policy leaves none.
    cluster = {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {"Engine": "aurora-postgresql", "MasterUsername": "medplum", "MasterUserPassword": "password123"},
    }
    body = template({"Db": {**cluster, "DeletionPolicy": "Snapshot"}, "Plain": cluster})
    stack_id = deploy(emu_cfn, "Snap", body)["StackId"]
    rds = emu.client("rds")
    ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in emu_cfn.describe_stack_resources(StackName="Snap")["StackResources"]
    }
    emu_cfn.delete_stack(StackName="Snap")
    assert wait_stack(emu_cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert rds.describe_db_clusters()["DBClusters"] == []
    def manual(cluster_id: str) -> list[dict]:
        # moto also keeps an automated snapshot per cluster; the final one is manual.
        return rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster_id, SnapshotType="manual")["DBClusterSnapshots"]

    [snapshot] = manual(ids["Db"])
    assert snapshot["DBClusterSnapshotIdentifier"].startswith("snap-snapshot-db-")
    assert manual(ids["Plain"]) == []


def test_cancel_update_stack_rolls_back(emu, emu_cfn):
    body = template({"P": param("/p", {"Ref": "V"})}, parameters={"V": {"Type": "String"}}, outputs={"V": {"Value": {"Ref": "V"}}})
    deploy(emu_cfn, "s", body, Parameters=[{"ParameterKey": "V", "ParameterValue": "old"}])
    with pytest.raises(ClientError) as raised:
        emu_cfn.cancel_update_stack(StackName="s")
    assert raised.value.response["Error"]["Message"] == "CancelUpdateStack cannot be called from current stack status"

    emu.control("POST", "faults", [{"logicalId": "P", "on": "update", "hang": True}])
    emu_cfn.create_change_set(StackName="s", ChangeSetName="u", TemplateBody=body, Parameters=[{"ParameterKey": "V", "ParameterValue": "new"}])
    wait_change_set(emu_cfn, "s", "u")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="u")
    wait_until(lambda: ("P", "UPDATE_IN_PROGRESS", None) in resource_events(emu_cfn, "s"))
    assert stack_status(emu_cfn, "s") == "UPDATE_IN_PROGRESS"
    emu_cfn.cancel_update_stack(StackName="s")
    stack = wait_stack(emu_cfn, "s")
    assert stack_statuses(emu_cfn, "s")[3:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert ("P", "UPDATE_FAILED", "Resource update cancelled") in resource_events(emu_cfn, "s")
    assert stack["Parameters"] == [{"ParameterKey": "V", "ParameterValue": "old"}]
    assert stack["Outputs"] == [{"OutputKey": "V", "OutputValue": "old"}]
    assert emu.client("ssm").get_parameter(Name="/p")["Parameter"]["Value"] == "old"


def test_delete_stack_during_create_stops_the_create(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Stuck", "on": "create", "hang": True}])
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="cs", ChangeSetType="CREATE",
        TemplateBody=template({"Done": param("/done", "1"), "Stuck": param("/stuck", "1")}),
    )
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")
    stack_id = emu_cfn.describe_stacks(StackName="s")["Stacks"][0]["StackId"]
    wait_until(lambda: ("Done", "CREATE_COMPLETE", None) in resource_events(emu_cfn, "s"))
    assert stack_status(emu_cfn, "s") == "CREATE_IN_PROGRESS"
    emu_cfn.delete_stack(StackName="s")
    assert wait_stack(emu_cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    seen = resource_events(emu_cfn, stack_id)
    assert ("Stuck", "CREATE_FAILED", "Resource creation cancelled") in seen
    assert ("Done", "DELETE_COMPLETE", None) in seen
    with pytest.raises(ClientError):
        emu.client("ssm").get_parameter(Name="/done")


def test_create_stack_and_update_stack_run_the_same_way(emu_cfn):
    emu_cfn.create_stack(StackName="s", TemplateBody=template({"P": param("/p", "1")}))
    assert wait_stack(emu_cfn, "s")["StackStatus"] == "CREATE_COMPLETE"
    with pytest.raises(ClientError) as raised:
        emu_cfn.update_stack(StackName="s", TemplateBody=template({"P": param("/p", "1")}))
    assert raised.value.response["Error"]["Message"] == "No updates are to be performed."
    emu_cfn.update_stack(StackName="s", TemplateBody=template({"P": param("/p", "2")}))
    assert wait_stack(emu_cfn, "s")["StackStatus"] == "UPDATE_COMPLETE"
    assert emu_cfn.list_change_sets(StackName="s")["Summaries"] == []


def test_reset_forgets_stacks_and_moto_state(emu, emu_cfn):
    deploy(emu_cfn, "s", template({"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "reset-me"}}}))
    emu.control("POST", "reset")
    assert emu.control("GET", "requests")["requests"] == []
    assert emu_cfn.describe_stacks()["Stacks"] == []
    assert emu.client("s3").list_buckets()["Buckets"] == []
    assert emu.control("GET", "health")["status"] == "ok"


def test_delete_stack_during_an_update_is_refused(emu, emu_cfn):
    deploy(emu_cfn, "s", template({"P": param("/p", "1")}))
    emu.control("POST", "faults", [{"logicalId": "P", "on": "update", "hang": True}])
    emu_cfn.update_stack(StackName="s", TemplateBody=template({"P": param("/p", "2")}))
    with pytest.raises(ClientError) as raised:
        emu_cfn.delete_stack(StackName="s")
    assert raised.value.response["Error"]["Message"] == "Stack [s] cannot be deleted while in status UPDATE_IN_PROGRESS"
    emu_cfn.cancel_update_stack(StackName="s")
    assert wait_stack(emu_cfn, "s")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"


def test_a_false_condition_leaves_its_resource_out(emu, emu_cfn):
    body = json.dumps(
        {
            "Parameters": {"Env": {"Type": "String"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
            "Resources": {"Always": param("/always", "1"), "ProdOnly": {**param("/prod", "1"), "Condition": "IsProd"}},
        }
    )
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateBody=body,
        Parameters=[{"ParameterKey": "Env", "ParameterValue": "dev"}],
    )
    changes = wait_change_set(emu_cfn, "s", "cs")["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Always"]
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs")
    wait_stack(emu_cfn, "s")
    assert {r["LogicalResourceId"] for r in emu_cfn.list_stack_resources(StackName="s")["StackResourceSummaries"]} == {"Always"}


def test_disable_rollback_leaves_a_failed_create_in_place(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Broken", "on": "create"}])
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="cs", ChangeSetType="CREATE",
        TemplateBody=template({"Good": param("/good", "1"), "Broken": {**param("/broken", "1"), "DependsOn": "Good"}}),
    )
    wait_change_set(emu_cfn, "s", "cs")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="cs", DisableRollback=True)
    stack = wait_stack(emu_cfn, "s")
    assert (stack["StackStatus"], stack["DisableRollback"]) == ("CREATE_FAILED", True)
    assert emu.client("ssm").get_parameter(Name="/good")["Parameter"]["Value"] == "1"


def test_a_type_nothing_models_gets_a_placeholder(emu_cfn):
    body = template(
        {"Odd": {"Type": "AWS::Lightsail::Bucket", "Properties": {"BucketName": "b", "BundleId": "small_1_0"}}},
        outputs={"Url": {"Value": {"Fn::GetAtt": ["Odd", "Url"]}}},
    )
    stack = deploy(emu_cfn, "s", body)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    [resource] = emu_cfn.list_stack_resources(StackName="s")["StackResourceSummaries"]
    assert resource["PhysicalResourceId"].startswith("s-Odd-")
    assert stack["Outputs"] == [{"OutputKey": "Url", "OutputValue": f"{resource['PhysicalResourceId']}.Url"}]


def test_delete_stack_token_is_on_its_events(emu_cfn):
    stack_id = deploy(emu_cfn, "s", template({"P": param("/p", "1")}))["StackId"]
    emu_cfn.delete_stack(StackName="s", ClientRequestToken="bye")
    wait_stack(emu_cfn, stack_id)
    deleting = [e for e in events(emu_cfn, stack_id) if e["ResourceStatus"].startswith("DELETE")]
    assert deleting and {e.get("ClientRequestToken") for e in deleting} == {"bye"}


def test_executing_a_change_set_makes_the_others_obsolete(emu_cfn):
    deploy(emu_cfn, "s", template({"P": param("/p", "1")}))
    for name, value in (("two", "2"), ("three", "3")):
        emu_cfn.create_change_set(StackName="s", ChangeSetName=name, TemplateBody=template({"P": param("/p", value)}))
        wait_change_set(emu_cfn, "s", name)
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="two")
    wait_stack(emu_cfn, "s")
    statuses = {s["ChangeSetName"]: s["ExecutionStatus"] for s in emu_cfn.list_change_sets(StackName="s")["Summaries"]}
    assert (statuses["two"], statuses["three"]) == ("EXECUTE_COMPLETE", "OBSOLETE")
    with pytest.raises(ClientError) as raised:
        emu_cfn.execute_change_set(StackName="s", ChangeSetName="three")
    assert raised.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
