"""Fidelity tests for nested stacks (AWS::CloudFormation::Stack resources) in the sandbox.

Every test is named after the behaviour it proves and cites the AWS documentation it rests on. Child templates are
uploaded to an S3 bucket with put_object, as `aws cloudformation package` would, and named by their https URL.

The module shares one sandbox; every test uses stack names and template keys of its own.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import labs_support
from labs_support.sandbox import Sandbox

TEMPLATES = "nested-templates"
_names = itertools.count(1)


# -- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    """A stack name or template key no other test uses."""
    return f"{prefix}-{next(_names)}"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """One sandbox for the module, with the bucket the child templates live in; stopped at the end."""
    sandbox = labs_support.start_sandbox()
    sandbox.client("s3").create_bucket(Bucket=TEMPLATES)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def s3(sb: Sandbox) -> Any:
    return sb.client("s3")


def upload(s3: Any, template: dict[str, Any]) -> str:
    """Put a child template in the templates bucket; returns its TemplateURL."""
    key = unique("child") + ".json"
    s3.put_object(Bucket=TEMPLATES, Key=key, Body=json.dumps(template))
    return f"https://{TEMPLATES}.s3.us-east-1.amazonaws.com/{key}"


def nested(url: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """An AWS::CloudFormation::Stack resource."""
    properties: dict[str, Any] = {"TemplateURL": url}
    if parameters is not None:
        properties["Parameters"] = parameters
    return {"Type": "AWS::CloudFormation::Stack", "Properties": properties, **extra}


def create(cfn: Any, resources: dict[str, Any], outputs: dict[str, Any] | None = None, prefix: str = "root") -> str:
    """Create a parent stack under a fresh name and return the name."""
    name = unique(prefix)
    body: dict[str, Any] = {"Resources": resources}
    if outputs:
        body["Outputs"] = outputs
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    return name


def describe(cfn: Any, name_or_id: str) -> dict[str, Any]:
    return cfn.describe_stacks(StackName=name_or_id)["Stacks"][0]


def outputs(cfn: Any, name_or_id: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in describe(cfn, name_or_id).get("Outputs", [])}


def child_id(cfn: Any, parent: str, logical_id: str) -> str:
    """The stack id of a nested stack (its parent resource's physical id)."""
    detail = cfn.describe_stack_resource(StackName=parent, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def resource_events(cfn: Any, name_or_id: str, logical_id: str) -> list[tuple[str, str | None]]:
    """(status, reason) of one resource's events, oldest first."""
    found = reversed(cfn.describe_stack_events(StackName=name_or_id)["StackEvents"])
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in found
        if e["LogicalResourceId"] == logical_id and e["PhysicalResourceId"] != e["StackId"]
    ]


def stack_statuses(cfn: Any, name_or_id: str) -> list[str]:
    """The statuses the stack itself went through, oldest first."""
    found = reversed(cfn.describe_stack_events(StackName=name_or_id)["StackEvents"])
    return [e["ResourceStatus"] for e in found if e["PhysicalResourceId"] == e["StackId"]]


def topic_exists(sb: Sandbox, arn: str) -> bool:
    return arn in {t["TopicArn"] for t in sb.client("sns").list_topics()["Topics"]}


# Child templates used by several tests.
TOPIC_CHILD = {
    "Parameters": {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}, "Env": {"Value": {"Ref": "Env"}}},
}
# Fails to create whenever Break is "yes": a FIFO queue's name must end in .fifo.
BREAKABLE_CHILD = {
    "Parameters": {"Break": {"Type": "String", "Default": "no"}, "Label": {"Type": "String", "Default": "one"}},
    "Conditions": {"Broken": {"Fn::Equals": [{"Ref": "Break"}, "yes"]}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Bad": {
            "Type": "AWS::SQS::Queue",
            "Condition": "Broken",
            "Properties": {"QueueName": "orders", "FifoQueue": True},
        },
    },
    "Outputs": {"Label": {"Value": {"Ref": "Label"}}, "TopicArn": {"Value": {"Ref": "Topic"}}},
}


