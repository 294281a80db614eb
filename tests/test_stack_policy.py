"""Stack policies: each test proves one documented AWS behaviour of a stack policy during an update.

The rules come from "Prevent updates to stack resources"; the denial reason is the one CloudFormation writes in
the resource's UPDATE_FAILED event ("Action denied by stack policy: Statement [#1] does not allow
[Update:Replace] for resource [LogicalResourceId/VPC];", seen in real event output).
"""

from __future__ import annotations

import itertools
import json
import textwrap
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labs_support.emulator.cloudformation import stack_policy
from labs_support.emulator.cloudformation.errors import ValidationError
from labs_support.sandbox import Sandbox

_names = itertools.count(1)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Statement": [{"Principal": "*", **s} for s in statements]})


ALLOW_ALL = {"Effect": "Allow", "Action": "Update:*", "Resource": "*"}


def parameters(**values: str) -> str:
    """Standard SSM parameters named by logical id, each with its value (Value is updated in place)."""
    body = "Resources:\n"
    for logical_id, value in values.items():
        body += f"  {logical_id}:\n    Type: AWS::SSM::Parameter\n    Properties: {{Type: String, Value: {value}}}\n"
    return body


def table(name: str, read_capacity: int) -> str:
    """A DynamoDB table: ProvisionedThroughput is modified in place, a new TableName replaces the table."""
    return textwrap.dedent(
        f"""
        Resources:
          ProductionDatabase:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: {name}
              AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
              KeySchema: [{{AttributeName: id, KeyType: HASH}}]
              ProvisionedThroughput: {{ReadCapacityUnits: {read_capacity}, WriteCapacityUnits: 1}}
        """
    )


def create(cfn: Any, body: str, **kwargs: Any) -> str:
    name = f"policy-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
    return name


def status(cfn: Any, name: str) -> str:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def failure_reason(cfn: Any, name: str, logical_id: str) -> str | None:
    """The reason of the resource's latest UPDATE_FAILED event."""
    for event in cfn.describe_stack_events(StackName=name)["StackEvents"]:  # newest first
        if event["LogicalResourceId"] == logical_id and event["ResourceStatus"] == "UPDATE_FAILED":
            return event.get("ResourceStatusReason")
    return None


def value(sb: Sandbox, cfn: Any, name: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)["StackResourceDetail"]
    return sb.client("ssm").get_parameter(Name=detail["PhysicalResourceId"])["Parameter"]["Value"]


def test_without_a_stack_policy_every_update_is_allowed(sb: Sandbox, cfn: Any) -> None:
    """When you create a stack, all update actions are allowed on all resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    name = create(cfn, parameters(Param="before"))
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="after"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert value(sb, cfn, name, "Param") == "after"


def test_once_a_policy_is_set_an_update_it_does_not_allow_is_denied(sb: Sandbox, cfn: Any) -> None:
    """After you set a stack policy, all of the resources in the stack are protected by default: an update
    that no Allow statement covers fails and the stack rolls back.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    only_other = policy({"Effect": "Allow", "Action": "Update:*", "Resource": "LogicalResourceId/Other"})
    name = create(cfn, parameters(Param="before", Other="x"), StackPolicyBody=only_other)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="after", Other="x"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Param") == (
        "Action not allowed by stack policy: No statement allows [Update:Modify] for resource "
        "[LogicalResourceId/Param];"
    )
    assert value(sb, cfn, name, "Param") == "before"


def test_an_allow_statement_for_one_resource_lets_only_that_resource_be_updated(sb: Sandbox, cfn: Any) -> None:
    """To allow updates on specific resources, you specify an explicit Allow statement for those resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    only_open = policy({"Effect": "Allow", "Action": "Update:*", "Resource": "LogicalResourceId/Open"})
    name = create(cfn, parameters(Open="1", Closed="1"), StackPolicyBody=only_open)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Open="2", Closed="1"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert value(sb, cfn, name, "Open") == "2"
    cfn.update_stack(StackName=name, TemplateBody=parameters(Open="2", Closed="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert value(sb, cfn, name, "Closed") == "1"


def test_deny_update_replace_protects_a_database_while_update_modify_is_allowed(sb: Sandbox, cfn: Any) -> None:
    """A Deny statement for Update:Replace stops the replacement of the resource (the update fails and rolls
    back, the table is kept), while an in-place modification the Allow statement covers goes ahead.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    no_replace = policy(
        ALLOW_ALL,
        {"Effect": "Deny", "Action": "Update:Replace", "Resource": "LogicalResourceId/ProductionDatabase"},
    )
    name = create(cfn, table("orders-policy", 1), StackPolicyBody=no_replace)
    dynamodb = sb.client("dynamodb")
    cfn.update_stack(StackName=name, TemplateBody=table("orders-policy", 2))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert (
        dynamodb.describe_table(TableName="orders-policy")["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
    )
    cfn.update_stack(StackName=name, TemplateBody=table("orders-policy-v2", 2))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "ProductionDatabase") == (
        "Action denied by stack policy: Statement [#1] does not allow [Update:Replace] for resource "
        "[LogicalResourceId/ProductionDatabase];"
    )
    tables = dynamodb.list_tables()["TableNames"]
    assert "orders-policy" in tables and "orders-policy-v2" not in tables


