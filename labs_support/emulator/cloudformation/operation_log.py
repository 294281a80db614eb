"""Stack operations as CloudFormation numbers them, and the DescribeEvents view of a stack's history.

Every action on a stack (create, update, delete, an automatic rollback, RollbackStack, ContinueUpdateRollback,
change set creation) is an *operation* with its own OperationId; every stack event carries the id of the
operation that produced it, and DescribeStacks lists the latest operations (LastOperations). DescribeEvents
groups a stack's history by operation: a STACK_EVENT record where each operation starts and ends, a PROGRESS
record per stack event (PROVISIONING_ERROR for a failure), and a VALIDATION_ERROR record per finding of
pre-deployment validation, which DescribeStackEvents never shows.

Operations are recognised from the stack's status changes, so every path of the engine is numbered alike.
Sources: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeEvents.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events-by-operation.html, and a real
AWS capture of a failed CreateStack (see .research/pre-deployment-validation.md in the repository history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.moto_api._internal import mock_random

from .. import clock

# The status that starts each kind of operation.
_STARTS = {
    "CREATE_IN_PROGRESS": "CREATE_STACK",
    "UPDATE_IN_PROGRESS": "UPDATE_STACK",
    "DELETE_IN_PROGRESS": "DELETE_STACK",
    "ROLLBACK_IN_PROGRESS": "ROLLBACK",
    "UPDATE_ROLLBACK_IN_PROGRESS": "ROLLBACK",
}
# The statuses an operation of each kind succeeds with; any other final status means it failed.
_SUCCEEDS = {
    "CREATE_STACK": {"CREATE_COMPLETE"},
    "UPDATE_STACK": {"UPDATE_COMPLETE"},
    "DELETE_STACK": {"DELETE_COMPLETE"},
    "ROLLBACK": {"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"},
    "CONTINUE_ROLLBACK": {"UPDATE_ROLLBACK_COMPLETE"},
}
# Statuses inside an operation that neither start nor end it.
_CONTINUING = {"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"}


@dataclass
class Operation:
    """One stack operation: its id, type, times and outcome; `trigger` is the operation an automatic rollback
    follows."""

    operation_id: str
    operation_type: str
    started: datetime
    ended: datetime | None = None
    status: str = "IN_PROGRESS"
    trigger: Operation | None = None

    def entry(self) -> dict[str, str]:
        return {"OperationType": self.operation_type, "OperationId": self.operation_id}


def new_operation_id() -> str:
    return str(mock_random.uuid4())


def stack_event_record(stack_id: str, operation: Operation, ending: bool) -> dict[str, Any]:
    """The STACK_EVENT record of an operation's start or end."""
    record: dict[str, Any] = {
        "EventId": new_operation_id(),
        "StackId": stack_id,
        "OperationId": operation.operation_id,
        "OperationType": operation.operation_type,
        "OperationStatus": operation.status if ending else "IN_PROGRESS",
        "EventType": "STACK_EVENT",
        "Timestamp": operation.ended if ending else operation.started,
        "StartTime": operation.started,
    }
    if ending:
        record["EndTime"] = operation.ended
    return record


