"""Stack failure options (DisableRollback, RollbackStack), CancelUpdateStack, and features refused plainly.

Each test proves one documented AWS behaviour, citing its page. Messages AWS does not document are ours: the
refusal to update a failed stack without DisableRollback, and RollbackStack on a stack that did not fail.
"CancelUpdateStack cannot be called from current stack status" is AWS's own message.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from aws_errors import api_error
from custom_resource_templates import role_and_function

from labs_support.sandbox import Sandbox

# moto has no botocore error shape for the sandbox's own SandboxNotSupported code and warns when it sends one
pytestmark = pytest.mark.filterwarnings(r"ignore:Exception\(SandboxNotSupported\):UserWarning")

_names = itertools.count(1)

# A parameter updated first, then a custom resource whose handler answers FAILED when Fail is "yes" and never
# answers when Silent is "yes" (so an update waits on it).
TEMPLATE = (
    """
Parameters:
  Version: {Type: String, Default: "1"}
  Fail: {Type: String, Default: "no"}
  Silent: {Type: String, Default: "no"}
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/${AWS::StackName}/version", Type: String, Value: !Ref Version}
"""
    + role_and_function(
        """
              props = event["ResourceProperties"]
              if event["RequestType"] != "Delete" and props.get("Silent") == "yes":
                  return
              failed = event["RequestType"] != "Delete" and props.get("Fail") == "yes"
              status = cfnresponse.FAILED if failed else cfnresponse.SUCCESS
              cfnresponse.send(event, context, status, {}, "thing", reason="the thing is broken")
        """
    )
    + """  Thing:
    Type: Custom::Thing
    DependsOn: Setting
    Properties: {ServiceToken: !GetAtt Fn.Arn, Version: !Ref Version, Fail: !Ref Fail, Silent: !Ref Silent}
"""
)


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def status(cfn: Any, name: str) -> str:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def resource_statuses(cfn: Any, name: str) -> dict[str, str]:
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["ResourceStatus"] for r in summaries}


def setting(sb: Sandbox, name: str) -> str:
    return sb.client("ssm").get_parameter(Name=f"/{name}/version")["Parameter"]["Value"]


def create(cfn: Any, **kwargs: Any) -> str:
    name = f"failure-options-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], **kwargs)
    return name


def failed_update(cfn: Any) -> str:
    """A stack at Version 1 whose update to Version 2 fails on Thing, with rollback disabled."""
    name = create(cfn)
    cfn.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=params(Version="2", Fail="yes"),
        DisableRollback=True,
    )
    return name


def test_a_create_with_rollback_disabled_keeps_what_succeeded_in_create_failed(cfn: Any) -> None:
    """Preserve successfully provisioned resources: created resources stay, the failed one stays failed.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = create(cfn, Parameters=params(Fail="yes"), DisableRollback=True)
    assert status(cfn, name) == "CREATE_FAILED"
    assert resource_statuses(cfn, name) == {
        "Setting": "CREATE_COMPLETE",
        "Role": "CREATE_COMPLETE",
        "Fn": "CREATE_COMPLETE",
        "Thing": "CREATE_FAILED",
    }


def test_a_failed_create_is_retried_by_an_update_that_preserves_resources(cfn: Any) -> None:
    """Retry: update-stack --use-previous-template --disable-rollback continues from the failed resource.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = create(cfn, Parameters=params(Fail="yes"), DisableRollback=True)
    cfn.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=params(Fail="no"),
        DisableRollback=True,
    )
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert resource_statuses(cfn, name)["Thing"] == "CREATE_COMPLETE"


def test_a_failed_stack_can_be_updated_only_with_rollback_disabled(cfn: Any) -> None:
    """ "When you update a stack that's in a FAILED state, you must select Preserve successfully provisioned
    resources".

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = create(cfn, Parameters=params(Fail="yes"), DisableRollback=True)
    code, message = api_error(
        cfn.update_stack, StackName=name, UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"]
    )
    assert code == "ValidationError" and "CREATE_FAILED" in message


def test_rollback_stack_deletes_what_a_failed_create_made(sb: Sandbox, cfn: Any) -> None:
    """RollbackStack "will delete a stack if it doesn't contain a last known stable state".

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html
    """
    name = create(cfn, Parameters=params(Fail="yes"), DisableRollback=True)
    function_arn = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Fn")["StackResourceDetail"]
    cfn.rollback_stack(StackName=name)
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    functions = [f["FunctionName"] for f in sb.client("lambda").list_functions()["Functions"]]
    assert function_arn["PhysicalResourceId"] not in functions


