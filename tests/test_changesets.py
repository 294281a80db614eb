"""Change sets: each test proves one documented AWS behaviour of CreateChangeSet, DescribeChangeSet,
ExecuteChangeSet, ListChangeSets or DeleteChangeSet.

Messages the documentation does not print come from AWS's own responses: "The submitted information didn't
contain changes. Submit different information to create a change set.", "ChangeSet [...] cannot be executed in
its current status of [FAILED]", "... in its current execution status of [OBSOLETE]", "ChangeSet [...] does not
exist", "Stack [...] already exists and cannot be created again with the changeSet [...]."
"""

from __future__ import annotations

import itertools
import textwrap
from typing import Any

import pytest
from aws_errors import api_error
from botocore.exceptions import WaiterError

from labs_support.sandbox import Sandbox

# moto has no botocore error shape for the sandbox's own SandboxNotSupported code and warns when it sends one
pytestmark = pytest.mark.filterwarnings(r"ignore:Exception\(SandboxNotSupported\):UserWarning")

_names = itertools.count(1)
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


def template(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def parameter(value: str, name: str | None = None) -> str:
    """One SSM parameter: its Value is updated in place, its Name is create-only (a new name replaces it)."""
    named = f", Name: {name}" if name else ""
    return template(
        f"""
        Resources:
          Param:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: {value}{named}}}
        """
    )


PARAMETER_FROM_INPUT = template(
    """
    Parameters:
      Colour: {Type: String}
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties: {Type: String, Value: !Ref Colour}
    """
)


def unique(prefix: str = "cs") -> str:
    return f"{prefix}-{next(_names)}"


def create(cfn: Any, body: str, **kwargs: Any) -> str:
    name = unique("stack")
    cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
    return name


def change_set(cfn: Any, stack: str, **kwargs: Any) -> str:
    """Create a change set (an UPDATE one unless told) and return its ARN."""
    return cfn.create_change_set(StackName=stack, ChangeSetName=unique(), **kwargs)["Id"]


def resource_changes(cfn: Any, change_set_id: str) -> dict[str, dict[str, Any]]:
    changes = cfn.describe_change_set(ChangeSetName=change_set_id)["Changes"]
    assert all(c["Type"] == "Resource" for c in changes)
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in changes}


