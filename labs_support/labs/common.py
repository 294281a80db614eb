"""Helpers the lab checks of several modules share: reading stacks the way a learner would."""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# Statuses in which a stack is usable again (an update that rolled back leaves UPDATE_ROLLBACK_COMPLETE).
USABLE = DONE | {"UPDATE_ROLLBACK_COMPLETE"}


def live_stack(cfn: Any, name: str, deploy_hint: str, accept: set[str] = DONE) -> dict[str, Any]:
    """The stack, or CheckFailed saying it is missing or not in one of the `accept`ed statuses (and why)."""
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except cfn.exceptions.ClientError:
        raise CheckFailed(f"There is no stack called '{name}' yet.", hint=deploy_hint) from None
    if stack["StackStatus"] not in accept:
        failures = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in cfn.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED") or "ROLLBACK_IN_PROGRESS" in e["ResourceStatus"]
        ]
        detail = f" The events say: {failures[0]}" if failures else ""
        wanted = " or ".join(sorted(accept))
        raise CheckFailed(f"Stack '{name}' is {stack['StackStatus']}, not {wanted}.{detail}", hint=deploy_hint)
    return stack


def parameter(stack: dict[str, Any], key: str) -> str | None:
    return next((p["ParameterValue"] for p in stack.get("Parameters", []) if p["ParameterKey"] == key), None)


def exports(cfn: Any) -> dict[str, str]:
    return {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}


def resources(cfn: Any, stack_id: str) -> dict[str, dict[str, Any]]:
    return {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]}