# -- creation --------------------------------------------------------------------------------------------
def test_child_stack_is_created_from_the_template_url_in_s3(sb: Sandbox, cfn: Any, s3: Any) -> None:
    """CloudFormation reads the child template from the S3 URL and creates the child stack and its resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#cfn-cloudformation-stack-templateurl
    """
    name = create(cfn, {"Child": nested(upload(s3, TOPIC_CHILD))})
    assert describe(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    child = describe(cfn, child_id(cfn, name, "Child"))
    assert child["StackStatus"] == "CREATE_COMPLETE"
    assert topic_exists(sb, outputs(cfn, child["StackId"])["TopicArn"])


def test_child_stack_is_named_after_the_parent_and_the_logical_id(cfn: Any, s3: Any) -> None:
    """A nested stack's name is <parent stack name>-<logical id>-<random suffix>.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    """
    name = create(cfn, {"Network": nested(upload(s3, TOPIC_CHILD))})
    child = describe(cfn, child_id(cfn, name, "Network"))
    assert re.fullmatch(rf"{name}-Network-[A-Z0-9]{{12,13}}", child["StackName"])
    assert child["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:123456789012:stack/{child['StackName']}/")


def test_describe_stacks_shows_parent_id_and_root_id(cfn: Any, s3: Any) -> None:
    """A nested stack's ParentId is the stack directly above it; RootId is the top-level stack, for a grandchild
    too. The root stack has neither.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    """
    grandchild_url = upload(s3, TOPIC_CHILD)
    child_url = upload(
        s3,
        {"Resources": {"Grandchild": nested(grandchild_url)}, "Outputs": {"Id": {"Value": {"Ref": "Grandchild"}}}},
    )
    name = create(cfn, {"Child": nested(child_url)})
    root = describe(cfn, name)
    child = describe(cfn, child_id(cfn, name, "Child"))
    grandchild = describe(cfn, child_id(cfn, child["StackId"], "Grandchild"))
    assert "ParentId" not in root and "RootId" not in root
    assert (child["ParentId"], child["RootId"]) == (root["StackId"], root["StackId"])
    assert (grandchild["ParentId"], grandchild["RootId"]) == (child["StackId"], root["StackId"])


def test_ref_to_a_nested_stack_returns_the_child_stack_id(cfn: Any, s3: Any) -> None:
    """Ref of an AWS::CloudFormation::Stack resource returns the nested stack's id (its ARN).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#aws-resource-cloudformation-stack-return-values
    """
    name = create(cfn, {"Child": nested(upload(s3, TOPIC_CHILD))}, {"ChildId": {"Value": {"Ref": "Child"}}})
    assert outputs(cfn, name)["ChildId"] == child_id(cfn, name, "Child")
    assert describe(cfn, outputs(cfn, name)["ChildId"])["ParentId"] == describe(cfn, name)["StackId"]


def test_getatt_outputs_reads_an_output_of_the_child(cfn: Any, s3: Any) -> None:
    """Fn::GetAtt Child.Outputs.<name> returns the value of one of the nested stack's outputs.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#aws-resource-cloudformation-stack-return-values
    """
    name = create(
        cfn,
        {"Child": nested(upload(s3, TOPIC_CHILD), {"Env": "prod"})},
        {
            "Topic": {"Value": {"Fn::GetAtt": ["Child", "Outputs.TopicArn"]}},
            "Env": {"Value": {"Fn::GetAtt": ["Child", "Outputs.Env"]}},
        },
    )
    child = outputs(cfn, child_id(cfn, name, "Child"))
    assert outputs(cfn, name) == {"Topic": child["TopicArn"], "Env": "prod"}


def test_outputs_flow_from_one_child_to_another_through_the_parent(sb: Sandbox, cfn: Any, s3: Any) -> None:
    """One child's output, read with Fn::GetAtt in the parent, becomes another child's parameter; the second
    child waits for the first.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    """
    consumer = {
        "Parameters": {"TopicArn": {"Type": "String"}},
        "Resources": {
            "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "TopicArn"}}}
        },
        "Outputs": {"SettingName": {"Value": {"Ref": "Setting"}}},
    }
    name = create(
        cfn,
        {
            "Network": nested(upload(s3, TOPIC_CHILD)),
            "App": nested(upload(s3, consumer), {"TopicArn": {"Fn::GetAtt": ["Network", "Outputs.TopicArn"]}}),
        },
    )
    assert describe(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    topic = outputs(cfn, child_id(cfn, name, "Network"))["TopicArn"]
    setting = outputs(cfn, child_id(cfn, name, "App"))["SettingName"]
    assert sb.client("ssm").get_parameter(Name=setting)["Parameter"]["Value"] == topic
    order = [
        (e["LogicalResourceId"], e["ResourceStatus"])
        for e in reversed(cfn.describe_stack_events(StackName=name)["StackEvents"])
    ]
    assert order.index(("Network", "CREATE_COMPLETE")) < order.index(("App", "CREATE_IN_PROGRESS"))


def test_nested_stack_parameters_are_validated_by_the_child_template(cfn: Any, s3: Any) -> None:
    """The parent's Parameters are the child stack's parameters: the child template's constraints refuse a bad
    value, and the nested stack resource fails with that reason.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#cfn-cloudformation-stack-parameters
    """
    name = create(cfn, {"Child": nested(upload(s3, TOPIC_CHILD), {"Env": "staging"})})
    assert describe(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [r for s, r in resource_events(cfn, name, "Child") if s == "CREATE_FAILED"]
    assert failed == ["Parameter 'Env' must be one of AllowedValues"]


def test_child_that_fails_to_create_fails_its_resource_and_the_whole_tree_rolls_back(
    sb: Sandbox, cfn: Any, s3: Any
) -> None:
    """A child that cannot be created fails the parent's resource ('Embedded stack <arn> was not successfully
    created: <the child's reason>'); the parent rolls back and deletes the child with what it had created.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    (message as AWS prints it: https://github.com/aws-quickstart/quickstart-apache-superset/issues/62)
    """
    name = create(
        cfn,
        {
            "Good": nested(upload(s3, TOPIC_CHILD)),
            "Broken": nested(upload(s3, BREAKABLE_CHILD), {"Break": "yes"}, DependsOn="Good"),
        },
    )
    assert describe(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    broken_id, good_id = child_id(cfn, name, "Broken"), child_id(cfn, name, "Good")
    failed = [r for s, r in resource_events(cfn, name, "Broken") if s == "CREATE_FAILED"]
    assert failed == [
        f"Embedded stack {broken_id} was not successfully created: The following resource(s) failed to create: [Bad]."
    ]
    assert describe(cfn, broken_id)["StackStatus"] == "DELETE_COMPLETE"
    assert describe(cfn, good_id)["StackStatus"] == "DELETE_COMPLETE"
    good_topic = [
        e for e in cfn.describe_stack_events(StackName=good_id)["StackEvents"] if e["LogicalResourceId"] == "Topic"
    ]
    assert good_topic and not topic_exists(sb, good_topic[0]["PhysicalResourceId"])
    assert stack_statuses(cfn, name)[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


# -- update and delete -----------------------------------------------------------------------------------
def test_parent_update_updates_the_child_in_place(cfn: Any, s3: Any) -> None:
    """Updating the parent with a new parameter value updates the existing child stack: same stack id,
    UPDATE_COMPLETE, new outputs.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    """
    url = upload(s3, TOPIC_CHILD)
    name = create(cfn, {"Child": nested(url, {"Env": "dev"})})
    before = child_id(cfn, name, "Child")
    body = {"Resources": {"Child": nested(url, {"Env": "prod"})}}
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    assert describe(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert child_id(cfn, name, "Child") == before
    child = describe(cfn, before)
    assert child["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(cfn, before)["Env"] == "prod"


def test_child_failing_on_update_rolls_back_the_parent_and_the_children_it_had_updated(cfn: Any, s3: Any) -> None:
    """When a child fails to update, the parent rolls back (UPDATE_ROLLBACK_COMPLETE) and every child the update
    had changed is rolled back to its previous template and parameters (UPDATE_ROLLBACK_COMPLETE).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks.html
    """
    url = upload(s3, BREAKABLE_CHILD)

    def body(label: str, second_breaks: str) -> str:
        return json.dumps(
            {
                "Resources": {
                    "First": nested(url, {"Label": label}),
                    "Second": nested(url, {"Label": label, "Break": second_breaks}, DependsOn="First"),
                }
            }
        )

    name = unique("root")
    cfn.create_stack(StackName=name, TemplateBody=body("one", "no"))
    first, second = child_id(cfn, name, "First"), child_id(cfn, name, "Second")
    cfn.update_stack(StackName=name, TemplateBody=body("two", "yes"))
    assert describe(cfn, name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_statuses(cfn, first)[2:] == [
        "UPDATE_IN_PROGRESS",  # First was updated before Second failed ...
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_IN_PROGRESS",  # ... and is put back by the parent's rollback
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert describe(cfn, first)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert outputs(cfn, first)["Label"] == "one"
    assert describe(cfn, second)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert outputs(cfn, second)["Label"] == "one"
    failed = [r for s, r in resource_events(cfn, name, "Second") if s == "UPDATE_FAILED"]
    assert len(failed) == 1 and failed[0].startswith(f"Embedded stack {second} was not successfully updated.")


def test_deleting_the_parent_deletes_the_children(sb: Sandbox, cfn: Any, s3: Any) -> None:
    """DeleteStack on the root deletes its nested stacks, grandchildren included, with their resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
    """
    child_url = upload(s3, {"Resources": {"Grandchild": nested(upload(s3, TOPIC_CHILD))}})
    name = create(cfn, {"Child": nested(child_url)})
    child = child_id(cfn, name, "Child")
    grandchild = child_id(cfn, child, "Grandchild")
    topic = outputs(cfn, grandchild)["TopicArn"]
    cfn.delete_stack(StackName=name)
    root_id = next(s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name)["StackId"]
    assert describe(cfn, root_id)["StackStatus"] == "DELETE_COMPLETE"
    assert describe(cfn, child)["StackStatus"] == "DELETE_COMPLETE"
    assert describe(cfn, grandchild)["StackStatus"] == "DELETE_COMPLETE"
    assert not topic_exists(sb, topic)


# -- the template URL ------------------------------------------------------------------------------------
def test_template_url_naming_a_missing_object_fails_the_nested_stack(cfn: Any) -> None:
    """A TemplateURL whose S3 object does not exist fails the resource with S3's error.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#cfn-cloudformation-stack-templateurl
    (message as AWS prints it: https://github.com/aws-quickstart/quickstart-bitnami-wordpress/issues/76)
    """
    url = f"https://{TEMPLATES}.s3.us-east-1.amazonaws.com/not-uploaded.yaml"
    name = create(cfn, {"Child": nested(url)})
    assert describe(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [r for s, r in resource_events(cfn, name, "Child") if s == "CREATE_FAILED"]
    assert failed == [
        "S3 error: The specified key does not exist.\n"
        "For more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
    ]


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://example.com/child.yaml", "child.yaml"])
def test_template_url_that_is_not_an_https_url_is_refused(cfn: Any, url: str) -> None:
    """TemplateURL must be an https URL of a template in S3; anything else (a local file, another scheme) fails.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html#cfn-cloudformation-stack-templateurl
    (message as AWS prints it: https://github.com/mlnrt/incident-response-and-forensic/issues/1)
    """
    name = create(cfn, {"Child": nested(url)})
    assert describe(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [r for s, r in resource_events(cfn, name, "Child") if s == "CREATE_FAILED"]
    assert failed == ["TemplateURL must be a supported URL."]