def test_a_deny_statement_always_overrides_an_allow_statement(sb: Sandbox, cfn: Any) -> None:
    """If a stack policy includes overlapping statements, a Deny statement always overrides an Allow statement.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    deny_first = policy(
        {"Effect": "Deny", "Action": "Update:*", "Resource": "LogicalResourceId/Param"},
        ALLOW_ALL,
    )
    name = create(cfn, parameters(Param="before"), StackPolicyBody=deny_first)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="after"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Param") == (
        "Action denied by stack policy: Statement [#1] does not allow [Update:*] for resource "
        "[LogicalResourceId/Param];"
    )
    assert value(sb, cfn, name, "Param") == "before"


def test_stack_policy_during_update_overrides_the_policy_for_that_update_only(sb: Sandbox, cfn: Any) -> None:
    """An override policy given with UpdateStack applies only during that update; it doesn't permanently
    change the stack policy.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    deny_all = policy({"Effect": "Deny", "Action": "Update:*", "Resource": "*"})
    name = create(cfn, parameters(Param="1"), StackPolicyBody=deny_all)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="2"), StackPolicyDuringUpdateBody=policy(ALLOW_ALL))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert value(sb, cfn, name, "Param") == "2"
    assert json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"]) == json.loads(deny_all)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="3"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert value(sb, cfn, name, "Param") == "2"


def test_a_wildcard_in_the_logical_id_covers_every_resource_with_that_prefix(sb: Sandbox, cfn: Any) -> None:
    """You can use a wild card with logical IDs: "LogicalResourceId/CriticalResource*".

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    critical = policy(ALLOW_ALL, {"Effect": "Deny", "Action": "Update:*", "Resource": "LogicalResourceId/Critical*"})
    name = create(cfn, parameters(CriticalOne="1", Plain="1"), StackPolicyBody=critical)
    cfn.update_stack(StackName=name, TemplateBody=parameters(CriticalOne="1", Plain="2"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    cfn.update_stack(StackName=name, TemplateBody=parameters(CriticalOne="2", Plain="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "CriticalOne") == (
        "Action denied by stack policy: Statement [#1] does not allow [Update:*] for resource "
        "[LogicalResourceId/Critical*];"
    )


def test_a_string_equals_resource_type_condition_denies_updates_to_that_type(sb: Sandbox, cfn: Any) -> None:
    """The Condition element specifies the resource type the statement applies to (StringEquals ResourceType).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    body = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {{VisibilityTimeout: {timeout}}}
  Param:
    Type: AWS::SSM::Parameter
    Properties: {{Type: String, Value: {value}}}
"""
    no_parameters = policy(
        {
            "Effect": "Deny",
            "Action": "Update:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"ResourceType": ["AWS::SSM::Parameter"]}},
        },
        ALLOW_ALL,
    )
    name = create(cfn, body.format(timeout=30, value="1"), StackPolicyBody=no_parameters)
    cfn.update_stack(StackName=name, TemplateBody=body.format(timeout=60, value="1"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    cfn.update_stack(StackName=name, TemplateBody=body.format(timeout=60, value="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Param") is not None
    assert value(sb, cfn, name, "Param") == "1"


def test_a_string_like_condition_matches_resource_types_with_wildcards(sb: Sandbox, cfn: Any) -> None:
    """You can use a wild card with resource types ("AWS::EC2::*"); you must use StringLike when you do.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    no_ssm = policy(
        {
            "Effect": "Deny",
            "Action": "Update:*",
            "Resource": "*",
            "Condition": {"StringLike": {"ResourceType": ["AWS::SSM::*"]}},
        },
        ALLOW_ALL,
    )
    name = create(cfn, parameters(Param="1"), StackPolicyBody=no_ssm)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert value(sb, cfn, name, "Param") == "1"


