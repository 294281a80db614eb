"""Checks of the module 'Safe updates: change sets, stack policies, rollback' (cfn-safe-updates)."""

from __future__ import annotations

import json
from typing import Any

from ..checks import CheckFailed, lab_check
from ..emulator.cloudformation.stack_policy import denial
from ..sandbox import Sandbox
from . import common

SHOP_TABLE, SHOP_TABLE_V2 = "shop-orders", "shop-orders-v2"


def _stack(cfn: Any, name: str, redo: str) -> dict[str, Any]:
    """The stack, usable again (an update that rolled back counts), or CheckFailed saying why not."""
    return common.live_stack(cfn, name, redo, accept=common.USABLE)


def _operations(cfn: Any, stack_id: str) -> list[list[dict[str, Any]]]:
    """The stack's events, oldest first, cut into operations (each starts with a 'User Initiated' event)."""
    operations: list[list[dict[str, Any]]] = []
    for event in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]):
        if event.get("ResourceStatusReason") == "User Initiated" and event["LogicalResourceId"] == event["StackName"]:
            operations.append([])
        if operations:
            operations[-1].append(event)
    return operations


def _outcome(operation: list[dict[str, Any]]) -> str:
    """The stack's last status in an operation."""
    return [e for e in operation if e["LogicalResourceId"] == e["StackName"]][-1]["ResourceStatus"]