def physical_id(cfn: Any, stack: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def ssm_value(sb: Sandbox, name: str) -> str:
    return sb.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def stack_status(cfn: Any, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


# -- CreateChangeSet and DescribeChangeSet ---------------------------------------------------------------
def test_creating_a_change_set_changes_nothing_until_it_is_executed(sb: Sandbox, cfn: Any) -> None:
    """CreateChangeSet returns the change set's ARN and the stack id; the stack keeps running unchanged.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    stack = create(cfn, parameter("before"))
    name = unique()
    response = cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateBody=parameter("after"))
    assert response["Id"].startswith(f"arn:aws:cloudformation:us-east-1:123456789012:changeSet/{name}/")
    assert response["StackId"] == cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    assert stack_status(cfn, stack) == "CREATE_COMPLETE"
    assert ssm_value(sb, physical_id(cfn, stack, "Param")) == "before"


def test_the_change_set_create_complete_waiter_returns_when_the_change_set_is_ready(cfn: Any) -> None:
    """A change set that CloudFormation has worked out is CREATE_COMPLETE and AVAILABLE to execute.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
    """
    stack = create(cfn, parameter("before"))
    arn = change_set(cfn, stack, TemplateBody=parameter("after"), Description="try a new value")
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=arn)
    described = cfn.describe_change_set(ChangeSetName=arn)
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert described["StackName"] == stack
    assert described["Description"] == "try a new value"


def test_a_mutable_property_change_modifies_the_resource_without_replacement(cfn: Any) -> None:
    """Editing a property whose update needs no replacement is a Static DirectModification, Replacement False.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
    """
    stack = create(cfn, parameter("before"))
    change = resource_changes(cfn, change_set(cfn, stack, TemplateBody=parameter("after")))["Param"]
    assert change["Action"] == "Modify"
    assert change["PhysicalResourceId"] == physical_id(cfn, stack, "Param")
    assert change["ResourceType"] == "AWS::SSM::Parameter"
    assert change["Replacement"] == "False"
    assert change["Scope"] == ["Properties"]
    assert change["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "Value", "RequiresRecreation": "Never"},
            "Evaluation": "Static",
            "ChangeSource": "DirectModification",
        }
    ]


def test_a_create_only_property_change_requires_replacement(cfn: Any) -> None:
    """A new value for a property that can only be set at creation (an SSM parameter's Name) always requires
    recreation: Replacement True.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
    """
    stack = create(cfn, parameter("same", name="cs-first-name"))
    change = resource_changes(cfn, change_set(cfn, stack, TemplateBody=parameter("same", name="cs-second-name")))
    assert change["Param"]["Replacement"] == "True"
    assert [d["Target"] for d in change["Param"]["Details"]] == [
        {"Attribute": "Properties", "Name": "Name", "RequiresRecreation": "Always"}
    ]


def test_a_bucket_name_change_requires_replacing_the_bucket(cfn: Any) -> None:
    """BucketName is an update that requires replacement.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html
    """
    bucket = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {{BucketName: {}}}\n"
    stack = create(cfn, bucket.format("cs-bucket-one"))
    change = resource_changes(cfn, change_set(cfn, stack, TemplateBody=bucket.format("cs-bucket-two")))["Bucket"]
    assert (change["Action"], change["Replacement"]) == ("Modify", "True")
    assert change["Details"][0]["Target"]["RequiresRecreation"] == "Always"


def test_a_create_only_value_that_depends_on_a_replaced_resource_makes_replacement_conditional(cfn: Any) -> None:
    """A reference to a resource that is recreated can only be evaluated when the stack is updated (Dynamic,
    ResourceReference); a create-only property that depends on it is replaced only if the value changes.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html
    """
    body = template(
        """
        Resources:
          Source:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: v, Name: {name}}}
          Copy:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: v, Name: !Sub "${{Source}}-copy"}}
        """
    )
    stack = create(cfn, body.format(name="cs-source-a"))
    changes = resource_changes(cfn, change_set(cfn, stack, TemplateBody=body.format(name="cs-source-b")))
    assert changes["Source"]["Replacement"] == "True"
    assert changes["Copy"]["Replacement"] == "Conditional"
    assert changes["Copy"]["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "Name", "RequiresRecreation": "Always"},
            "Evaluation": "Dynamic",
            "ChangeSource": "ResourceReference",
            "CausingEntity": "Source",
        }
    ]


def test_a_value_read_from_a_modified_resource_is_evaluated_dynamically(cfn: Any) -> None:
    """Fn::GetAtt of a resource the change set modifies is a ResourceAttribute change, evaluated Dynamic, with
    the attribute as the causing entity.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html
    """
    body = template(
        """
        Resources:
          First:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: {value}}}
          Second:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: !GetAtt First.Value}}
        """
    )
    stack = create(cfn, body.format(value="one"))
    changes = resource_changes(cfn, change_set(cfn, stack, TemplateBody=body.format(value="two")))
    assert changes["Second"]["Replacement"] == "False"
    assert changes["Second"]["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "Value", "RequiresRecreation": "Never"},
            "Evaluation": "Dynamic",
            "ChangeSource": "ResourceAttribute",
            "CausingEntity": "First.Value",
        }
    ]


def test_a_parameter_only_change_lists_the_parameter_as_the_cause(cfn: Any) -> None:
    """A resource that references a changed parameter value gets two details: a Static ParameterReference
    naming the parameter and a Dynamic DirectModification.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
    """
    stack = create(cfn, PARAMETER_FROM_INPUT, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}])
    arn = change_set(
        cfn, stack, UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "blue"}]
    )
    target = {"Attribute": "Properties", "Name": "Value", "RequiresRecreation": "Never"}
    assert resource_changes(cfn, arn)["Param"]["Details"] == [
        {"Target": target, "Evaluation": "Static", "ChangeSource": "ParameterReference", "CausingEntity": "Colour"},
        {"Target": target, "Evaluation": "Dynamic", "ChangeSource": "DirectModification"},
    ]
    assert cfn.describe_change_set(ChangeSetName=arn)["Parameters"] == [
        {"ParameterKey": "Colour", "ParameterValue": "blue"}
    ]


def test_a_tag_change_is_a_change_of_the_tags_attribute(cfn: Any) -> None:
    """Tags are reported as their own attribute and scope ("Target": {"Attribute": "Tags", ...}).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
    """
    queue = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {{Tags: [{{Key: team, Value: {}}}]}}\n"
    stack = create(cfn, queue.format("blue"))
    change = resource_changes(cfn, change_set(cfn, stack, TemplateBody=queue.format("red")))["Queue"]
    assert change["Scope"] == ["Tags"]
    assert change["Details"][0]["Target"] == {"Attribute": "Tags", "RequiresRecreation": "Never"}


def test_an_unchanged_nested_stack_is_listed_as_an_automatic_change(sb: Sandbox, cfn: Any) -> None:
    """If you made no changes to the AWS::CloudFormation::Stack resource, CloudFormation sets the ChangeSource to
    Automatic because the nested stack's template might have changed.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html
    """
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="cs-nested-templates")
    s3.put_object(Bucket="cs-nested-templates", Key="child.yaml", Body=parameter("child").encode())
    parent = PARAMETER_FROM_INPUT + (
        "  Child:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: 'https://cs-nested-templates.s3.amazonaws.com/child.yaml'}\n"
    )
    stack = create(cfn, parent, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}])
    arn = change_set(
        cfn, stack, UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "blue"}]
    )
    child = resource_changes(cfn, arn)["Child"]
    assert (child["Action"], child["Replacement"], child["Scope"]) == ("Modify", "False", ["Properties"])
    assert child["Details"] == [
        {
            "Target": {"Attribute": "Properties", "RequiresRecreation": "Never"},
            "Evaluation": "Dynamic",
            "ChangeSource": "Automatic",
        }
    ]


def test_added_and_removed_resources_are_listed_as_add_and_remove(cfn: Any) -> None:
    """New resources are Add (no physical id yet), removed ones Remove; Scope and Details stay empty.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html
    """
    stack = create(cfn, parameter("kept").replace("Param:", "Old:"))
    old_id = physical_id(cfn, stack, "Old")
    changes = resource_changes(cfn, change_set(cfn, stack, TemplateBody=parameter("new").replace("Param:", "New:")))
    assert changes["New"] == {
        "Action": "Add",
        "LogicalResourceId": "New",
        "ResourceType": "AWS::SSM::Parameter",
        "Scope": [],
        "Details": [],
    }
    assert changes["Old"] == {
        "Action": "Remove",
        "LogicalResourceId": "Old",
        "PhysicalResourceId": old_id,
        "ResourceType": "AWS::SSM::Parameter",
        "Scope": [],
        "Details": [],
    }


def test_a_change_set_without_changes_fails_with_awss_reason(cfn: Any) -> None:
    """A change set that would change nothing is FAILED (UNAVAILABLE to execute) and says why; the
    change_set_create_complete waiter stops on that failure.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
    """
    stack = create(cfn, parameter("same"))
    arn = change_set(cfn, stack, UsePreviousTemplate=True)
    described = cfn.describe_change_set(ChangeSetName=arn)
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == NO_CHANGES
    assert described["Changes"] == []
    with pytest.raises(WaiterError):
        cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=arn)


def test_a_failed_change_set_cannot_be_executed(cfn: Any) -> None:
    """ExecuteChangeSet refuses a change set that is not CREATE_COMPLETE (InvalidChangeSetStatus).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    """
    stack = create(cfn, parameter("same"))
    arn = change_set(cfn, stack, UsePreviousTemplate=True)
    assert api_error(cfn.execute_change_set, ChangeSetName=arn) == (
        "InvalidChangeSetStatus",
        f"ChangeSet [{arn}] cannot be executed in its current status of [FAILED]",
    )


def test_creating_a_change_set_needs_the_capabilities_its_template_needs(cfn: Any) -> None:
    """A template with IAM resources needs CAPABILITY_IAM acknowledged when the change set is created.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    stack = create(cfn, parameter("a"))
    role = template(
        """
        Resources:
          Role:
            Type: AWS::IAM::Role
            Properties:
              AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com},
                                         Action: "sts:AssumeRole"}]}
        """
    )
    assert api_error(cfn.create_change_set, StackName=stack, ChangeSetName=unique(), TemplateBody=role) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_IAM]",
    )


