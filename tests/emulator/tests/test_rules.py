"""CloudFormation's refusals at CreateChangeSet/CreateStack, each with AWS's error code and text."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest_lifecycle import deploy, emu, emu_cfn, emu_server, template, wait_change_set, wait_stack  # noqa: F401

BUCKET = {"Bucket": {"Type": "AWS::S3::Bucket"}}


def refusal(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def create_change_set(cfn, body: str, parameters=(), stack: str = "s", **kwargs):
    return cfn.create_change_set(
        StackName=stack,
        ChangeSetName="cs",
        ChangeSetType=kwargs.pop("ChangeSetType", "CREATE"),
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters],
        **kwargs,
    )


def with_parameter(declaration: dict) -> str:
    resources = {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/p", "Type": "String", "Value": {"Ref": "X"}}}}
    return template(resources, parameters={"X": declaration})


@pytest.mark.parametrize(
    ("declaration", "value", "message"),
    [
        ({"Type": "String", "AllowedPattern": "^[A-Z0-9]+$"}, "abc", "Parameter 'X' must match pattern ^[A-Z0-9]+$"),
        # AllowedPattern must match the whole value, not a prefix.
        ({"Type": "String", "AllowedPattern": "[a-z]+"}, "abc1", "Parameter 'X' must match pattern [a-z]+"),
        ({"Type": "String", "AllowedValues": ["a", "b"]}, "c", "Parameter 'X' must be one of AllowedValues"),
        ({"Type": "String", "MinLength": 3}, "ab", "Parameter 'X' must contain at least 3 characters"),
        ({"Type": "String", "MaxLength": 2}, "abc", "Parameter 'X' must not contain more than 2 characters"),
        ({"Type": "Number", "MinValue": 1}, "0", "Parameter 'X' must be a number not less than 1"),
        ({"Type": "Number", "MaxValue": 10}, "11", "Parameter 'X' must be a number not greater than 10"),
        ({"Type": "Number"}, "ten", "Parameter 'X' must be a number"),
        (
            {"Type": "String", "AllowedPattern": "^[a-z]+$", "ConstraintDescription": "lower case only"},
            "ABC",
            "Parameter 'X' failed to satisfy constraint: lower case only",
        ),
    ],
)
def test_parameter_constraints(emu_cfn, declaration, value, message):
    code, text, status = refusal(create_change_set, cfn=emu_cfn, body=with_parameter(declaration), parameters=[("X", value)])
    assert (code, text, status) == ("ValidationError", message, 400)


def test_parameter_values_that_satisfy_the_constraints_are_accepted(emu_cfn):
    body = with_parameter({"Type": "String", "AllowedPattern": "^[a-z]+$", "MinLength": 2, "MaxLength": 5})
    assert create_change_set(emu_cfn, body, [("X", "abc")])["Id"].startswith("arn:aws:cloudformation:")


def test_unknown_parameter(emu_cfn):
    body = with_parameter({"Type": "String"})
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=body, parameters=[("X", "a"), ("Y", "b"), ("Z", "c")])
    assert (code, text) == ("ValidationError", "Parameters: [Y, Z] do not exist in the template")


def test_missing_parameter_without_default(emu_cfn):
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=with_parameter({"Type": "String"}))
    assert (code, text) == ("ValidationError", "Parameters: [X] must have values")


def test_default_is_checked_against_the_constraints_too(emu_cfn):
    body = with_parameter({"Type": "String", "Default": "abc", "AllowedValues": ["x"]})
    assert refusal(create_change_set, cfn=emu_cfn, body=body)[1] == "Parameter 'X' must be one of AllowedValues"


def test_use_previous_value_takes_the_stack_value(emu_cfn):
    body = with_parameter({"Type": "String"})
    deploy(emu_cfn, "s", body, Parameters=[{"ParameterKey": "X", "ParameterValue": "one"}])
    emu_cfn.create_change_set(
        StackName="s", ChangeSetName="again", TemplateBody=body, Parameters=[{"ParameterKey": "X", "UsePreviousValue": True}]
    )
    change_set = wait_change_set(emu_cfn, "s", "again")
    assert change_set["Parameters"] == [{"ParameterKey": "X", "ParameterValue": "one"}]
    assert change_set["Status"] == "FAILED"  # same template, same value: nothing to change


def test_use_previous_value_on_a_new_stack_is_refused(emu_cfn):
    code, text, _ = refusal(
        emu_cfn.create_change_set,
        StackName="s",
        ChangeSetName="cs",
        ChangeSetType="CREATE",
        TemplateBody=with_parameter({"Type": "String"}),
        Parameters=[{"ParameterKey": "X", "UsePreviousValue": True}],
    )
    assert code == "ValidationError"
    assert text.startswith("Invalid input for parameter key X. Cannot specify usePreviousValue as true")


def test_ssm_parameter_type_is_resolved_from_parameter_store(emu, emu_cfn):
    emu.client("ssm").put_parameter(Name="/medplum/ami", Value="ami-123", Type="String")
    body = with_parameter({"Type": "AWS::SSM::Parameter::Value<String>"})
    stack = deploy(emu_cfn, "s", body, Parameters=[{"ParameterKey": "X", "ParameterValue": "/medplum/ami"}])
    assert stack["Parameters"] == [{"ParameterKey": "X", "ParameterValue": "/medplum/ami", "ResolvedValue": "ami-123"}]
    assert emu.client("ssm").get_parameter(Name="/p")["Parameter"]["Value"] == "ami-123"


def test_ssm_parameter_type_naming_a_missing_parameter(emu_cfn):
    body = with_parameter({"Type": "AWS::SSM::Parameter::Value<String>"})
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=body, parameters=[("X", "/missing")])
    assert (code, text) == (
        "ValidationError",
        "Unable to fetch parameters [/missing] from parameter store for this account.",
    )


def test_template_body_over_51200_bytes(emu_cfn):
    body = json.dumps({"Description": "x" * 51_200, "Resources": BUCKET})
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=body)
    assert code == "ValidationError"
    assert text == (
        f"1 validation error detected: Value '{body}' at 'templateBody' failed to satisfy constraint: "
        "Member must have length less than or equal to 51200"
    )


@pytest.fixture
def emu_templates_bucket(emu):
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="templates")
    return s3


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.amazonaws.com/templates/stack.json",
        "https://s3.us-east-1.amazonaws.com/templates/stack.json",
        "https://s3-us-east-1.amazonaws.com/templates/stack.json",
        "https://templates.s3.us-east-1.amazonaws.com/stack.json",
        "https://templates.s3.amazonaws.com/stack.json",
        "{emulator}/templates/stack.json",  # path style on the emulator's own (loopback) address
    ],
)
def test_template_url_is_read_from_s3(emu, emu_cfn, emu_templates_bucket, url):
    url = url.format(emulator=emu.url)
    emu_templates_bucket.put_object(Bucket="templates", Key="stack.json", Body=template(BUCKET).encode())
    emu_cfn.create_change_set(StackName="s", ChangeSetName="cs", ChangeSetType="CREATE", TemplateURL=url)
    changes = wait_change_set(emu_cfn, "s", "cs")["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Bucket"]


def test_template_url_over_1_mb(emu_cfn, emu_templates_bucket):
    big = json.dumps({"Description": "x" * 1_048_576, "Resources": BUCKET})
    emu_templates_bucket.put_object(Bucket="templates", Key="big.json", Body=big.encode())
    code, text, _ = refusal(
        emu_cfn.create_change_set,
        StackName="s",
        ChangeSetName="cs",
        ChangeSetType="CREATE",
        TemplateURL="https://templates.s3.us-east-1.amazonaws.com/big.json",
    )
    assert (code, text) == ("ValidationError", "Template may not exceed 1048576 bytes in size.")


def test_template_url_naming_no_object(emu_cfn, emu_templates_bucket):
    code, text, _ = refusal(
        emu_cfn.create_change_set,
        StackName="s",
        ChangeSetName="cs",
        ChangeSetType="CREATE",
        TemplateURL="https://templates.s3.us-east-1.amazonaws.com/none.json",
    )
    assert code == "ValidationError"
    assert text.startswith("S3 error: The specified key does not exist.")


def test_template_url_that_is_not_s3(emu_cfn):
    code, text, _ = refusal(
        emu_cfn.create_change_set,
        StackName="s",
        ChangeSetName="cs",
        ChangeSetType="CREATE",
        TemplateURL="https://example.com/stack.json",
    )
    assert (code, text) == ("ValidationError", "TemplateURL must be a supported URL.")


def test_more_than_500_in_a_template(emu_cfn):
    resources = {f"Queue{i}": {"Type": "AWS::SQS::Queue"} for i in range(501)}
    # Compact JSON: 501 queues still fit in a TemplateBody.
    body = json.dumps({"Resources": resources}, separators=(",", ":"))
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=body)
    assert (code, text) == (
        "ValidationError",
        "Template format error: Number of resources, 501, is greater than maximum allowed, 500",
    )


def test_unresolved_reference(emu_cfn):
    body = template({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nowhere"}}}})
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=body)
    assert text == "Template format error: Unresolved resource dependencies [Nowhere] in the Resources block of the template"


ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}}


def test_iam_resource_without_capability(emu_cfn):
    code, text, status = refusal(create_change_set, cfn=emu_cfn, body=template({"Role": ROLE}))
    assert (code, text, status) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]", 400)


def test_named_iam_resource_needs_named_iam(emu_cfn):
    named = {"Role": {**ROLE, "Properties": {**ROLE["Properties"], "RoleName": "medplum"}}}
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template(named), Capabilities=["CAPABILITY_IAM"])
    assert (code, text) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    assert create_change_set(emu_cfn, template(named), Capabilities=["CAPABILITY_NAMED_IAM"])["Id"]


def test_iam_resource_with_capability_is_accepted(emu_cfn):
    assert create_change_set(emu_cfn, template({"Role": ROLE}), Capabilities=["CAPABILITY_IAM"])["Id"]


def test_create_change_set_on_an_existing_stack(emu_cfn):
    deploy(emu_cfn, "s", template(BUCKET))
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template(BUCKET))
    assert (code, text) == ("AlreadyExistsException", "Stack [s] already exists")


def test_update_change_set_on_a_missing_stack(emu_cfn):
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template(BUCKET), ChangeSetType="UPDATE")
    assert (code, text) == ("ValidationError", "Stack [s] does not exist")


def test_change_set_on_a_stack_in_progress(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Bucket", "on": "create", "hang": True}])
    emu_cfn.create_change_set(StackName="s", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=template(BUCKET))
    wait_change_set(emu_cfn, "s", "first")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="first")
    stack_id = emu_cfn.describe_stacks(StackName="s")["Stacks"][0]["StackId"]
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template({"Q": {"Type": "AWS::SQS::Queue"}}), ChangeSetType="UPDATE")
    assert (code, text) == ("ValidationError", f"Stack:{stack_id} is in CREATE_IN_PROGRESS state and can not be updated.")
    emu_cfn.delete_stack(StackName="s")


def test_change_set_on_a_rolled_back_stack(emu, emu_cfn):
    emu.control("POST", "faults", [{"logicalId": "Bucket", "on": "create"}])
    emu_cfn.create_change_set(StackName="s", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=template(BUCKET))
    wait_change_set(emu_cfn, "s", "first")
    emu_cfn.execute_change_set(StackName="s", ChangeSetName="first")
    stack = wait_stack(emu_cfn, "s")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template(BUCKET), ChangeSetType="UPDATE")
    assert (code, text) == (
        "ValidationError",
        f"Stack:{stack['StackId']} is in ROLLBACK_COMPLETE state and can not be updated.",
    )


def test_create_stack_applies_the_same_rules(emu_cfn):
    code, text, _ = refusal(emu_cfn.create_stack, StackName="s", TemplateBody=with_parameter({"Type": "String"}))
    assert (code, text) == ("ValidationError", "Parameters: [X] must have values")


def test_requests_log_records_refusals_with_the_template_parameters(emu, emu_cfn):
    refusal(create_change_set, cfn=emu_cfn, body=with_parameter({"Type": "String", "MaxLength": 1}), parameters=[("X", "ab")])
    [entry] = emu.control("GET", "requests?action=CreateChangeSet")["requests"]
    assert entry["stackName"] == "s"
    assert entry["parameters"] == [{"ParameterKey": "X", "ParameterValue": "ab"}]
    assert entry["templateParameters"] == {"X": {"Type": "String", "MaxLength": 1}}
    assert entry["error"] == {"code": "ValidationError", "message": "Parameter 'X' must not contain more than 1 characters"}


def test_changing_a_resource_type(emu_cfn):
    deploy(emu_cfn, "s", template({"Thing": {"Type": "AWS::SQS::Queue"}}))
    code, text, _ = refusal(create_change_set, cfn=emu_cfn, body=template({"Thing": {"Type": "AWS::S3::Bucket"}}), ChangeSetType="UPDATE")
    assert (code, text) == (
        "ValidationError",
        "Update of resource type is not permitted. The new template modifies resource type of the following resources: [Thing]",
    )