def _refusals(operation: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(logical id, reason) of the resources that failed to update in an operation, oldest first."""
    return [
        (e["LogicalResourceId"], e.get("ResourceStatusReason") or "")
        for e in operation
        if e["ResourceStatus"] == "UPDATE_FAILED"
    ]


def _policy(cfn: Any, name: str) -> dict[str, Any] | None:
    body = cfn.get_stack_policy(StackName=name).get("StackPolicyBody")
    return json.loads(body) if body else None


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _denies_replacement_of(policy: dict[str, Any], logical_id: str) -> bool:
    """Whether a Deny statement names Update:Replace (or Update:*) for the resource (or for every resource)."""
    for s in _statements(policy):
        if s.get("Effect") != "Deny" or "Action" not in s or "Resource" not in s:
            continue
        actions, resources = _as_list(s["Action"]), _as_list(s["Resource"])
        if {"Update:Replace", "Update:*"} & set(actions) and {f"LogicalResourceId/{logical_id}", "*"} & set(resources):
            return True
    return False


@lab_check("cfn-safe-updates.change-sets", title="Two change sets previewed, the in-place one executed")
def change_sets(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    redo = "Run the lab again from the sandbox cell down to the end of '1. Preview with change sets'."
    stack = _stack(cfn, "shop", redo)
    summaries = {s["ChangeSetName"]: s for s in cfn.list_change_sets(StackName=stack["StackId"])["Summaries"]}
    safe = summaries.get("visibility-60")
    if safe is None:
        raise CheckFailed("The stack 'shop' has no change set called visibility-60.", hint=redo)
    if safe["ExecutionStatus"] != "EXECUTE_COMPLETE":
        raise CheckFailed(
            f"The change set visibility-60 is {safe['ExecutionStatus']}: it has not been executed yet.",
            hint="Run the cell that calls cfn.execute_change_set(ChangeSetName=safe).",
        )
    if "rename-table" in summaries:
        raise CheckFailed(
            "The change set rename-table still exists after visibility-60 was executed.",
            hint="Executing a change set deletes the stack's other change sets: run the cells of part 1 in order.",
        )
    changes = cfn.describe_change_set(ChangeSetName=safe["ChangeSetId"])["Changes"]
    replaced = [
        c["ResourceChange"]["LogicalResourceId"] for c in changes if c["ResourceChange"].get("Replacement") != "False"
    ]
    if replaced:
        raise CheckFailed(
            f"The executed change set replaces {', '.join(replaced)}: it was not the in-place change.",
            hint="visibility-60 changes QueueVisibilityTimeout and LogLevel only: run part 1 again from the sandbox "
            "cell.",
        )
    queue_url = common.resources(cfn, stack["StackId"])["OrdersQueue"]["PhysicalResourceId"]
    attributes = sb.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
    timeout = attributes["Attributes"]["VisibilityTimeout"]
    if timeout != "60":
        raise CheckFailed(
            f"The orders queue's visibility timeout is {timeout} seconds, not the 60 the change set set.",
            hint="The update ran through the change set: look at the stack's events of that update.",
        )
    return (
        "visibility-60 was executed (EXECUTE_COMPLETE) and changed the queue in place (visibility timeout 60 s); "
        "rename-table, never executed, is gone with it."
    )


@lab_check("cfn-safe-updates.stack-policy", title="The stack policy stopped the table's replacement until overridden")
def stack_policy(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    redo = "Run the cells of '2. Protect the table with a stack policy' in order."
    stack = _stack(cfn, "shop", redo)
    policy = _policy(cfn, stack["StackId"])
    if policy is None:
        raise CheckFailed("The stack 'shop' has no stack policy.", hint="Run the cell that calls cfn.set_stack_policy.")
    if not _denies_replacement_of(policy, "OrdersTable"):
        raise CheckFailed(
            "The stack policy of 'shop' no longer denies Update:Replace on OrdersTable.",
            hint="An override given with StackPolicyDuringUpdateBody lasts one update; did a cell call "
            "set_stack_policy with another policy? Run part 2 again from its first cell.",
        )
    denied = [
        reason
        for operation in _operations(cfn, stack["StackId"])
        for logical_id, reason in _refusals(operation)
        if logical_id == "OrdersTable" and reason.startswith("Action denied by stack policy")
    ]
    if not denied:
        raise CheckFailed(
            "No update of 'shop' was refused by the stack policy yet.",
            hint="Run the update that renames the table to shop-orders-v2 after setting the policy.",
        )
    table = common.resources(cfn, stack["StackId"])["OrdersTable"]["PhysicalResourceId"]
    if table != SHOP_TABLE_V2:
        raise CheckFailed(
            f"The stack's orders table is still {table}: the planned replacement has not run.",
            hint="Run the cell that updates the stack with StackPolicyDuringUpdateBody=json.dumps(override).",
        )
    dynamodb = sb.client("dynamodb")
    try:
        kept = dynamodb.scan(TableName=SHOP_TABLE, Select="COUNT")["Count"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise CheckFailed(
            f"The old table {SHOP_TABLE} is gone, and the orders in it with it.",
            hint="OrdersTable has UpdateReplacePolicy: Retain in shop.yaml; was the stack created from that template?",
        ) from None
    return (
        f"The policy refused the replacement ({denied[0].split(':')[0]}); the one-off override replaced the table "
        f"with {SHOP_TABLE_V2}, the policy still stands, and {SHOP_TABLE} was kept with its {kept} order(s)."
    )


_SCHEMA_VERSION = "/shop/orders-schema-version"


@lab_check(
    "cfn-safe-updates.rollback-recovery",
    title="A failed update kept and fixed; a failed rollback continued and brought back in step",
)
def rollback_recovery(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    redo_shop = "Run the cells of '4. When an update fails' in order, from the one that creates the invoicing stack."
    try:
        status = cfn.describe_stacks(StackName="shop")["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        status = None
    if status == "UPDATE_FAILED":
        raise CheckFailed(
            "The stack 'shop' is still UPDATE_FAILED: release 2 stopped there, waiting for a way forward or back.",
            hint="Run the cell that updates shop with shop-v2.1.yaml and DisableRollback=True.",
        )
    shop = _stack(cfn, "shop", redo_shop)
    if "UPDATE_FAILED" not in [_outcome(op) for op in _operations(cfn, shop["StackId"])]:
        raise CheckFailed(
            "No update of 'shop' stopped in UPDATE_FAILED yet.",
            hint="Run release 2 again with DisableRollback=True (the cell under 'Keep what succeeded').",
        )
    missing = sorted({"shop-OrdersQueueUrl", "shop-QueueUrl"} - set(common.exports(cfn)))
    if missing:
        raise CheckFailed(
            f"The shop stack does not export {', '.join(missing)}: release 2.1 is not deployed yet.",
            hint="Run the cell that updates shop with shop-v2.1.yaml and DisableRollback=True.",
        )

    redo_schema = "Run the cells of 'When the rollback itself fails' in order, from the one that creates orders-schema."
    try:
        schema = cfn.describe_stacks(StackName="orders-schema")["Stacks"][0]
    except cfn.exceptions.ClientError:
        raise CheckFailed("There is no stack called 'orders-schema' yet.", hint=redo_schema) from None
    if schema["StackStatus"] == "UPDATE_ROLLBACK_FAILED":
        raise CheckFailed(
            "The stack 'orders-schema' is still UPDATE_ROLLBACK_FAILED: its rollback has not finished.",
            hint='SchemaMigration cannot go back: run cfn.continue_update_rollback(StackName="orders-schema", '
            'ResourcesToSkip=["SchemaMigration"]).',
        )
    schema = _stack(cfn, "orders-schema", redo_schema)
    outcomes = [_outcome(op) for op in _operations(cfn, schema["StackId"])]
    if "UPDATE_ROLLBACK_FAILED" not in outcomes:
        raise CheckFailed(
            "The rollback of 'orders-schema' never failed: release 3 has not run yet.",
            hint="Run the cell that updates orders-schema with release 3 (SchemaVersion 2).",
        )
    if "UPDATE_ROLLBACK_COMPLETE" not in outcomes[outcomes.index("UPDATE_ROLLBACK_FAILED") :]:
        raise CheckFailed(
            "The failed rollback of 'orders-schema' was not continued to UPDATE_ROLLBACK_COMPLETE.",
            hint='Run cfn.continue_update_rollback(StackName="orders-schema", ResourcesToSkip=["SchemaMigration"]).',
        )
    ssm = sb.client("ssm")
    try:
        data = ssm.get_parameter(Name=_SCHEMA_VERSION)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise CheckFailed(f"The parameter {_SCHEMA_VERSION} is gone.", hint=redo_schema) from None
    declared = common.parameter(schema, "SchemaVersion")
    if declared != data:
        raise CheckFailed(
            f"The stack says SchemaVersion {declared}, but the data is at schema version {data}.",
            hint="A skipped resource must be brought back in step with the template: run the update with release "
            f"3.1, which sets SchemaVersion to {data}.",
        )
    return (
        "Release 2 stopped in UPDATE_FAILED with its changes kept and release 2.1 finished it; the rollback of "
        f"orders-schema failed, was continued past SchemaMigration, and stack and data agree on version {data}."
    )


_NOT_ALLOWED = "Action not allowed by stack policy"
_DENIED = "Action denied by stack policy"
_DB = "ProductionDatabase"


def _refused_by_policy(operation: list[dict[str, Any]]) -> bool:
    """Whether an event of the operation (a resource's, or the stack's own) gives the stack policy as the reason."""
    return any((e.get("ResourceStatusReason") or "").startswith((_DENIED, _NOT_ALLOWED)) for e in operation)


@lab_check("cfn-safe-updates.payments-policy", title="Exercise: a stack policy for the payments ledger", exercise=True)
def payments_policy(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    redo = "Run the exercise cell, then the deploy cell below it (it recreates the stack and runs the three updates)."
    stack = _stack(cfn, "payments", redo)
    policy = cfn.get_stack_policy(StackName=stack["StackId"]).get("StackPolicyBody")
    if not policy:
        raise CheckFailed("The payments stack has no stack policy.", hint=redo)
    operations = _operations(cfn, stack["StackId"])
    updates = operations[1:]
    if len(updates) != 3:
        raise CheckFailed(
            f"The payments stack has seen {len(updates)} update(s), not the deploy cell's three.", hint=redo
        )
    in_place, replace, delete = updates
    if _outcome(in_place) != "UPDATE_COMPLETE":
        refusals = _refusals(in_place) or [("the stack", "it rolled back")]
        logical_id, reason = refusals[0]
        message = f"The harmless update (capacity and visibility) was refused: {logical_id}: {reason}"
        if reason.startswith(_NOT_ALLOWED):
            hint = (
                "Once a stack has a policy, every update that no statement allows is denied. Add a statement that "
                'allows "Update:*" on "Resource": "*", and keep the Deny for ProductionDatabase.'
            )
        elif reason.startswith(_DENIED) and logical_id == _DB:
            hint = (
                "Your Deny also covers Update:Modify of ProductionDatabase, so even a capacity change is refused. "
                'Deny only ["Update:Replace", "Update:Delete"] on it.'
            )
        elif reason.startswith(_DENIED):
            hint = f'A Deny statement covers {logical_id}; deny only on "LogicalResourceId/{_DB}".'
        else:
            hint = "Read the deploy cell's output: the update failed for a reason other than the stack policy."
        raise CheckFailed(message, hint=hint)
    if _outcome(replace) == "UPDATE_COMPLETE":
        raise CheckFailed(
            "Renaming the ledger table replaced ProductionDatabase: payments now write to a new, empty table.",
            hint=f'Add a statement with "Effect": "Deny", "Action": "Update:Replace" on "LogicalResourceId/{_DB}".',
        )
    if not _refused_by_policy(replace):
        raise CheckFailed(
            "The replacing update failed, but not because of the stack policy.",
            hint="Read the deploy cell's output for attempt 2, then run the deploy cell again.",
        )
    if _outcome(delete) == "UPDATE_COMPLETE":
        raise CheckFailed(
            "The refactored template removed ProductionDatabase from the stack, and CloudFormation deleted the ledger.",
            hint="Removing a resource from the template is the action Update:Delete: deny it on ProductionDatabase "
            "too.",
        )
    if not _refused_by_policy(delete):
        raise CheckFailed(
            "The update that removes the table failed, but not because of the stack policy.",
            hint="Read the deploy cell's output for attempt 3, then run the deploy cell again.",
        )
    # Requirement 1 covers every other resource too: the release did not replace or remove any, so ask the policy.
    for action in ("Update:Replace", "Update:Delete"):
        if denial(policy, action, "SettlementQueue", "AWS::SQS::Queue"):
            raise CheckFailed(
                f"Your policy would also refuse {action} on SettlementQueue, which must stay free to change.",
                hint='Only ProductionDatabase is protected: allow "Update:*" on "Resource": "*" and deny '
                "Update:Replace and Update:Delete on the ledger alone.",
            )
    table = common.resources(cfn, stack["StackId"]).get(_DB, {}).get("PhysicalResourceId")
    return (
        "Capacity and visibility changed in place; the rename and the removal of ProductionDatabase were refused "
        f"by the stack policy, and the ledger {table} is still the stack's."
    )