def test_not_resource_allows_updates_to_every_resource_but_one(sb: Sandbox, cfn: Any) -> None:
    """An Allow statement with NotResource allows updates to all resources except that one, which is then
    denied because any update not explicitly allowed is denied.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    all_but_database = policy({"Effect": "Allow", "Action": "Update:*", "NotResource": "LogicalResourceId/Database"})
    name = create(cfn, parameters(Database="1", Cache="1"), StackPolicyBody=all_but_database)
    cfn.update_stack(StackName=name, TemplateBody=parameters(Database="1", Cache="2"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    cfn.update_stack(StackName=name, TemplateBody=parameters(Database="2", Cache="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    reason = failure_reason(cfn, name, "Database")
    assert reason is not None and reason.startswith("Action not allowed by stack policy")


def test_not_action_allows_every_update_action_but_one(sb: Sandbox, cfn: Any) -> None:
    """An Allow statement with NotAction Update:Delete allows modifications but not the removal of a resource
    from the template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    no_delete = policy({"Effect": "Allow", "NotAction": "Update:Delete", "Principal": "*", "Resource": "*"})
    name = create(cfn, parameters(Keep="1", Drop="1"), StackPolicyBody=no_delete)
    dropped = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Drop")["StackResourceDetail"]
    cfn.update_stack(StackName=name, TemplateBody=parameters(Keep="2", Drop="1"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    cfn.update_stack(StackName=name, TemplateBody=parameters(Keep="2"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    ssm = sb.client("ssm")
    assert ssm.get_parameter(Name=dropped["PhysicalResourceId"])["Parameter"]["Value"] == "1"


def test_an_empty_policy_restricts_no_update(sb: Sandbox, cfn: Any) -> None:
    """A policy without statements ({}) has nothing to deny: the update completes.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    name = create(cfn, parameters(Param="1"), StackPolicyBody="{}")
    cfn.update_stack(StackName=name, TemplateBody=parameters(Param="2"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert value(sb, cfn, name, "Param") == "2"


def test_executing_a_change_set_enforces_the_stack_policy(sb: Sandbox, cfn: Any) -> None:
    """If you execute a change set on a stack that has a stack policy, CloudFormation enforces the policy.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html
    """
    name = create(cfn, parameters(Param="1"), StackPolicyBody=policy({**ALLOW_ALL, "Effect": "Deny"}))
    change_set = cfn.create_change_set(StackName=name, ChangeSetName="guarded", TemplateBody=parameters(Param="2"))
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert cfn.describe_change_set(ChangeSetName=change_set["Id"])["ExecutionStatus"] == "EXECUTE_FAILED"
    assert value(sb, cfn, name, "Param") == "1"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"Statement": [{"Effect": "Deny", "Action": "Update:*", "Principal": "someone", "Resource": "*"}]}),
        json.dumps({"Statement": [{"Effect": "Deny", "Action": "Delete:*", "Principal": "*", "Resource": "*"}]}),
        json.dumps({"Statement": [{"Effect": "Maybe", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "Bucket"}]}),
    ],
)
def test_a_policy_that_is_not_a_valid_stack_policy_is_refused(body: str) -> None:
    """The Principal element supports only the wild card; Action holds update actions; CloudFormation refuses
    any other policy with "Error validating stack policy: Invalid stack policy" (seen in AWS's responses).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    with pytest.raises(ValidationError) as info:
        stack_policy.validate(body)
    assert info.value.message == "Error validating stack policy: Invalid stack policy"


def test_the_documented_example_policies_are_valid() -> None:
    """Every example policy of the documentation passes validation.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    for body in (
        policy(ALLOW_ALL, {"Effect": "Deny", "Action": "Update:*", "Resource": "LogicalResourceId/ProductionDatabase"}),
        policy({"Effect": "Allow", "NotAction": "Update:Delete", "Resource": "*"}),
        policy({"Effect": "Allow", "Action": "Update:*", "NotResource": "LogicalResourceId/ProductionDatabase"}),
        policy({"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Resource": "*"}),
        policy(
            {
                "Effect": "Deny",
                "Action": "Update:*",
                "Resource": "*",
                "Condition": {"StringLike": {"ResourceType": ["AWS::EC2::*"]}},
            }
        ),
        "{}",
    ):
        stack_policy.validate(body)


def test_set_stack_policy_refuses_an_invalid_policy(cfn: Any) -> None:
    """SetStackPolicy answers ValidationError "Error validating stack policy: Invalid stack policy".

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    name = create(cfn, parameters(Param="1"))
    with pytest.raises(ClientError) as info:
        cfn.set_stack_policy(StackName=name, StackPolicyBody="not json")
    assert info.value.response["Error"]["Message"] == "Error validating stack policy: Invalid stack policy"