def test_the_same_change_set_name_with_a_different_template_is_refused(cfn: Any) -> None:
    """A change set name is unique per stack: asking again for the same change set returns it, asking for a
    different one under its name is refused (AlreadyExistsException).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    stack = create(cfn, parameter("a"))
    name = unique()
    first = cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateBody=parameter("b"))["Id"]
    again = cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateBody=parameter("b"))["Id"]
    assert again == first
    assert api_error(cfn.create_change_set, StackName=stack, ChangeSetName=name, TemplateBody=parameter("c")) == (
        "AlreadyExistsException",
        f"ChangeSet {name} cannot be created due to a mismatch with existing attribute Template",
    )


def test_an_update_change_set_for_a_stack_that_does_not_exist_is_refused(cfn: Any) -> None:
    """ChangeSetType UPDATE (the default) needs an existing stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    assert api_error(
        cfn.create_change_set, StackName="no-such-stack", ChangeSetName="c", TemplateBody=parameter("a")
    ) == (
        "ValidationError",
        "Stack [no-such-stack] does not exist",
    )


# -- CREATE change sets ----------------------------------------------------------------------------------
def test_a_create_change_set_makes_a_stack_in_review_in_progress(cfn: Any) -> None:
    """ChangeSetType CREATE makes the stack with status REVIEW_IN_PROGRESS and creates none of its resources;
    every resource of the template is an Add.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    stack = unique("new")
    response = cfn.create_change_set(
        StackName=stack, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=parameter("a")
    )
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert (described["StackId"], described["StackStatus"]) == (response["StackId"], "REVIEW_IN_PROGRESS")
    assert described["StackStatusReason"] == "User Initiated"
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    assert [(e["ResourceStatus"], e.get("ResourceStatusReason")) for e in events] == [
        ("REVIEW_IN_PROGRESS", "User Initiated")
    ]
    assert cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"] == []
    assert [c["Action"] for c in resource_changes(cfn, response["Id"]).values()] == ["Add"]


def test_executing_a_create_change_set_creates_the_stack(sb: Sandbox, cfn: Any) -> None:
    """Executing a CREATE change set creates the stack under the id the change set gave it; its events go on
    from REVIEW_IN_PROGRESS to CREATE_IN_PROGRESS.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    """
    stack = unique("new")
    response = cfn.create_change_set(
        StackName=stack, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=parameter("created")
    )
    cfn.execute_change_set(ChangeSetName="first", StackName=stack)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"] == response["StackId"]
    stack_events = [
        e["ResourceStatus"]
        for e in reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"])
        if e["LogicalResourceId"] == stack
    ]
    assert stack_events == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert ssm_value(sb, physical_id(cfn, stack, "Param")) == "created"
    assert cfn.describe_change_set(ChangeSetName=response["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_a_create_change_set_for_a_stack_that_exists_is_refused(cfn: Any) -> None:
    """A CREATE change set is for a stack that does not exist yet.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    stack = create(cfn, parameter("a"))
    code, message = api_error(
        cfn.create_change_set,
        StackName=stack,
        ChangeSetName="again",
        ChangeSetType="CREATE",
        TemplateBody=parameter("a"),
    )
    assert (code, message) == (
        "ValidationError",
        f"Stack [{stack}] already exists and cannot be created again with the changeSet [again].",
    )


