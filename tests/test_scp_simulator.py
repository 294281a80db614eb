"""The SCP evaluator (labs_support.scp_simulator) decides as AWS documents; each test names the behaviour it proves.

The sandbox stores SCPs but does not enforce them, so the notebook asks ls.scp_decision what AWS would decide.
AWS pages:
- SCPs (who is affected): https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
- Evaluation: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
- Syntax: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html
- Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any

import pytest

from labs_support import scp_decision
from labs_support.sandbox import Sandbox

_names = count()


@pytest.fixture(scope="module")
def org(sb: Sandbox) -> Any:
    client = sb.client("organizations")
    client.enable_policy_type(RootId=sb.organization["root"], PolicyType="SERVICE_CONTROL_POLICY")
    return client


@contextmanager
def attached(org: Any, targets: list[str], *statements: dict[str, Any]) -> Iterator[str]:
    """An SCP with these statements, attached to the targets for the duration of the block."""
    name = f"test-scp-{next(_names)}"
    content = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    policy_id = org.create_policy(Name=name, Description="test", Type="SERVICE_CONTROL_POLICY", Content=content)[
        "Policy"
    ]["PolicySummary"]["Id"]
    for target in targets:
        org.attach_policy(PolicyId=policy_id, TargetId=target)
    try:
        yield name
    finally:
        for target in targets:
            org.detach_policy(PolicyId=policy_id, TargetId=target)
        org.delete_policy(PolicyId=policy_id)


@contextmanager
def without_full_access(org: Any, target: str) -> Iterator[None]:
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=target)
    try:
        yield
    finally:
        org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=target)


def deny(action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": "*", **extra}


def role(sb: Sandbox, name: str, account: str = "dev") -> str:
    return f"arn:aws:iam::{sb.account_id(account)}:role/{name}"


REGION_DENY = {
    "Effect": "Deny",
    "NotAction": ["iam:*", "sts:*", "organizations:*"],
    "Resource": "*",
    "Condition": {
        "StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
        "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/BreakGlass"]},
    },
}


def test_scps_do_not_apply_until_the_scp_policy_type_is_enabled_in_the_root(sb: Sandbox) -> None:
    """Enable a policy type before its policies take effect:
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_enable-disable.html"""
    root = sb.client("organizations").list_roots()["Roots"][0]
    if root["PolicyTypes"]:
        pytest.skip("the module's sandbox already enabled SCPs")
    decision = scp_decision(sb, "dev", "s3:CreateBucket", "ap-southeast-2", role(sb, "developer"))
    assert decision.allowed and "not enabled" in decision.decision


def test_full_aws_access_everywhere_allows_every_action(sb: Sandbox, org: Any) -> None:
    """FullAWSAccess is attached to the root, every OU and every account: orgs_manage_policies_scps_evaluation.html"""
    decision = scp_decision(sb, "dev", "dynamodb:CreateTable", "ap-southeast-2", role(sb, "developer"))
    assert decision.allowed and decision.decision == "allowed by SCPs"
    assert [(lv.kind, lv.name) for lv in decision.path] == [
        ("root", "Root"),
        ("OU", "Workloads-NonProd"),
        ("account", "dev"),
    ]


def test_the_management_account_is_never_affected_by_scps(sb: Sandbox, org: Any) -> None:
    """SCPs don't affect users or roles in the management account: orgs_manage_policies_scps.html"""
    with attached(org, [sb.organization["root"], sb.account_id()], deny("*")):
        decision = scp_decision(sb, "management", "s3:CreateBucket", "us-east-1", role(sb, "admin", "management"))
    assert decision.allowed and "management account" in decision.decision