@dataclass
class OperationLog:
    """A stack's operations and its DescribeEvents records (oldest first)."""

    stack_id: str
    operations: list[Operation] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)  # dicts, and stack events turned into records on demand
    user_initiated: Operation | None = None  # the latest operation a request started (its id is in the response)

    @property
    def current(self) -> Operation | None:
        return self.operations[-1] if self.operations else None

    def before_status(self, status: str, previous: str, reason: str | None) -> None:
        """A stack status is about to be recorded: start an operation if this status starts one."""
        kind = _STARTS.get(status)
        if kind is None:
            return
        latest = self.current
        if latest is not None and latest.status == "IN_PROGRESS":
            self._end(latest, "FAILED")  # an automatic rollback (or OnFailure DELETE) ends the failed operation
        if kind == "ROLLBACK" and previous == "UPDATE_ROLLBACK_FAILED":
            kind = "CONTINUE_ROLLBACK"
        # an automatic rollback follows the operation that failed; RollbackStack is an operation of its own
        automatic = kind == "ROLLBACK" and reason != "User Initiated"
        trigger = latest if automatic and latest is not None and latest.status == "FAILED" else None
        operation = Operation(new_operation_id(), kind, clock.now(), trigger=trigger)
        self.operations.append(operation)
        if reason == "User Initiated":
            self.user_initiated = operation
        self.records.append(stack_event_record(self.stack_id, operation, ending=False))

    def after_status(self, status: str) -> None:
        """A stack status was recorded: end the running operation if the status is final."""
        running = self.current
        if running is None or running.status != "IN_PROGRESS" or status in _CONTINUING or status in _STARTS:
            return
        self._end(running, "SUCCEEDED" if status in _SUCCEEDS[running.operation_type] else "FAILED")

    def _end(self, operation: Operation, status: str) -> None:
        operation.status, operation.ended = status, clock.now()
        self.records.append(stack_event_record(self.stack_id, operation, ending=True))

    def add_event(self, event: Any) -> None:
        """A stack event (stack.StackEvent), which DescribeEvents shows as a PROGRESS or PROVISIONING_ERROR
        record; the record is built when it is asked for."""
        self.records.append(_EventRecord(event, new_operation_id()))

    def add_validation(self, finding_records: list[dict[str, Any]]) -> None:
        self.records.extend(finding_records)

    def last_operations(self) -> list[dict[str, str]]:
        """DescribeStacks' LastOperations: the latest operation, and what an automatic rollback followed."""
        latest = self.current
        if latest is None:
            return []
        entries = [latest.entry()]
        if latest.trigger is not None:
            entries.append(latest.trigger.entry())
        return entries


def validation_record(
    stack_id: str, operation_id: str, operation_type: str, finding: Any, timestamp: datetime | None = None
) -> dict[str, Any]:
    """A VALIDATION_ERROR record of a pre-deployment validation finding (early_validation.Finding)."""
    return {
        "EventId": new_operation_id(),
        "StackId": stack_id,
        "OperationId": operation_id,
        "OperationType": operation_type,
        "EventType": "VALIDATION_ERROR",
        "LogicalResourceId": finding.logical_id,
        "PhysicalResourceId": "",
        "ResourceType": finding.resource_type,
        "Timestamp": timestamp or clock.now(),
        "ValidationFailureMode": finding.mode,
        "ValidationName": finding.name,
        "ValidationStatus": "FAILED",
        "ValidationStatusReason": finding.reason,
        "ValidationPath": finding.path,
    }


@dataclass(frozen=True)
class _EventRecord:
    event: Any  # stack.StackEvent
    event_id: str

    def to_record(self) -> dict[str, Any]:
        shown = self.event.to_api()
        record = {k: v for k, v in shown.items() if k not in ("EventId", "StackName", "ResourceProperties")}
        record["EventId"] = self.event_id
        # the wire value AWS sends for progress records is "PROGRESS" (the API model says PROGRESS_EVENT)
        record["EventType"] = "PROVISIONING_ERROR" if self.event.status.endswith("_FAILED") else "PROGRESS"
        return record


_ERRORS = ("VALIDATION_ERROR", "PROVISIONING_ERROR", "HOOK_INVOCATION_ERROR")


def select(records: list[Any], operation_id: str | None, failed_only: bool) -> list[dict[str, Any]]:
    """DescribeEvents' answer from a list of records: newest first, filtered as asked."""
    built = [r.to_record() if isinstance(r, _EventRecord) else r for r in records]
    chosen = [
        r
        for r in built
        if (operation_id is None or r["OperationId"] == operation_id)
        and (not failed_only or r["EventType"] in _ERRORS or r.get("OperationStatus") == "FAILED")
    ]
    return sorted(chosen, key=lambda r: r["Timestamp"], reverse=True)