# -- ExecuteChangeSet ------------------------------------------------------------------------------------
def test_executing_a_change_set_updates_the_stack(sb: Sandbox, cfn: Any) -> None:
    """ExecuteChangeSet updates the stack with the change set's template and parameters; the change set is then
    EXECUTE_COMPLETE.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    """
    stack = create(cfn, PARAMETER_FROM_INPUT, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}])
    arn = change_set(
        cfn, stack, UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Colour", "ParameterValue": "green"}]
    )
    cfn.execute_change_set(ChangeSetName=arn)
    cfn.get_waiter("stack_update_complete").wait(StackName=stack)
    assert ssm_value(sb, physical_id(cfn, stack, "Param")) == "green"
    described = cfn.describe_change_set(ChangeSetName=arn)
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "EXECUTE_COMPLETE")
    parameters = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    assert parameters == [{"ParameterKey": "Colour", "ParameterValue": "green"}]


def test_a_change_set_can_be_executed_only_once(cfn: Any) -> None:
    """An executed change set is no longer AVAILABLE: executing it again is refused.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    """
    stack = create(cfn, parameter("one"))
    arn = change_set(cfn, stack, TemplateBody=parameter("two"))
    cfn.execute_change_set(ChangeSetName=arn)
    assert api_error(cfn.execute_change_set, ChangeSetName=arn) == (
        "InvalidChangeSetStatus",
        f"ChangeSet [{arn}] cannot be executed in its current execution status of [EXECUTE_COMPLETE]",
    )


