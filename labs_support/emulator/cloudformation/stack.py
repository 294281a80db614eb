"""The records CloudFormation keeps: stacks, their resources and their events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.moto_api._internal import mock_random

from .. import clock
from .operation_log import OperationLog
from .parameters import ResolvedParameter
from .resources import Provisioned

STACK_TYPE = "AWS::CloudFormation::Stack"

# Statuses in which a stack exists and is stable (update and delete are allowed).
STABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}


@dataclass
class StackEvent:
    """One line of a stack's history (DescribeStackEvents)."""

    stack_id: str
    stack_name: str
    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    reason: str | None
    properties: dict[str, Any] | None
    timestamp: datetime = field(default_factory=clock.now)
    event_id: str = ""
    operation_id: str | None = None
    detailed_status: str | None = None  # VALIDATION_FAILED on a failure of pre-deployment validation

    def __post_init__(self) -> None:
        # AWS names a resource's events after it; the stack's own events get a UUID.
        if self.physical_id == self.stack_id:
            self.event_id = str(mock_random.uuid4())
        else:
            stamp = self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp.microsecond // 1000:03d}Z"
            self.event_id = f"{self.logical_id}-{self.status}-{stamp}"

    def to_api(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "StackId": self.stack_id,
            "EventId": self.event_id,
            "StackName": self.stack_name,
            "LogicalResourceId": self.logical_id,
            "PhysicalResourceId": self.physical_id,
            "ResourceType": self.resource_type,
            "Timestamp": self.timestamp,
            "ResourceStatus": self.status,
        }
        if self.reason:
            event["ResourceStatusReason"] = self.reason
        if self.properties is not None:
            event["ResourceProperties"] = json.dumps(self.properties)
        if self.operation_id:
            event["OperationId"] = self.operation_id
        if self.detailed_status:
            event["DetailedStatus"] = self.detailed_status
        return event


@dataclass
class StackResource:
    """A resource of a stack: its template definition and what exists in the sandbox."""

    logical_id: str
    resource_type: str
    definition: dict[str, Any]
    status: str = "CREATE_IN_PROGRESS"
    reason: str | None = None
    provisioned: Provisioned | None = None
    updated: datetime = field(default_factory=clock.now)
    # the properties with dynamic references as written (events, drift), and as compared between updates
    shown_properties: dict[str, Any] | None = None
    compared_properties: dict[str, Any] | None = None

    @property
    def physical_id(self) -> str:
        return self.provisioned.physical_id if self.provisioned else ""

    @property
    def deletion_policy(self) -> str:
        return str(self.definition.get("DeletionPolicy", "Delete"))

    @property
    def update_replace_policy(self) -> str:
        return str(self.definition.get("UpdateReplacePolicy", "Delete"))


@dataclass
class Output:
    key: str
    value: Any
    description: str | None
    export_name: str | None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OutputKey": self.key, "OutputValue": _output_string(self.value)}
        if self.description:
            out["Description"] = self.description
        if self.export_name:
            out["ExportName"] = self.export_name
        return out


