"""Pre-deployment validation, operation ids and DescribeEvents: each test proves one documented AWS behaviour.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html describes the
checks; the exact messages and event shapes come from real AWS responses: "Validation failed with 1 error(s).
Call DescribeEvents ...", "Validation failure detected. See the operation's FAILED event for details.",
"Resource of type '...' with identifier '...' already exists.", "The following hook(s)/validation failed: [...]",
the bucket-emptiness warning, and "One of ChangeSetName, OperationId or StackName must be specified".
How an update that fails validation rolls back is not documented; the sandbox does it as a create does.
"""

from __future__ import annotations

import itertools
import textwrap
from typing import Any

from aws_errors import api_error

from labs_support.sandbox import Sandbox

_names = itertools.count(1)
FAILED_REASON = (
    "Validation failed with 1 error(s). Call DescribeEvents to retrieve the full list of issues with resource and "
    "property details, resolve each error, then retry the operation."
)
ROLLBACK_REASON = "Validation failure detected. See the operation's FAILED event for details."


def template(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# A queue, then a parameter whose property is misspelled (SSM parameters are checked before deployment).
MISSPELLED = template(
    """
    Resources:
      Queue:
        Type: AWS::SQS::Queue
      Param:
        Type: AWS::SSM::Parameter
        DependsOn: Queue
        Properties: {Type: String, Value: v, Descripton: typo}
    """
)
GOOD = template(
    """
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties: {Type: String, Value: v}
    """
)


def unique(prefix: str = "early") -> str:
    return f"{prefix}-{next(_names)}"


def stack_events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The stack's events, oldest first."""
    return list(reversed(cfn.describe_stack_events(StackName=name)["StackEvents"]))


def findings(cfn: Any, **where: Any) -> list[dict[str, Any]]:
    return [e for e in cfn.describe_events(**where)["OperationEvents"] if e["EventType"] == "VALIDATION_ERROR"]


def test_a_property_error_fails_the_create_before_anything_is_provisioned(sb: Sandbox, cfn: Any) -> None:
    """ "If validation fails in FAIL mode, the operation stops before any resources are provisioned and the stack
    status reflects the validation failure": only stack-level events, then an automatic rollback."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=MISSPELLED)
    shown = [
        (e["ResourceStatus"], e.get("ResourceStatusReason"), e.get("DetailedStatus")) for e in stack_events(cfn, name)
    ]
    assert shown == [
        ("CREATE_IN_PROGRESS", "User Initiated", None),
        ("CREATE_FAILED", FAILED_REASON, "VALIDATION_FAILED"),
        ("ROLLBACK_IN_PROGRESS", ROLLBACK_REASON, None),
        ("ROLLBACK_COMPLETE", None, None),
    ]
    assert cfn.list_stack_resources(StackName=name)["StackResourceSummaries"] == []
    assert sb.client("sqs").list_queues().get("QueueUrls", []) == []
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "StackStatusReason" not in stack


def test_describe_events_shows_each_finding_that_describe_stack_events_does_not(cfn: Any) -> None:
    """A VALIDATION_ERROR record names the resource, the check, the reason and the path in the template."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=MISSPELLED)
    (finding,) = findings(cfn, StackName=name)
    assert {
        k: finding[k] for k in finding if k.startswith("Validation") or k in ("LogicalResourceId", "OperationType")
    } == {
        "LogicalResourceId": "Param",
        "OperationType": "CREATE_STACK",
        "ValidationFailureMode": "FAIL",
        "ValidationName": "PROPERTY_VALIDATION",
        "ValidationStatus": "FAILED",
        "ValidationStatusReason": "#: extraneous key [Descripton] is not permitted",
        "ValidationPath": "/Resources/Param/Properties",
    }
    assert all(
        "Validation" not in str(e.get("ResourceStatusReason")) or e["LogicalResourceId"] == name
        for e in stack_events(cfn, name)
    )


def test_a_name_that_already_exists_fails_validation(sb: Sandbox, cfn: Any) -> None:
    """Resource name conflict detection: an explicit name already in use fails before deployment."""
    bucket = unique("taken-bucket")
    sb.client("s3").create_bucket(Bucket=bucket)
    name = unique()
    body = template(f"Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {{BucketName: {bucket}}}\n")
    cfn.create_stack(StackName=name, TemplateBody=body)
    (finding,) = findings(cfn, StackName=name)
    assert finding["ValidationName"] == "NAME_CONFLICT_VALIDATION"
    assert (
        finding["ValidationStatusReason"]
        == f"Resource of type 'AWS::S3::Bucket' with identifier '{bucket}' already exists."
    )
    assert finding["ValidationPath"] == "/Resources/Bucket"
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"


def test_disable_validation_leaves_the_check_to_provisioning(sb: Sandbox, cfn: Any) -> None:
    """ "Disabling validation means CloudFormation does not catch common errors until it attempts to provision
    resources": the queue is created, the parameter fails, and the rollback deletes the queue."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=MISSPELLED, DisableValidation=True)
    failed = [e for e in stack_events(cfn, name) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Param" and failed[0]["DetailedStatus"] == "VALIDATION_FAILED"
    assert failed[0]["ResourceStatusReason"].startswith("Properties validation failed for resource Param")
    assert any(
        e["LogicalResourceId"] == "Queue" and e["ResourceStatus"] == "CREATE_COMPLETE" for e in stack_events(cfn, name)
    )
    assert findings(cfn, StackName=name) == []


def test_a_value_known_only_after_provisioning_is_not_judged(cfn: Any) -> None:
    """Validation checks what is known before deployment; a reference to another resource is not an error."""
    name = unique()
    body = template(
        """
        Resources:
          Dlq:
            Type: AWS::SQS::Queue
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3}
        """
    )
    cfn.create_stack(StackName=name, TemplateBody=body)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_an_update_that_fails_validation_changes_nothing_and_rolls_back(sb: Sandbox, cfn: Any) -> None:
    """UpdateStack validates too; the failed update and its rollback are two operations (LastOperations)."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=GOOD)
    broken = GOOD.replace("Value: v}", "Value: w, Descripton: typo}")
    update_id = cfn.update_stack(StackName=name, TemplateBody=broken)["OperationId"]
    latest = stack_events(cfn, name)[-4:]
    assert [(e["ResourceStatus"], e.get("DetailedStatus")) for e in latest] == [
        ("UPDATE_IN_PROGRESS", None),
        ("UPDATE_FAILED", "VALIDATION_FAILED"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", None),
        ("UPDATE_ROLLBACK_COMPLETE", None),
    ]
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert [o["OperationType"] for o in stack["LastOperations"]] == ["ROLLBACK", "UPDATE_STACK"]
    assert stack["LastOperations"][1]["OperationId"] == update_id
    param = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Param")["StackResourceDetail"]
    assert sb.client("ssm").get_parameter(Name=param["PhysicalResourceId"])["Parameter"]["Value"] == "v"


def test_a_change_set_that_fails_validation_names_the_checks_that_failed(cfn: Any) -> None:
    """A FAIL finding makes the change set FAILED; its findings are the CREATE_CHANGESET operation's events."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=GOOD)
    arn = cfn.create_change_set(
        StackName=name, ChangeSetName="typo", TemplateBody=GOOD.replace("Value: v}", "Value: v, Descripton: x}")
    )["Id"]
    described = cfn.describe_change_set(ChangeSetName=arn)
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == (
        "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. To troubleshoot "
        "Early Validation errors, use the DescribeEvents API for detailed failure information."
    )
    (finding,) = findings(cfn, ChangeSetName=arn)
    assert (finding["OperationType"], finding["ValidationName"]) == ("CREATE_CHANGESET", "PROPERTY_VALIDATION")


def test_a_change_set_warns_when_it_would_delete_a_bucket_that_holds_objects(sb: Sandbox, cfn: Any) -> None:
    """WARN mode "allows change set creation to succeed despite validation failures" (S3 bucket emptiness)."""
    name = unique()
    cfn.create_stack(StackName=name, TemplateBody=GOOD + "  Bucket:\n    Type: AWS::S3::Bucket\n")
    bucket = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Bucket")["StackResourceDetail"]
    sb.client("s3").put_object(Bucket=bucket["PhysicalResourceId"], Key="report.csv", Body=b"1")
    arn = cfn.create_change_set(StackName=name, ChangeSetName="drop-bucket", TemplateBody=GOOD)["Id"]
    described = cfn.describe_change_set(ChangeSetName=arn)
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    (warning,) = findings(cfn, ChangeSetName=arn)
    assert (warning["ValidationName"], warning["ValidationFailureMode"]) == ("BUCKET_EMPTINESS_VALIDATION", "WARN")
    assert warning["ValidationStatusReason"].startswith(f"The bucket '{bucket['PhysicalResourceId']}' is not empty.")


def test_every_operation_has_an_id_that_its_events_carry(cfn: Any) -> None:
    """CreateStack returns the OperationId; each stack event carries it; LastOperations names the operation."""
    name = unique()
    operation_id = cfn.create_stack(StackName=name, TemplateBody=GOOD)["OperationId"]
    assert {e["OperationId"] for e in stack_events(cfn, name)} == {operation_id}
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["LastOperations"] == [
        {"OperationType": "CREATE_STACK", "OperationId": operation_id}
    ]
    stack_id = stack_events(cfn, name)[0]["StackId"]
    cfn.delete_stack(StackName=name)
    last = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["LastOperations"]
    assert [o["OperationType"] for o in last] == ["DELETE_STACK"]


def test_describe_events_groups_an_operation_between_its_start_and_end(cfn: Any) -> None:
    """STACK_EVENT records open and close each operation; OperationId and FailedEvents narrow the answer."""
    name = unique()
    operation_id = cfn.create_stack(StackName=name, TemplateBody=MISSPELLED)["OperationId"]
    records = cfn.describe_events(OperationId=operation_id)["OperationEvents"]
    boundaries = [r["OperationStatus"] for r in records if r["EventType"] == "STACK_EVENT"]
    assert boundaries == ["FAILED", "IN_PROGRESS"]  # newest first
    failed = cfn.describe_events(StackName=name, Filters={"FailedEvents": True})["OperationEvents"]
    assert {r["EventType"] for r in failed} <= {"VALIDATION_ERROR", "PROVISIONING_ERROR", "STACK_EVENT"}
    assert any(r["EventType"] == "VALIDATION_ERROR" for r in failed)


def test_describe_events_needs_a_stack_a_change_set_or_an_operation(cfn: Any) -> None:
    """ "One of ChangeSetName, OperationId or StackName must be specified"."""
    assert api_error(cfn.describe_events) == (
        "ValidationError",
        "One of ChangeSetName, OperationId or StackName must be specified",
    )
