"""Change sets for nested stacks (IncludeNestedStacks): each test proves one documented AWS behaviour.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/change-sets-for-nested-stacks.html shows a root
change set whose nested stack's ResourceChange carries a ChangeSetId, and that nested change set with
ParentChangeSetId, RootChangeSetId, ExecutionStatus UNAVAILABLE and StatusReason "Executable from root change
set". "Nested change set ... was not successfully created: Currently in FAILED." is AWS's reason on the root
(quoted in aws/aws-sam-cli#2406). The refusal to delete a nested change set directly is worded by us.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from aws_errors import api_error

import labs_support
from labs_support.sandbox import Sandbox

BUCKET = "nested-cs-templates"
_names = itertools.count(1)

CHILD = textwrap.dedent(
    """
    Parameters:
      Colour: {Type: String}
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties: {Type: String, Value: !Ref Colour}
    Outputs:
      ParamName: {Value: !Ref Param}
    """
)
BROKEN_CHILD = (
    "Resources:\n  Param:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref Nowhere}\n"
)


def parent(*children: str, key: str = "child.yaml") -> str:
    """A root template passing its Colour parameter to each nested stack named."""
    body = "Parameters:\n  Colour: {Type: String}\nResources:\n"
    for logical_id in children:
        body += (
            f"  {logical_id}:\n"
            "    Type: AWS::CloudFormation::Stack\n"
            f"    Properties:\n"
            f"      TemplateURL: https://{BUCKET}.s3.amazonaws.com/{key}\n"
            "      Parameters: {Colour: !Ref Colour}\n"
        )
    return body


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = labs_support.start_sandbox()
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="child.yaml", Body=CHILD.encode())
    s3.put_object(Bucket=BUCKET, Key="broken.yaml", Body=BROKEN_CHILD.encode())
    yield sandbox
    sandbox.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def colour(value: str) -> list[dict[str, str]]:
    return [{"ParameterKey": "Colour", "ParameterValue": value}]


def root_stack(cfn: Any, *children: str) -> str:
    name = unique("root")
    cfn.create_stack(StackName=name, TemplateBody=parent(*children), Parameters=colour("red"))
    return name


def nested_id(cfn: Any, stack: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def preview(cfn: Any, stack: str, name: str, new_colour: str = "blue") -> str:
    """A change set of the root stack with IncludeNestedStacks; its ARN."""
    return cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        UsePreviousTemplate=True,
        Parameters=colour(new_colour),
        IncludeNestedStacks=True,
    )["Id"]


def first_preview(cfn: Any, name: str) -> str:
    """A CREATE change set, with IncludeNestedStacks, of a new root stack with one nested stack; its ARN."""
    return cfn.create_change_set(
        StackName=name,
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=parent("Network"),
        Parameters=colour("red"),
        IncludeNestedStacks=True,
    )["Id"]


def changes(cfn: Any, change_set_id: str) -> dict[str, dict[str, Any]]:
    described = cfn.describe_change_set(ChangeSetName=change_set_id)
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def test_include_nested_stacks_makes_a_change_set_for_each_nested_stack(cfn: Any) -> None:
    """The root change set links each nested stack's ResourceChange to that stack's own change set, which lists
    the nested resources' changes and names its parent and root change sets."""
    stack = root_stack(cfn, "Network", "Database")
    root = preview(cfn, stack, "preview")
    described = cfn.describe_change_set(ChangeSetName=root)
    assert described["IncludeNestedStacks"] is True
    assert "ParentChangeSetId" not in described and "RootChangeSetId" not in described
    for logical_id in ("Network", "Database"):
        change = changes(cfn, root)[logical_id]
        nested = cfn.describe_change_set(ChangeSetName=change["ChangeSetId"])
        assert nested["StackId"] == nested_id(cfn, stack, logical_id)
        assert nested["ChangeSetName"].startswith(f"preview-{logical_id}-")
        assert (nested["ParentChangeSetId"], nested["RootChangeSetId"]) == (root, root)
        assert (nested["Status"], nested["ExecutionStatus"]) == ("CREATE_COMPLETE", "UNAVAILABLE")
        assert nested["StatusReason"] == "Executable from root change set"
        param = changes(cfn, change["ChangeSetId"])["Param"]
        assert (param["Action"], param["Replacement"]) == ("Modify", "False")
        assert param["Details"][0]["Target"]["Name"] == "Value"