def test_executing_a_change_set_deletes_the_other_change_sets_of_the_stack(cfn: Any) -> None:
    """After you execute a change set, CloudFormation deletes any additional change sets that are associated
    with the stack because they're no longer valid for the updated stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html
    """
    stack = create(cfn, parameter("one"))
    chosen = change_set(cfn, stack, TemplateBody=parameter("two"))
    other = change_set(cfn, stack, TemplateBody=parameter("three"))
    cfn.execute_change_set(ChangeSetName=chosen)
    assert [s["ChangeSetId"] for s in cfn.list_change_sets(StackName=stack)["Summaries"]] == [chosen]
    assert api_error(cfn.describe_change_set, ChangeSetName=other) == (
        "ChangeSetNotFound",
        f"ChangeSet [{other}] does not exist",
    )


def test_a_change_set_becomes_obsolete_when_the_stack_is_updated_another_way(cfn: Any) -> None:
    """A change set is OBSOLETE once the stack was already updated; it can no longer be executed.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ChangeSetSummary.html
    """
    stack = create(cfn, parameter("one"))
    arn = change_set(cfn, stack, TemplateBody=parameter("two"))
    cfn.update_stack(StackName=stack, TemplateBody=parameter("three"))
    assert cfn.describe_change_set(ChangeSetName=arn)["ExecutionStatus"] == "OBSOLETE"
    assert api_error(cfn.execute_change_set, ChangeSetName=arn) == (
        "InvalidChangeSetStatus",
        f"ChangeSet [{arn}] cannot be executed in its current execution status of [OBSOLETE]",
    )


# -- ListChangeSets and DeleteChangeSet -----------------------------------------------------------------
def test_list_change_sets_summarises_the_change_sets_of_a_stack(cfn: Any) -> None:
    """ListChangeSets returns a summary of each change set of the stack, with its statuses.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListChangeSets.html
    """
    stack = create(cfn, parameter("one"))
    ready = change_set(cfn, stack, TemplateBody=parameter("two"))
    empty = change_set(cfn, stack, UsePreviousTemplate=True)
    summaries = {s["ChangeSetId"]: s for s in cfn.list_change_sets(StackName=stack)["Summaries"]}
    assert set(summaries) == {ready, empty}
    assert (summaries[ready]["Status"], summaries[ready]["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert (summaries[empty]["Status"], summaries[empty]["StatusReason"]) == ("FAILED", NO_CHANGES)
    assert summaries[ready]["StackName"] == stack


def test_a_deleted_change_set_no_longer_exists(cfn: Any) -> None:
    """DeleteChangeSet deletes the change set; describing it then answers ChangeSetNotFound.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html
    """
    stack = create(cfn, parameter("one"))
    arn = change_set(cfn, stack, TemplateBody=parameter("two"))
    cfn.delete_change_set(ChangeSetName=arn)
    assert api_error(cfn.describe_change_set, ChangeSetName=arn) == (
        "ChangeSetNotFound",
        f"ChangeSet [{arn}] does not exist",
    )
    assert cfn.list_change_sets(StackName=stack)["Summaries"] == []


def test_a_change_set_named_without_its_stack_is_refused(cfn: Any) -> None:
    """A change set given by name needs its StackName (an ARN does not).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html
    """
    assert api_error(cfn.delete_change_set, ChangeSetName="by-name") == (
        "ValidationError",
        "StackName must be specified if ChangeSetName is not specified as an ARN.",
    )


def test_describing_a_change_set_of_a_stack_that_does_not_exist_is_refused(cfn: Any) -> None:
    """The stack a change set name belongs to must exist.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
    """
    assert api_error(cfn.describe_change_set, StackName="somestack", ChangeSetName="DoesNotExist") == (
        "ValidationError",
        "Stack [somestack] does not exist",
    )