def test_service_linked_roles_are_never_affected_by_scps(sb: Sandbox, org: Any) -> None:
    """Actions performed by service-linked roles are not restricted by SCPs: orgs_manage_policies_scps.html"""
    linked = role(sb, "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    with attached(org, [sb.organization["root"]], deny("*")):
        assert scp_decision(sb, "dev", "ec2:RunInstances", "us-east-1", linked).allowed
        assert not scp_decision(sb, "dev", "ec2:RunInstances", "us-east-1", role(sb, "developer")).allowed


def test_an_allow_is_needed_at_every_level_from_the_root_to_the_account(sb: Sandbox, org: Any) -> None:
    """An action must be allowed by an SCP at the root, each OU and the account:
    orgs_manage_policies_scps_evaluation.html"""
    ou = sb.organization["ous"]["Workloads-NonProd"]
    with attached(org, [ou], deny("organizations:LeaveOrganization")), without_full_access(org, ou):
        decision = scp_decision(sb, "dev", "s3:PutObject", "us-east-1", role(sb, "developer"))
    assert not decision.allowed
    assert decision.decision == "denied: no SCP at OU Workloads-NonProd allows it"


def test_an_allow_list_at_an_ou_leaves_only_the_listed_services(sb: Sandbox, org: Any) -> None:
    """Allow-list strategy: replace FullAWSAccess with SCPs that allow chosen services:
    orgs_manage_policies_scps_evaluation.html"""
    ou = sb.organization["ous"]["Workloads-Prod"]
    allow = {"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}
    with attached(org, [ou], allow), without_full_access(org, ou):
        assert scp_decision(sb, "prod", "s3:PutObject", "us-east-1", role(sb, "dev", "prod")).allowed
        assert not scp_decision(sb, "prod", "dynamodb:PutItem", "us-east-1", role(sb, "dev", "prod")).allowed


def test_a_deny_at_any_level_wins_and_names_the_policy_and_its_target(sb: Sandbox, org: Any) -> None:
    """An explicit Deny in any SCP on the path overrides every Allow: orgs_manage_policies_scps_evaluation.html"""
    with attached(org, [sb.account_id("dev")], deny("s3:DeleteBucket")) as name:
        decision = scp_decision(sb, "dev", "s3:DeleteBucket", "us-east-1", role(sb, "developer"))
    assert decision.decision == f"denied: explicit deny in {name} attached to account dev"


def test_a_lower_level_cannot_give_back_what_a_higher_level_denies(sb: Sandbox, org: Any) -> None:
    """A child's SCP cannot grant what a parent's SCP filters out: orgs_manage_policies_scps_evaluation.html"""
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    with (
        attached(org, [sb.organization["root"]], deny("ec2:*")) as name,
        attached(org, [sb.account_id("dev")], allow_all),
    ):
        decision = scp_decision(sb, "dev", "ec2:RunInstances", "us-east-1", role(sb, "developer"))
    assert decision.decision == f"denied: explicit deny in {name} attached to the root"


def test_actions_match_case_insensitively_with_star_and_question_mark_wildcards(sb: Sandbox, org: Any) -> None:
    """Action names are case-insensitive and may use * and ?: orgs_manage_policies_scps_syntax.html"""
    with attached(org, [sb.account_id("dev")], deny(["S3:Delete*", "ec2:TerminateInstance?"])):
        for action in ("s3:deletebucket", "s3:DeleteObject", "ec2:TerminateInstances"):
            assert not scp_decision(sb, "dev", action, "us-east-1", role(sb, "developer")).allowed, action
        assert scp_decision(sb, "dev", "s3:PutObject", "us-east-1", role(sb, "developer")).allowed


def test_not_action_in_a_deny_exempts_the_listed_actions(sb: Sandbox, org: Any) -> None:
    """A Deny with NotAction denies every action except those listed: orgs_manage_policies_scps_examples_general.html"""
    with attached(org, [sb.organization["ous"]["Workloads-NonProd"]], REGION_DENY):
        assert scp_decision(sb, "dev", "iam:CreateRole", "ap-southeast-2", role(sb, "developer")).allowed
        assert scp_decision(sb, "dev", "sts:AssumeRole", "ap-southeast-2", role(sb, "developer")).allowed
        assert not scp_decision(sb, "dev", "s3:CreateBucket", "ap-southeast-2", role(sb, "developer")).allowed


def test_string_not_equals_on_requested_region_denies_only_outside_the_listed_regions(sb: Sandbox, org: Any) -> None:
    """StringNotEquals holds when the value matches none of the listed values:
    reference_policies_elements_condition_operators.html"""
    with attached(org, [sb.organization["ous"]["Workloads-NonProd"]], REGION_DENY):
        assert scp_decision(sb, "dev", "s3:CreateBucket", "eu-west-1", role(sb, "developer")).allowed
        assert not scp_decision(sb, "dev", "s3:CreateBucket", "sa-east-1", role(sb, "developer")).allowed


def test_arn_not_like_on_principal_arn_exempts_the_named_role_in_any_account(sb: Sandbox, org: Any) -> None:
    """All conditions of a statement must hold (logical AND); ArnNotLike fails for the exempted role, so the Deny
    does not apply: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html"""
    with attached(org, [sb.organization["ous"]["Workloads-NonProd"]], REGION_DENY):
        assert scp_decision(sb, "dev", "s3:CreateBucket", "sa-east-1", role(sb, "BreakGlass")).allowed
        assert scp_decision(sb, "test", "s3:CreateBucket", "sa-east-1", role(sb, "BreakGlass", "test")).allowed
        assert not scp_decision(sb, "dev", "s3:CreateBucket", "sa-east-1", role(sb, "BreakGlassNot")).allowed


def test_arn_like_compares_each_of_the_six_arn_parts_separately(sb: Sandbox, org: Any) -> None:
    """ArnLike / ArnEquals check each colon-delimited part on its own, with wildcards:
    reference_policies_elements_condition_operators.html"""
    deny_admins = deny("s3:*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"}})
    with attached(org, [sb.account_id("dev")], deny_admins):
        assert not scp_decision(sb, "dev", "s3:PutObject", "us-east-1", role(sb, "admin-ops")).allowed
        assert scp_decision(sb, "dev", "s3:PutObject", "us-east-1", role(sb, "ops-admin")).allowed
        user = f"arn:aws:iam::{sb.account_id('dev')}:user/admin-ops"
        assert scp_decision(sb, "dev", "s3:PutObject", "us-east-1", user).allowed


