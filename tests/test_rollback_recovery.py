"""Rollbacks that cannot finish, and what CloudFormation does about resources it cannot delete."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from custom_resource_templates import role_and_function

from labs_support.sandbox import Sandbox

_names = itertools.count(1)

# A custom resource whose handler refuses to go back from Mode "b" (so a rollback of it fails), answers
# Delete with FAILED when asked to (so a stack deletion fails), and otherwise succeeds. `Bad` fails while it is
# provisioned (SNS topics are not checked by pre-deployment validation, so the typo is found then).
TEMPLATE = (
    """
Parameters:
  Mode: {Type: String, Default: a}
  Break: {Type: String, Default: "no"}
  RefuseDelete: {Type: String, Default: "no"}
Conditions:
  Broken: !Equals [!Ref Break, "yes"]
Resources:
"""
    + role_and_function(
        """
              props, old = event["ResourceProperties"], event.get("OldResourceProperties", {})
              if event["RequestType"] == "Update" and old.get("Mode") == "b" and props.get("Mode") != "b":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, "thing", reason="cannot go back from b")
              elif event["RequestType"] == "Delete" and props.get("RefuseDelete") == "yes":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, "thing", reason="still in use")
              else:
                  cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, "thing")
        """
    )
    + """  Thing:
    Type: Custom::Thing
    Properties: {ServiceToken: !GetAtt Fn.Arn, Mode: !Ref Mode, RefuseDelete: !Ref RefuseDelete}
  Bad:
    Type: AWS::SNS::Topic
    Condition: Broken
    DependsOn: Thing
    Properties: {TopicNmae: x}
