"""Fidelity tests for service-managed StackSets with AWS Organizations, named after the AWS behaviour.

AWS pages:
- Activate trusted access: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-activate-trusted-access.html
- Automatic deployments: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
- Delegated administrator: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
- Service-managed targets: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import labs_support
from labs_support import wait_for_stack_set_operation
from labs_support.sandbox import Sandbox
from tests.test_stacksets import TEMPLATE, api_error, level, run

PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = labs_support.start_sandbox()
    sandbox.lab_clock_speed = 60_000
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def org(sb: Sandbox) -> Any:
    return sb.client("organizations")


def ou(sb: Sandbox, name: str) -> str:
    return sb.organization["ous"][name]


def test_service_managed_needs_trusted_access_with_organizations(sb: Sandbox, cfn: Any) -> None:
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    with api_error("ValidationError", "You must enable organizations access to operate a service managed stack set"):
        cfn.create_stack_set(StackSetName="guardrails", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED")
    cfn.activate_organizations_access()
    assert cfn.describe_organizations_access()["Status"] == "ENABLED"
    enabled = sb.client("organizations").list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert PRINCIPAL in [p["ServicePrincipal"] for p in enabled]


def test_only_the_management_account_or_a_delegated_admin_may_operate_service_managed_sets(
    sb: Sandbox, cfn: Any, org: Any
) -> None:
    cfn.activate_organizations_access()
    member = sb.client("cloudformation", account="audit")
    with api_error("ValidationError", "You must be the master or delegated admin account"):
        member.create_stack_set(StackSetName="from-audit", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED")
    with api_error("ValidationError", "not a delegated administrator"):
        member.create_stack_set(
            StackSetName="from-audit",
            TemplateBody=TEMPLATE,
            PermissionModel="SERVICE_MANAGED",
            CallAs="DELEGATED_ADMIN",
        )
    org.register_delegated_administrator(AccountId=sb.accounts["audit"], ServicePrincipal=PRINCIPAL)
    member.create_stack_set(
        StackSetName="from-audit", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED", CallAs="DELEGATED_ADMIN"
    )
    op = run(
        member,
        "from-audit",
        "create_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [ou(sb, "Workloads-NonProd")]},
        Regions=["us-east-1"],
        CallAs="DELEGATED_ADMIN",
    )
    assert op["Status"] == "SUCCEEDED"
    run(
        member,
        "from-audit",
        "delete_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [ou(sb, "Workloads-NonProd")]},
        Regions=["us-east-1"],
        RetainStacks=False,
        CallAs="DELEGATED_ADMIN",
        OperationPreferences={"MaxConcurrentPercentage": 100},
    )


def test_ou_targets_reach_every_account_below_the_ou_but_never_the_management_account(sb: Sandbox, cfn: Any) -> None:
    cfn.activate_organizations_access()
    cfn.create_stack_set(StackSetName="org-wide", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED")
    root = sb.organization["root"]
    op = run(
        cfn,
        "org-wide",
        "create_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [root]},
        Regions=["us-east-1"],
        OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100},
    )
    assert op["Status"] == "SUCCEEDED"
    accounts = {i["Account"] for i in cfn.list_stack_instances(StackSetName="org-wide")["Summaries"]}
    members = {v for k, v in sb.accounts.items() if k != "management"}
    assert accounts == members
    assert {i["OrganizationalUnitId"] for i in cfn.list_stack_instances(StackSetName="org-wide")["Summaries"]} == {root}
    run(
        cfn,
        "org-wide",
        "delete_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [root]},
        Regions=["us-east-1"],
        RetainStacks=False,
        OperationPreferences={"MaxConcurrentPercentage": 100},
    )


def test_account_filter_difference_leaves_out_the_named_accounts(sb: Sandbox, cfn: Any) -> None:
    cfn.activate_organizations_access()
    cfn.create_stack_set(StackSetName="not-prod", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED")
    targets = {
        "OrganizationalUnitIds": [ou(sb, "Workloads-NonProd")],
        "Accounts": [sb.accounts["test"]],
        "AccountFilterType": "DIFFERENCE",
    }
    run(cfn, "not-prod", "create_stack_instances", DeploymentTargets=targets, Regions=["us-east-1"])
    accounts = {i["Account"] for i in cfn.list_stack_instances(StackSetName="not-prod")["Summaries"]}
    assert accounts == {sb.accounts["dev"]}
    run(
        cfn,
        "not-prod",
        "delete_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [ou(sb, "Workloads-NonProd")]},
        Regions=["us-east-1"],
        RetainStacks=False,
    )


def _settle(cfn: Any, name: str) -> None:
    for summary in cfn.list_stack_set_operations(StackSetName=name)["Summaries"]:
        wait_for_stack_set_operation(cfn, name, summary["OperationId"])


def test_automatic_deployment_follows_accounts_into_and_out_of_a_targeted_ou(sb: Sandbox, cfn: Any, org: Any) -> None:
    cfn.activate_organizations_access()
    cfn.create_stack_set(
        StackSetName="auto",
        TemplateBody=TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    workloads, security = ou(sb, "Workloads-NonProd"), ou(sb, "Security")
    run(
        cfn,
        "auto",
        "create_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [workloads]},
        Regions=["us-east-1", "eu-west-1"],
        OperationPreferences={"MaxConcurrentPercentage": 100},
    )
    targets = cfn.list_stack_set_auto_deployment_targets(StackSetName="auto")["Summaries"]
    assert targets == [{"OrganizationalUnitId": workloads, "Regions": ["us-east-1", "eu-west-1"]}]
    # a new account joins the targeted OU: it gets the instances in both Regions
    new = org.create_account(Email="sandbox@example.com", AccountName="sandbox")["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=new, SourceParentId=sb.organization["root"], DestinationParentId=workloads)
    _settle(cfn, "auto")
    mine = [i for i in cfn.list_stack_instances(StackSetName="auto")["Summaries"] if i["Account"] == new]
    assert sorted(i["Region"] for i in mine) == ["eu-west-1", "us-east-1"]
    assert {i["Status"] for i in mine} == {"CURRENT"}
    assert level(sb, new) == "standard"
    # it leaves the OU: the instances and (RetainStacksOnAccountRemoval false) the stacks go
    org.move_account(AccountId=new, SourceParentId=workloads, DestinationParentId=security)
    _settle(cfn, "auto")
    assert not [i for i in cfn.list_stack_instances(StackSetName="auto")["Summaries"] if i["Account"] == new]
    with pytest.raises(Exception, match="ParameterNotFound"):
        level(sb, new)


def test_retain_stacks_on_account_removal_keeps_the_stacks_of_a_leaving_account(
    sb: Sandbox, cfn: Any, org: Any
) -> None:
    cfn.activate_organizations_access()
    cfn.create_stack_set(
        StackSetName="keep",
        TemplateBody=TEMPLATE.replace("/baseline/level", "/baseline/kept"),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": True},
    )
    workloads, security = ou(sb, "Workloads-NonProd"), ou(sb, "Security")
    run(
        cfn,
        "keep",
        "create_stack_instances",
        DeploymentTargets={"OrganizationalUnitIds": [workloads]},
        Regions=["us-east-1"],
        OperationPreferences={"MaxConcurrentPercentage": 100},
    )
    org.move_account(AccountId=sb.accounts["test"], SourceParentId=workloads, DestinationParentId=security)
    _settle(cfn, "keep")
    try:
        accounts = {i["Account"] for i in cfn.list_stack_instances(StackSetName="keep")["Summaries"]}
        assert sb.accounts["test"] not in accounts
        ssm = sb.client("ssm", account="test")
        assert ssm.get_parameter(Name="/baseline/kept")["Parameter"]["Value"] == "standard"
    finally:
        org.move_account(AccountId=sb.accounts["test"], SourceParentId=security, DestinationParentId=workloads)
        _settle(cfn, "keep")
