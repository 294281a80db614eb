"""Checks of the module 'StackSets across accounts and Regions' (stacksets)."""

from __future__ import annotations

import json
from typing import Any

from ..checks import CheckFailed, lab_check
from ..emulator.cloudformation.stackset_rollout import Preferences
from ..sandbox import Sandbox

SET = "security-baseline"
REGIONS = ("us-east-1", "eu-west-1")
LAB_ACCOUNTS = ("dev", "test", "prod")
ALL_MEMBERS = ("log-archive", "audit", "dev", "test", "prod")
RETENTION = "/org/security-baseline/alert-retention-days"


def _instances(cfn: Any) -> dict[tuple[str, str], dict[str, Any]]:
    try:
        rows = cfn.list_stack_instances(StackSetName=SET)["Summaries"]
    except cfn.exceptions.StackSetNotFoundException:
        raise CheckFailed(
            f"There is no stack set called {SET}.", hint="Run the lab cells from the sandbox cell down."
        ) from None
    return {(r["Account"], r["Region"]): r for r in rows}


def _trusts(role: dict[str, Any], principal_key: str, value: str) -> bool:
    doc = role["AssumeRolePolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    for statement in doc.get("Statement", []):
        principals = statement.get("Principal", {}).get(principal_key, [])
        principals = principals if isinstance(principals, list) else [principals]
        if statement.get("Effect") == "Allow" and value in principals:
            return True
    return False


@lab_check("stacksets.permissions", title="Self-managed permissions: administration and execution roles")
def check_permissions(sb: Sandbox) -> str:
    iam = sb.client("iam")
    try:
        admin = iam.get_role(RoleName="AWSCloudFormationStackSetAdministrationRole")["Role"]
    except iam.exceptions.NoSuchEntityException:
        raise CheckFailed(
            "The management account has no AWSCloudFormationStackSetAdministrationRole.",
            hint="Create the stack stackset-admin-role from templates/stacksets/admin-role.yaml (part 1).",
        ) from None
    if not _trusts(admin, "Service", "cloudformation.amazonaws.com"):
        raise CheckFailed("The administration role does not trust cloudformation.amazonaws.com.")
    admin_arn = admin["Arn"]
    for name in LAB_ACCOUNTS:
        member = sb.client("iam", account=name)
        try:
            role = member.get_role(RoleName="AWSCloudFormationStackSetExecutionRole")["Role"]
        except member.exceptions.NoSuchEntityException:
            raise CheckFailed(
                f"The {name} account has no AWSCloudFormationStackSetExecutionRole.",
                hint="Create the stack stackset-execution-role in each target account (part 1).",
            ) from None
        if not _trusts(role, "AWS", admin_arn):
            raise CheckFailed(f"The execution role in {name} does not trust {admin_arn}.")
    return "The administration role trusts CloudFormation; dev, test and prod trust the administration role."


@lab_check("stacksets.baseline", title="The security baseline runs in 3 accounts x 2 Regions, one IAM role each")
def check_baseline(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    instances = _instances(cfn)
    for name in LAB_ACCOUNTS:
        for region in REGIONS:
            row = instances.get((sb.accounts[name], region))
            if row is None or row["Status"] != "CURRENT":
                state = "missing" if row is None else f"{row['Status']} ({row.get('StatusReason', 'no reason')})"
                raise CheckFailed(
                    f"The stack instance for {name} in {region} is {state}.",
                    hint="Update the stack set with templates/stacksets/security-baseline.yaml (part 3).",
                )
        roles = [r["RoleName"] for r in sb.client("iam", account=name).list_roles()["Roles"]]
        if roles.count("security-audit") != 1:
            raise CheckFailed(f"{name} should have exactly one security-audit role.")
    return "6 stack instances are CURRENT, and each account has one security-audit role (created in us-east-1)."


def _gate_operation(cfn: Any, test_account: str) -> dict[str, Any] | None:
    """The UPDATE operation in which the test account's account gate failed."""
    for summary in cfn.list_stack_set_operations(StackSetName=SET)["Summaries"]:
        if summary["Action"] != "UPDATE":
            continue
        results = cfn.list_stack_set_operation_results(StackSetName=SET, OperationId=summary["OperationId"])
        rows = results["Summaries"]
        if any(r["Account"] == test_account and r.get("AccountGateResult", {}).get("Status") == "FAILED" for r in rows):
            operation = cfn.describe_stack_set_operation(StackSetName=SET, OperationId=summary["OperationId"])
            return {"operation": operation["StackSetOperation"], "results": rows}
    return None


def _concurrency_and_tolerance(preferences: dict[str, Any], accounts: int) -> tuple[int, int]:
    """Accounts at once and failures tolerated per Region, by AWS's rounding rules (stackset_rollout.py)."""
    rules = Preferences.from_api(preferences)
    return rules.max_concurrent(accounts), rules.tolerance(accounts)


@lab_check("stacksets.organization-rollout", title="Exercise: the baseline in every member account", exercise=True)
def check_rollout(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    instances = _instances(cfn)
    for name in ALL_MEMBERS:
        for region in REGIONS:
            if (sb.accounts[name], region) not in instances:
                raise CheckFailed(
                    f"The stack set has no stack instance for {name} in {region}.",
                    hint="Add the two security accounts with create_stack_instances (both Regions).",
                )
    gated = _gate_operation(cfn, sb.accounts["test"])
    if gated is None:
        raise CheckFailed(
            "No update of the stack set reached the test account's account gate.",
            hint="Update the stack set (AlertRetentionDays 30) across the organization with the preferences asked for.",
        )
    preferences, rows = gated["operation"]["OperationPreferences"], gated["results"]
    regions_per_op = {r["Region"] for r in rows}
    accounts = len({r["Account"] for r in rows})
    concurrent, tolerance = _concurrency_and_tolerance(preferences, accounts)
    if (preferences.get("RegionOrder") or [None])[0] != "us-east-1" or preferences.get(
        "RegionConcurrencyType"
    ) == "PARALLEL":
        raise CheckFailed(
            "The organization-wide update did not run us-east-1 first, one Region at a time.",
            hint="Give RegionOrder ['us-east-1', 'eu-west-1'] (SEQUENTIAL is the default).",
        )
    if concurrent != 2 or tolerance != 1:
        raise CheckFailed(
            f"The organization-wide update acted on up to {concurrent} account(s) at once and tolerated {tolerance} "
            "failed account(s) per Region.",
            hint="Two accounts at a time, and one failure tolerated per Region: MaxConcurrentCount 2, "
            "FailureToleranceCount 1 (or percentages that round to the same numbers).",
        )
    if any(r["Status"] == "CANCELLED" for r in rows) or regions_per_op != set(REGIONS):
        raise CheckFailed("The organization-wide update stopped before it reached every account and Region.")
    final = _instances(cfn)
    for (account, region), row in final.items():
        if row["Status"] != "CURRENT":
            name = next((k for k, v in sb.accounts.items() if v == account), account)
            raise CheckFailed(
                f"The stack instance for {name} in {region} is {row['Status']}.",
                hint="Once test's alarm is resolved, run the update again for the test account only "
                "(update_stack_instances or update_stack_set with Accounts).",
            )
    for name in ALL_MEMBERS:
        for region in REGIONS:
            ssm = sb.client("ssm", account=name, region=region)
            value = ssm.get_parameter(Name=RETENTION)["Parameter"]["Value"]
            expected = "90" if name == "prod" else "30"
            if value != expected:
                raise CheckFailed(
                    f"{RETENTION} is {value} in {name} ({region}); it should be {expected}.",
                    hint="prod keeps its 90-day override; everyone else takes the stack set's new value 30.",
                )
    return (
        "10 stack instances are CURRENT; the update went us-east-1 first, two accounts at a time, and carried on past "
        "test's failed account gate; test was retried alone; prod keeps 90 days."
    )