"""
)


def _params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _status(cfn: Any, name: str) -> tuple[str, str | None]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack["StackStatus"], stack.get("StackStatusReason")


def _stuck_stack(cfn: Any) -> str:
    name = f"recovery-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    cfn.update_stack(
        StackName=name,
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=_params(Mode="b", Break="yes"),
    )
    return name


def test_a_resource_that_cannot_be_put_back_leaves_the_stack_update_rollback_failed(cfn: Any) -> None:
    """When the rollback cannot restore a resource, the stack stops in UPDATE_ROLLBACK_FAILED.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-continueupdaterollback.html
    """
    name = _stuck_stack(cfn)
    assert _status(cfn, name) == ("UPDATE_ROLLBACK_FAILED", "The following resource(s) failed to update: [Thing]. ")
    failed = [
        e for e in cfn.describe_stack_events(StackName=name)["StackEvents"] if e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert failed[0]["LogicalResourceId"] == "Thing" and "cannot go back from b" in failed[0]["ResourceStatusReason"]


def test_a_stack_in_update_rollback_failed_cannot_be_updated(cfn: Any) -> None:
    """UPDATE_ROLLBACK_FAILED is not a state UpdateStack accepts; the rollback must be continued first.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
    """
    name = _stuck_stack(cfn)
    with pytest.raises(cfn.exceptions.ClientError, match="UPDATE_ROLLBACK_FAILED state and can not be updated"):
        cfn.update_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])


def test_continue_update_rollback_skipping_the_failed_resource_completes_the_rollback(cfn: Any) -> None:
    """ResourcesToSkip marks the resource UPDATE_COMPLETE as it is, and the rollback finishes.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html
    """
    name = _stuck_stack(cfn)
    cfn.continue_update_rollback(StackName=name, ResourcesToSkip=["Thing"])
    assert _status(cfn, name) == ("UPDATE_ROLLBACK_COMPLETE", None)
    statuses = [e["ResourceStatus"] for e in reversed(cfn.describe_stack_events(StackName=name)["StackEvents"])]
    assert statuses[-4:] == [
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    # the stack can be updated again afterwards
    cfn.update_stack(
        StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], Parameters=_params(Mode="c")
    )
    assert _status(cfn, name)[0] == "UPDATE_COMPLETE"


def test_continue_update_rollback_without_skipping_retries_and_can_fail_again(cfn: Any) -> None:
    """Without ResourcesToSkip the rollback is retried; the same failure leaves UPDATE_ROLLBACK_FAILED again.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html
    """
    name = _stuck_stack(cfn)
    cfn.continue_update_rollback(StackName=name)
    assert _status(cfn, name)[0] == "UPDATE_ROLLBACK_FAILED"


def test_force_rollback_skips_whatever_fails_to_roll_back_again(cfn: Any) -> None:
    """ForceRollback: "CloudFormation skips each resource that fails to roll back and returns the stack to
    UPDATE_ROLLBACK_COMPLETE"; it cannot be combined with ResourcesToSkip.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-continueupdaterollback.html
    """
    name = _stuck_stack(cfn)
    with pytest.raises(cfn.exceptions.ClientError, match="mutually exclusive"):
        cfn.continue_update_rollback(StackName=name, ResourcesToSkip=["Thing"], ForceRollback=True)
    cfn.continue_update_rollback(StackName=name, ForceRollback=True)
    assert _status(cfn, name) == ("UPDATE_ROLLBACK_COMPLETE", None)
    thing = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Thing")["StackResourceDetail"]
    assert thing["ResourceStatus"] == "UPDATE_COMPLETE"


def test_continue_update_rollback_is_refused_on_a_nested_stack(cfn: Any, sb: Sandbox) -> None:
    """ "Don't specify the name of a nested stack ... Instead, use this operation on the parent stack."

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html
    """
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="recovery-templates")
    s3.put_object(Bucket="recovery-templates", Key="child.yaml", Body=b"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    name = f"recovery-{next(_names)}"
    parent = (
        "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: 'https://recovery-templates.s3.amazonaws.com/child.yaml'}\n"
    )
    cfn.create_stack(StackName=name, TemplateBody=parent)
    child = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Child")["StackResourceDetail"]
    with pytest.raises(cfn.exceptions.ClientError, match="nested stack"):
        cfn.continue_update_rollback(StackName=child["PhysicalResourceId"])


def test_only_resources_that_failed_to_roll_back_can_be_skipped(cfn: Any) -> None:
    """ResourcesToSkip may name only resources in UPDATE_FAILED.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html
    """
    name = _stuck_stack(cfn)
    with pytest.raises(cfn.exceptions.ClientError, match="ValidationError"):
        cfn.continue_update_rollback(StackName=name, ResourcesToSkip=["Fn"])
    assert _status(cfn, name)[0] == "UPDATE_ROLLBACK_FAILED"


def test_continue_update_rollback_is_refused_for_a_stack_that_is_not_update_rollback_failed(cfn: Any) -> None:
    """ContinueUpdateRollback applies only to a stack in UPDATE_ROLLBACK_FAILED.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html
    """
    name = f"recovery-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    with pytest.raises(cfn.exceptions.ClientError, match="ValidationError"):
        cfn.continue_update_rollback(StackName=name)


def test_resources_that_a_resource_failing_to_delete_depends_on_are_kept(cfn: Any, sb: Sandbox) -> None:
    """A resource that fails to delete keeps what it depends on: the stack ends DELETE_FAILED with them.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
    """
    name = f"recovery-{next(_names)}"
    cfn.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], Parameters=_params(RefuseDelete="yes")
    )
    fn_name = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Fn")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    cfn.delete_stack(StackName=name)
    assert _status(cfn, name) == ("DELETE_FAILED", "The following resource(s) failed to delete: [Thing]. ")
    resources = {
        r["LogicalResourceId"]: r["ResourceStatus"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }
    assert resources == {"Thing": "DELETE_FAILED", "Fn": "CREATE_COMPLETE", "Role": "CREATE_COMPLETE"}
    assert sb.client("lambda").get_function(FunctionName=fn_name)["Configuration"]["FunctionName"] == fn_name


def test_list_stack_resources_shows_what_exists_while_a_creation_waits(cfn: Any, sb: Sandbox) -> None:
    """While a stack is CREATE_IN_PROGRESS, ListStackResources shows the resources created so far.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStackResources.html
    """
    silent = TEMPLATE.replace(
        "              props, old = event", "              return\n              props, old = event"
    )
    name = f"recovery-{next(_names)}"
    sb.lab_clock_speed = 3600
    try:
        cfn.create_stack(StackName=name, TemplateBody=silent, Capabilities=["CAPABILITY_IAM"])
        rows = {
            r["LogicalResourceId"]: r["ResourceStatus"]
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        }
        assert _status(cfn, name)[0] == "CREATE_IN_PROGRESS"
        assert rows == {"Role": "CREATE_COMPLETE", "Fn": "CREATE_COMPLETE", "Thing": "CREATE_IN_PROGRESS"}
        deadline = time.monotonic() + 10
        while _status(cfn, name)[0] == "CREATE_IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _status(cfn, name)[0] == "ROLLBACK_COMPLETE"
    finally:
        sb.lab_clock_speed = 600
    assert json.dumps(rows)