def _output_string(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass
class Stack:
    """A stack: identity, template, parameters, resources, outputs and history."""

    stack_id: str
    name: str
    account_id: str
    region: str
    template_body: str
    template: dict[str, Any]
    parameters: dict[str, ResolvedParameter]
    status: str = "CREATE_IN_PROGRESS"
    reason: str | None = None
    created: datetime = field(default_factory=clock.now)
    updated: datetime | None = None
    deleted: datetime | None = None
    resources: dict[str, StackResource] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    events: list[StackEvent] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    disable_rollback: bool = False
    termination_protection: bool = False
    timeout_in_minutes: int | None = None
    stack_policy: str | None = None
    parent_id: str | None = None
    root_id: str | None = None
    operation: Any = field(default=None, repr=False)  # the operations.Operation running on this stack
    pending_rollback: Any = field(default=None, repr=False)  # the failed update's run, for ContinueUpdateRollback
    # CREATE_FAILED / UPDATE_FAILED with DisableRollback: what RollbackStack goes back to (engine.Paused)
    paused: Any = field(default=None, repr=False)
    log: OperationLog = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.log = OperationLog(self.stack_id)

    @property
    def description(self) -> str | None:
        return self.template.get("Description")

    @property
    def exports(self) -> dict[str, Any]:
        return {o.export_name: o.value for o in self.outputs if o.export_name}

    @property
    def deleted_for_good(self) -> bool:
        return self.status == "DELETE_COMPLETE"

    def event(
        self,
        logical_id: str,
        physical_id: str,
        resource_type: str,
        status: str,
        reason: str | None = None,
        properties: dict[str, Any] | None = None,
        detailed_status: str | None = None,
    ) -> StackEvent:
        """Record an event (newest last here; the API returns newest first), under the running operation."""
        ev = StackEvent(self.stack_id, self.name, logical_id, physical_id, resource_type, status, reason, properties)
        ev.operation_id = self.log.current.operation_id if self.log.current else None
        ev.detailed_status = detailed_status
        self.events.append(ev)
        self.log.add_event(ev)
        return ev

    def stack_event(self, status: str, reason: str | None = None, detailed_status: str | None = None) -> None:
        """Move the stack to a status and record the stack-level event (starting or ending an operation)."""
        previous = self.status
        self.log.before_status(status, previous, reason)
        self.status = status
        self.reason = reason
        self.event(self.name, self.stack_id, STACK_TYPE, status, reason, detailed_status=detailed_status)
        self.log.after_status(status)

    def parameter_values(self) -> dict[str, str]:
        return {k: p.value for k, p in self.parameters.items()}

    def to_api(self) -> dict[str, Any]:
        """The shape DescribeStacks returns."""
        described: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "CreationTime": self.created,
            "StackStatus": self.status,
            "DisableRollback": self.disable_rollback,
            "NotificationARNs": self.notification_arns,
            "Tags": self.tags,
            "EnableTerminationProtection": self.termination_protection,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            "RollbackConfiguration": {},
        }
        if self.description:
            described["Description"] = self.description
        if self.parameters:
            described["Parameters"] = [_parameter_api(p) for p in self.parameters.values()]
        if self.updated:
            described["LastUpdatedTime"] = self.updated
        if self.deleted:
            described["DeletionTime"] = self.deleted
        if self.reason:
            described["StackStatusReason"] = self.reason
        if self.capabilities:
            described["Capabilities"] = self.capabilities
        if self.outputs:
            described["Outputs"] = [o.to_api() for o in self.outputs]
        if self.role_arn:
            described["RoleARN"] = self.role_arn
        if self.timeout_in_minutes:
            described["TimeoutInMinutes"] = self.timeout_in_minutes
        if self.parent_id:
            described["ParentId"] = self.parent_id
            described["RootId"] = self.root_id
        if self.log.operations:
            described["LastOperations"] = self.log.last_operations()
        return described

    def summary_api(self) -> dict[str, Any]:
        """The shape ListStacks returns."""
        summary: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "CreationTime": self.created,
            "StackStatus": self.status,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        for key, value in (
            ("TemplateDescription", self.description),
            ("LastUpdatedTime", self.updated),
            ("DeletionTime", self.deleted),
            ("StackStatusReason", self.reason),
            ("ParentId", self.parent_id),
            ("RootId", self.root_id),
        ):
            if value:
                summary[key] = value
        if self.log.operations:
            summary["LastOperations"] = self.log.last_operations()
        return summary


def _parameter_api(p: ResolvedParameter) -> dict[str, Any]:
    out: dict[str, Any] = {"ParameterKey": p.key, "ParameterValue": p.described_value()}
    if p.ssm:
        resolved = p.resolved
        out["ResolvedValue"] = ",".join(resolved) if isinstance(resolved, list) else str(resolved)
    return out


def new_stack_id(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{account_id}:stack/{name}/{mock_random.uuid4()}"