def test_string_equals_values_are_case_sensitive_but_condition_key_names_are_not(sb: Sandbox, org: Any) -> None:
    """StringEquals is case-sensitive; condition key names are not:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"""
    statement = deny("s3:*", Condition={"StringEquals": {"AWS:REQUESTEDREGION": "ap-southeast-2"}})
    with attached(org, [sb.account_id("dev")], statement):
        assert not scp_decision(sb, "dev", "s3:PutObject", "ap-southeast-2", role(sb, "developer")).allowed
        assert scp_decision(sb, "dev", "s3:PutObject", "AP-SOUTHEAST-2", role(sb, "developer")).allowed


def test_string_like_matches_values_with_wildcards(sb: Sandbox, org: Any) -> None:
    """StringLike: case-sensitive matching with * and ?: reference_policies_elements_condition_operators.html"""
    statement = deny("s3:*", Condition={"StringLike": {"aws:RequestedRegion": "ap-*"}})
    with attached(org, [sb.account_id("dev")], statement):
        assert not scp_decision(sb, "dev", "s3:PutObject", "ap-northeast-1", role(sb, "developer")).allowed
        assert scp_decision(sb, "dev", "s3:PutObject", "eu-west-1", role(sb, "developer")).allowed


def test_a_condition_on_a_value_not_given_counts_as_not_matching_and_the_decision_says_so(
    sb: Sandbox, org: Any
) -> None:
    """AWS always knows a request's Region and principal; the evaluator, told neither, says what it assumed."""
    with attached(org, [sb.organization["ous"]["Workloads-NonProd"]], REGION_DENY):
        decision = scp_decision(sb, "dev", "s3:CreateBucket", "sa-east-1")
    assert decision.allowed
    assert any("aws:PrincipalARN" in note and "not matching" in note for note in decision.notes)


def test_statements_that_name_specific_resources_are_not_evaluated_and_the_decision_says_so(
    sb: Sandbox, org: Any
) -> None:
    """Only Resource "*" is evaluated (the request's resource is not modelled)."""
    statement = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::audit-logs/*"}
    with attached(org, [sb.account_id("dev")], statement):
        decision = scp_decision(sb, "dev", "s3:DeleteObject", "us-east-1", role(sb, "developer"))
    assert decision.allowed
    assert any("resources other than *" in note for note in decision.notes)


def test_the_decision_reads_as_text_and_as_html(sb: Sandbox, org: Any) -> None:
    with attached(org, [sb.account_id("dev")], deny("s3:DeleteBucket")) as name:
        decision = scp_decision(sb, "dev", "s3:DeleteBucket", "us-east-1", role(sb, "developer"))
    text, markup = repr(decision), decision._repr_html_()
    assert text.splitlines()[0].startswith("s3:DeleteBucket in us-east-1 by arn:aws:iam::")
    assert f"{name}: denies" in text and text.endswith(decision.decision)
    assert "<table>" in markup and "Workloads-NonProd" in markup and "denied: explicit deny" in markup