def test_without_include_nested_stacks_no_nested_change_set_is_made(cfn: Any) -> None:
    """IncludeNestedStacks defaults to false: the nested stack's change is listed, with no change set of its own."""
    stack = root_stack(cfn, "Network")
    root = cfn.create_change_set(
        StackName=stack, ChangeSetName="flat", UsePreviousTemplate=True, Parameters=colour("blue")
    )["Id"]
    assert "ChangeSetId" not in changes(cfn, root)["Network"]
    assert cfn.list_change_sets(StackName=nested_id(cfn, stack, "Network"))["Summaries"] == []


def test_a_nested_change_set_can_be_executed_only_from_its_root(sb: Sandbox, cfn: Any) -> None:
    """ "execute-change-set must be executed from the root change set and will apply the change set on the whole
    hierarchy of stacks." """
    stack = root_stack(cfn, "Network")
    root = preview(cfn, stack, "apply")
    nested = changes(cfn, root)["Network"]["ChangeSetId"]
    code, message = api_error(cfn.execute_change_set, ChangeSetName=nested)
    assert code == "InvalidChangeSetStatus"
    assert message.endswith("cannot be executed in its current execution status of [UNAVAILABLE]")

    cfn.execute_change_set(ChangeSetName=root)
    child = nested_id(cfn, stack, "Network")
    assert cfn.describe_stacks(StackName=child)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    outputs = cfn.describe_stacks(StackName=child)["Stacks"][0]["Outputs"]
    assert sb.client("ssm").get_parameter(Name=outputs[0]["OutputValue"])["Parameter"]["Value"] == "blue"
    assert cfn.describe_change_set(ChangeSetName=nested)["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_a_nested_change_set_can_be_deleted_only_with_its_root(cfn: Any) -> None:
    """ "delete-change-set must be executed from the root change set and will delete the whole hierarchy of change
    sets." """
    stack = root_stack(cfn, "Network")
    root = preview(cfn, stack, "discard")
    nested = changes(cfn, root)["Network"]["ChangeSetId"]
    code, _ = api_error(cfn.delete_change_set, ChangeSetName=nested)
    assert code == "InvalidChangeSetStatus"
    cfn.delete_change_set(ChangeSetName=root)
    for gone in (root, nested):
        assert api_error(cfn.describe_change_set, ChangeSetName=gone)[0] == "ChangeSetNotFound"


def test_a_nested_stack_to_add_is_created_in_review_and_deleted_with_the_root_change_set(cfn: Any) -> None:
    """ "Nested stacks in the REVIEW_IN_PROGRESS status will also be deleted if they were created during the
    create-change-set action." """
    name = unique("new-root")
    root = first_preview(cfn, name)
    change = changes(cfn, root)["Network"]
    assert change["Action"] == "Add"
    nested = cfn.describe_change_set(ChangeSetName=change["ChangeSetId"])
    in_review = cfn.describe_stacks(StackName=nested["StackId"])["Stacks"][0]
    assert in_review["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert in_review["ParentId"] == in_review["RootId"] == cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    assert changes(cfn, change["ChangeSetId"])["Param"]["Action"] == "Add"

    cfn.delete_change_set(ChangeSetName=root)
    assert cfn.describe_stacks(StackName=nested["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_executing_a_create_change_set_creates_the_nested_stacks_it_reviewed(cfn: Any) -> None:
    """The nested stack the change set showed (its stack id) is the one the execution creates."""
    name = unique("new-root")
    root = first_preview(cfn, name)
    reviewed = cfn.describe_change_set(ChangeSetName=changes(cfn, root)["Network"]["ChangeSetId"])["StackId"]
    cfn.execute_change_set(ChangeSetName=root)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert nested_id(cfn, name, "Network") == reviewed
    assert cfn.describe_stacks(StackName=reviewed)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_nested_change_set_that_fails_fails_its_root(sb: Sandbox, cfn: Any) -> None:
    """A nested stack whose template is refused gets a FAILED change set; the root fails and names it."""
    stack = root_stack(cfn, "Network")
    broken = parent("Network", key="broken.yaml")
    root = cfn.create_change_set(
        StackName=stack, ChangeSetName="bad", TemplateBody=broken, Parameters=colour("red"), IncludeNestedStacks=True
    )["Id"]
    described = cfn.describe_change_set(ChangeSetName=root)
    nested = changes(cfn, root)["Network"]["ChangeSetId"]
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == f"Nested change set {nested} was not successfully created: Currently in FAILED."
    failed = cfn.describe_change_set(ChangeSetName=nested)
    assert failed["Status"] == "FAILED"
    assert "Nowhere" in failed["StatusReason"]