def test_an_update_with_rollback_disabled_stops_in_update_failed_keeping_what_succeeded(sb: Sandbox, cfn: Any) -> None:
    """The parameter updated before the failure keeps its new value; the failed resource is UPDATE_FAILED.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = failed_update(cfn)
    assert status(cfn, name) == "UPDATE_FAILED"
    assert setting(sb, name) == "2"
    assert resource_statuses(cfn, name)["Thing"] == "UPDATE_FAILED"


def test_rollback_stack_returns_an_update_failed_stack_to_its_last_stable_state(sb: Sandbox, cfn: Any) -> None:
    """RollbackStack "Rolls back the specified stack to the last known stable state from CREATE_FAILED or
    UPDATE_FAILED stack statuses."

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html
    """
    name = failed_update(cfn)
    cfn.rollback_stack(StackName=name)
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert setting(sb, name) == "1"
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Version"] == "1"
    events = [e["ResourceStatus"] for e in cfn.describe_stack_events(StackName=name)["StackEvents"]]
    assert events[0] == "UPDATE_ROLLBACK_COMPLETE" and "UPDATE_ROLLBACK_IN_PROGRESS" in events


def test_an_update_failed_stack_is_retried_with_the_template_that_failed(sb: Sandbox, cfn: Any) -> None:
    """The retry uses the previous template, which is the one whose update failed.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = failed_update(cfn)
    cfn.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Version", "UsePreviousValue": True}, *params(Fail="no")],
        DisableRollback=True,
    )
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert setting(sb, name) == "2"


def test_rollback_stack_is_refused_for_a_stack_that_did_not_fail(cfn: Any) -> None:
    """RollbackStack works from CREATE_FAILED or UPDATE_FAILED only.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html
    """
    name = create(cfn)
    code, message = api_error(cfn.rollback_stack, StackName=name)
    assert code == "ValidationError" and "CREATE_COMPLETE" in message


def test_cancel_update_stack_is_refused_unless_an_update_is_in_progress(cfn: Any) -> None:
    """ "You can cancel only stacks that are in the UPDATE_IN_PROGRESS state."

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CancelUpdateStack.html
    """
    name = create(cfn)
    assert api_error(cfn.cancel_update_stack, StackName=name) == (
        "ValidationError",
        "CancelUpdateStack cannot be called from current stack status",
    )


def test_cancel_update_stack_rolls_back_an_update_that_is_waiting(sb: Sandbox, cfn: Any) -> None:
    """A cancelled update "rolls back the update and reverts to the previous stack configuration".

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CancelUpdateStack.html
    """
    name = create(cfn)
    cfn.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=params(Version="2", Silent="yes"),
    )
    assert status(cfn, name) == "UPDATE_IN_PROGRESS"  # Thing's handler never answers
    cfn.cancel_update_stack(StackName=name)
    deadline = time.monotonic() + 30
    while status(cfn, name).endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert setting(sb, name) == "1"


def test_rollback_triggers_are_refused_plainly(cfn: Any) -> None:
    """The sandbox does not watch alarms, so a rollback trigger is refused rather than silently ignored.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-rollback-triggers.html
    """
    code, message = api_error(
        cfn.create_stack,
        StackName="with-triggers",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        RollbackConfiguration={
            "RollbackTriggers": [
                {"Arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors", "Type": "AWS::CloudWatch::Alarm"}
            ],
            "MonitoringTimeInMinutes": 5,
        },
    )
    assert code == "SandboxNotSupported" and "rollback triggers" in message


def test_a_resource_deleted_outside_cloudformation_counts_as_deleted(sb: Sandbox, cfn: Any) -> None:
    """A delete handler answers NotFound for a resource that is already gone, and CloudFormation carries on.

    https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract.html
    """
    name = f"gone-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody="Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n")
    url = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Queue")["StackResourceDetail"]
    sb.client("sqs").delete_queue(QueueUrl=url["PhysicalResourceId"])
    cfn.delete_stack(StackName=name)
    assert cfn.describe_stacks(StackName=url["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_drift_aware_change_sets_are_refused_plainly(cfn: Any) -> None:
    """DeploymentMode REVERT_DRIFT is not emulated; the sandbox says so instead of ignoring it.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    name = create(cfn)
    code, _ = api_error(
        cfn.create_change_set,
        StackName=name,
        ChangeSetName="revert",
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        DeploymentMode="REVERT_DRIFT",
    )
    assert code == "SandboxNotSupported"
