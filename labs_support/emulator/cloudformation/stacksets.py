"""StackSets: one template deployed as stack instances across accounts and Regions, in waves.

A stack set lives in its administrator account and Region. Each stack instance is a real stack, made by the
engine in the target account and Region (so its resources exist there, and describe_stacks in that account
shows it). Operations run in a worker thread and return their OperationId at once, as on AWS; each wave of
instances lasts INSTANCE_LAB_SECONDS on the lab clock, so a rollout has waves the learner can watch and stop.
stackset_rollout.py decides the waves and where the operation stops; stackset_api.py answers the API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError
from moto.core.base_backend import BackendDict, BaseBackend
from moto.moto_api._internal import mock_random

from .. import clock
from ..sts import trust_allows
from .engine import StackRequest, engine_for
from .errors import ValidationError
from .stack import Stack
from .stackset_rollout import Preferences, Rollout

# How long one stack instance's part of an operation lasts on the lab clock (the sandbox makes the stack in
# milliseconds; AWS takes a minute or more). Thirty lab seconds per wave: 0.05 s of real time at 600x.
INSTANCE_LAB_SECONDS = 30.0
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
GATE_FUNCTION = "AWSCloudFormationStackSetAccountGate"
DEFAULT_ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
TOLERANCE_EXCEEDED = "Cancelled since failure tolerance has exceeded"
STOPPED_BY_USER = "Cancelled since the operation was stopped"  # wording ours
RUNNING_STATES = ("QUEUED", "RUNNING", "STOPPING")


class StackSetNotFoundException(ValidationError):
    code = "StackSetNotFoundException"


class NameAlreadyExistsException(ValidationError):
    code = "NameAlreadyExistsException"


class StackSetNotEmptyException(ValidationError):
    code = "StackSetNotEmptyException"


class OperationInProgressException(ValidationError):
    code = "OperationInProgressException"


class OperationNotFoundException(ValidationError):
    code = "OperationNotFoundException"


class StackInstanceNotFoundException(ValidationError):
    code = "StackInstanceNotFoundException"


class InvalidOperationException(ValidationError):
    code = "InvalidOperationException"


@dataclass
class StackInstance:
    """One account and Region of a stack set, and the stack that stands for it there."""

    stack_set: StackSet
    account: str
    region: str
    organizational_unit: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    stack_id: str | None = None
    status: str = "OUTDATED"  # CURRENT | OUTDATED | INOPERABLE
    detailed_status: str = "PENDING"
    reason: str | None = None
    last_operation_id: str | None = None
    drift_status: str = "NOT_CHECKED"
    last_drift_check: datetime | None = None

    def stack(self) -> Stack | None:
        if self.stack_id is None:
            return None
        return engine_for(self.account, self.region).find_stack(self.stack_id, include_deleted=True)

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "StackSetId": self.stack_set.stack_set_id,
            "Region": self.region,
            "Account": self.account,
            "Status": self.status,
            "StackInstanceStatus": {"DetailedStatus": self.detailed_status},
            "DriftStatus": self.drift_status,
        }
        optional = {
            "StackId": self.stack_id,
            "StatusReason": self.reason,
            "OrganizationalUnitId": self.organizational_unit,
            "LastDriftCheckTimestamp": self.last_drift_check,
            "LastOperationId": self.last_operation_id,
        }
        row.update({k: v for k, v in optional.items() if v is not None})
        return row

    def describe(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "ParameterOverrides": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.overrides.items()],
        }


@dataclass
class OperationResult:
    """What an operation did in one account and Region (ListStackSetOperationResults)."""

    account: str
    region: str
    status: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED
    reason: str | None = None
    gate: dict[str, str] | None = None
    organizational_unit: str | None = None
    started: datetime | None = None
    ended: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        row: dict[str, Any] = {"Account": self.account, "Region": self.region, "Status": self.status}
        if self.reason:
            row["StatusReason"] = self.reason
        if self.gate:
            row["AccountGateResult"] = self.gate
        if self.organizational_unit:
            row["OrganizationalUnitId"] = self.organizational_unit
        return row


@dataclass
class Operation:
    """One StackSet operation: CREATE, UPDATE, DELETE or DETECT_DRIFT."""

    operation_id: str
    stack_set: StackSet
    action: str
    preferences: Preferences
    targets: list[tuple[str, str]]  # (account, Region) in the order given
    retain_stacks: bool | None = None
    deployment_targets: dict[str, Any] | None = None
    status: str = "QUEUED"
    reason: str | None = None
    created: datetime = field(default_factory=clock.now)
    ended: datetime | None = None
    results: dict[tuple[str, str], OperationResult] = field(default_factory=dict)
    drift: dict[str, Any] | None = None
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def failed_count(self) -> int:
        return sum(r.status == "FAILED" for r in self.results.values())

    def _common(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "OperationId": self.operation_id,
            "Action": self.action,
            "Status": self.status,
            "CreationTimestamp": self.created,
            "OperationPreferences": self.preferences.to_api(),
        }
        if self.ended:
            row["EndTimestamp"] = self.ended
        if self.reason:
            row["StatusReason"] = self.reason
        if self.status == "FAILED":
            row["StatusDetails"] = {"FailedStackInstancesCount": self.failed_count}
        return row

    def summary(self) -> dict[str, Any]:
        return self._common()

    def describe(self) -> dict[str, Any]:
        row = {**self._common(), "StackSetId": self.stack_set.stack_set_id}
        if self.stack_set.permission_model == "SELF_MANAGED":
            row["AdministrationRoleARN"] = self.stack_set.admin_role_arn
            row["ExecutionRoleName"] = self.stack_set.execution_role_name
        if self.retain_stacks is not None:
            row["RetainStacks"] = self.retain_stacks
        if self.deployment_targets:
            row["DeploymentTargets"] = self.deployment_targets
        if self.drift is not None:
            row["StackSetDriftDetectionDetails"] = self.drift
        return row


@dataclass
class StackSet:
    """A stack set in its administrator account and Region."""

    name: str
    stack_set_id: str
    account_id: str
    region: str
    template_body: str
    parameters: dict[str, str]
    capabilities: list[str]
    tags: list[dict[str, str]]
    description: str | None
    permission_model: str
    admin_role_arn: str | None
    execution_role_name: str | None
    auto_deployment: dict[str, bool] | None
    managed_execution: bool
    status: str = "ACTIVE"
    instances: dict[tuple[str, str], StackInstance] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    organizational_units: list[str] = field(default_factory=list)
    drift: dict[str, Any] | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account_id}:stackset/{self.stack_set_id}"

    @property
    def regions(self) -> list[str]:
        return list(dict.fromkeys(region for _, region in self.instances))

    def running(self) -> Operation | None:
        """The newest operation that has not finished (running, stopping or queued)."""
        return next((o for o in reversed(list(self.operations.values())) if not o.done.is_set()), None)

    def check_free(self) -> None:
        """One operation at a time, unless managed execution queues them."""
        if self.running() is not None and not self.managed_execution:
            raise OperationInProgressException(f"Another Operation on StackSet [{self.stack_set_id}] is in progress")

    def describe(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "StackSetName": self.name,
            "StackSetId": self.stack_set_id,
            "Status": self.status,
            "TemplateBody": self.template_body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Capabilities": self.capabilities,
            "Tags": self.tags,
            "StackSetARN": self.arn,
            "PermissionModel": self.permission_model,
            "ManagedExecution": {"Active": self.managed_execution},
            "Regions": self.regions,
            "StackSetDriftDetectionDetails": self.drift or {"DriftStatus": "NOT_CHECKED"},
        }
        if self.description:
            row["Description"] = self.description
        if self.permission_model == "SELF_MANAGED":
            row["AdministrationRoleARN"] = self.admin_role_arn
            row["ExecutionRoleName"] = self.execution_role_name
        else:
            row["AutoDeployment"] = self.auto_deployment or {"Enabled": False}
            row["OrganizationalUnitIds"] = self.organizational_units
        return row

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "StackSetName": self.name,
            "StackSetId": self.stack_set_id,
            "Status": self.status,
            "PermissionModel": self.permission_model,
            "ManagedExecution": {"Active": self.managed_execution},
            "DriftStatus": (self.drift or {}).get("DriftStatus", "NOT_CHECKED"),
        }
        if self.description:
            row["Description"] = self.description
        if self.drift and self.drift.get("LastDriftCheckTimestamp"):
            row["LastDriftCheckTimestamp"] = self.drift["LastDriftCheckTimestamp"]
        if self.permission_model == "SERVICE_MANAGED":
            row["AutoDeployment"] = self.auto_deployment or {"Enabled": False}
        return row


class StackSetService(BaseBackend):
    """The stack sets of one administrator account and Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.stack_sets: dict[str, StackSet] = {}
        self.lock = threading.RLock()

    def find(self, name_or_id: str, include_deleted: bool = False) -> StackSet | None:
        for stack_set in reversed(list(self.stack_sets.values())):
            if name_or_id in (stack_set.name, stack_set.stack_set_id) and (
                include_deleted or stack_set.status != "DELETED"
            ):
                return stack_set
        return None

    def get(self, name_or_id: str) -> StackSet:
        stack_set = self.find(name_or_id)
        if stack_set is None:
            raise StackSetNotFoundException(f"StackSet {name_or_id} not found")
        return stack_set


services: BackendDict[StackSetService] = BackendDict(StackSetService, "cloudformation")


def service_for(account_id: str, region: str) -> StackSetService:
    return services[account_id][region]


def new_id() -> str:
    return str(mock_random.uuid4())


# -- running an operation -----------------------------------------------------------------------------------
InstanceWork = Callable[[StackInstance, Operation], tuple[bool, str | None]]


def start(operation: Operation, work: InstanceWork, after: Callable[[Operation], None] | None = None) -> None:
    """Queue the operation on its stack set and run it in a worker thread (the API call returns at once)."""
    stack_set = operation.stack_set
    stack_set.check_free()
    previous = stack_set.running()
    for account, region in operation.targets:
        instance = stack_set.instances.get((account, region))
        unit = instance.organizational_unit if instance else None
        operation.results[(account, region)] = OperationResult(account, region, organizational_unit=unit)
    stack_set.operations[operation.operation_id] = operation

    def run() -> None:
        try:
            if previous is not None:
                previous.done.wait()  # managed execution: queued behind the running operation
            if operation.stop.is_set():  # stopped while queued: nothing ran
                _cancel_all(operation)
            else:
                _run(operation, work)
            if after is not None:
                after(operation)
        except clock.Aborted:
            pass  # the sandbox was reset under it
        finally:
            operation.done.set()

    threading.Thread(target=run, name=f"stackset-{operation.action.lower()}", daemon=True).start()


def _cancel_all(operation: Operation) -> None:
    for result in operation.results.values():
        result.status, result.reason = "CANCELLED", STOPPED_BY_USER
    operation.status, operation.ended = "STOPPED", clock.now()


def _run(operation: Operation, work: InstanceWork) -> None:
    operation.status = "RUNNING"
    targets: dict[str, list[str]] = {}
    for account, region in operation.targets:
        targets.setdefault(region, []).append(account)
    rollout = Rollout.plan(targets, operation.preferences)
    never = threading.Event()
    while wave := rollout.next_wave():
        outcomes: list[tuple[str, str, bool]] = []
        for account, region in wave:
            result = operation.results[(account, region)]
            result.status, result.started = "RUNNING", clock.now()
            instance = operation.stack_set.instances.get((account, region))
            if instance is None:  # removed meanwhile (a retained delete): nothing to do
                outcomes.append((account, region, True))
                continue
            instance.detailed_status, instance.last_operation_id = "RUNNING", operation.operation_id
            ok, reason = work(instance, operation)
            result.status, result.reason = ("SUCCEEDED" if ok else "FAILED"), reason
            outcomes.append((account, region, ok))
        clock.wait(never, INSTANCE_LAB_SECONDS)  # the wave's time on the lab clock
        for account, region, ok in outcomes:
            operation.results[(account, region)].ended = clock.now()
            instance = operation.stack_set.instances.get((account, region))
            if instance is not None and instance.detailed_status == "RUNNING":
                instance.detailed_status = "SUCCEEDED" if ok else "FAILED"
        rollout.record(outcomes)
        if operation.stop.is_set():
            rollout.stop_requested = True
    reason = STOPPED_BY_USER if operation.stop.is_set() and not rollout.failed else TOLERANCE_EXCEEDED
    for account, region in rollout.cancelled():
        operation.results[(account, region)].status = "CANCELLED"
        operation.results[(account, region)].reason = reason
        instance = operation.stack_set.instances.get((account, region))
        if instance is not None:
            instance.detailed_status = "CANCELLED"
            if operation.action in ("CREATE", "UPDATE"):
                instance.status = "OUTDATED"
    operation.ended = clock.now()
    if rollout.failed:
        operation.status = "FAILED"
    elif operation.stop.is_set():
        operation.status = "STOPPED"
    else:
        operation.status = "SUCCEEDED"


# -- the work in one account and Region ---------------------------------------------------------------------
def role_problem(stack_set: StackSet, account: str) -> str | None:
    """Self-managed permissions: the reason AWS gives when the administration or execution role is missing.

    The administration-role message is the one in AWS's ListStackSetOperationResults example; the execution-role
    message is as AWS reports it in operation results (observed, not in the documentation).
    """
    from moto.iam.models import iam_backends

    if stack_set.permission_model != "SELF_MANAGED":
        return None
    admin_name = (stack_set.admin_role_arn or "").rsplit("/", 1)[-1]
    admin_account = (stack_set.admin_role_arn or "").split(":")[4] or stack_set.account_id
    admin = _role(iam_backends[admin_account]["aws"], admin_name)
    if admin is None or not _trusts_service(admin.assume_role_policy_document, "cloudformation.amazonaws.com"):
        return (
            f"Account {stack_set.account_id} should have '{admin_name}' role with trust relationship to "
            "CloudFormation service."
        )
    execution = _role(iam_backends[account]["aws"], stack_set.execution_role_name or DEFAULT_EXECUTION_ROLE)
    caller = f"arn:aws:sts::{admin_account}:assumed-role/{admin_name}/stacksets"
    if execution is None or not trust_allows(execution.assume_role_policy_document, caller, admin_account):
        return (
            f"Account {account} should have '{stack_set.execution_role_name}' role with trust relationship to "
            f"Role '{admin_name}'."
        )
    return None


def _role(iam: Any, name: str) -> Any:
    return next((r for r in iam.roles.values() if r.name == name), None)


def _trusts_service(policy: str | dict, service: str) -> bool:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        principal = s.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = services if isinstance(services, list) else [services]
        if s.get("Effect") == "Allow" and service in services:
            return True
    return False


def account_gate(instance: StackInstance, operation: Operation) -> dict[str, str]:
    """Invoke the target's AWSCloudFormationStackSetAccountGate function, if it has one (account gating)."""
    from moto.awslambda.models import lambda_backends

    try:
        function = lambda_backends[instance.account][instance.region].get_function(GATE_FUNCTION, None)
    except Exception:
        return {"Status": "SKIPPED", "StatusReason": "Function not found: AWSCloudFormationStackSetAccountGate"}
    event = {
        "stackSetName": instance.stack_set.name,
        "stackSetId": instance.stack_set.stack_set_id,
        "operationId": operation.operation_id,
        "action": operation.action,
        "account": instance.account,
        "region": instance.region,
    }
    payload, errored, _logs = function._invoke_lambda(event)
    if errored:
        return {"Status": "FAILED", "StatusReason": "AccountGate function failed to run"}  # wording ours
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = payload
    status = answer.get("Status") if isinstance(answer, dict) else answer
    if status == "SUCCEEDED":
        return {"Status": "SUCCEEDED", "StatusReason": "Account gate check passed"}  # wording ours
    reason = answer.get("StatusReason") if isinstance(answer, dict) else None
    return {"Status": "FAILED", "StatusReason": reason or f"AccountGate function returned {status}"}


def stack_failure(stack: Stack) -> str:
    """The instance's StatusReason after its stack failed: the first resource that failed, in the form StackSets
    reports it ("ResourceLogicalId:..., ResourceType:..., ResourceStatusReason:..."; observed, not documented)."""
    failures = [e for e in stack.events if e.status.endswith("_FAILED")]
    for event in failures:
        if event.logical_id != stack.name:
            return (
                f"ResourceLogicalId:{event.logical_id}, ResourceType:{event.resource_type}, "
                f"ResourceStatusReason:{event.reason}."
            )
    if failures and failures[0].reason:
        return failures[0].reason  # the stack's own failure, e.g. pre-deployment validation
    return f"Stack {stack.stack_id} is in {stack.status} state"


def _wait(stack: Stack) -> None:
    if stack.operation is not None:
        stack.operation.done.wait()


def _effective_parameters(instance: StackInstance) -> dict[str, str]:
    return {**instance.stack_set.parameters, **instance.overrides}


def deploy(instance: StackInstance, operation: Operation) -> tuple[bool, str | None]:
    """CREATE / UPDATE in one account and Region: create the instance's stack, or update it to the set."""
    stack_set = instance.stack_set
    problem = role_problem(stack_set, instance.account)
    if problem:
        return _failed(instance, problem, operation)
    gate = account_gate(instance, operation)
    operation.results[(instance.account, instance.region)].gate = gate
    if gate["Status"] == "FAILED":
        return _failed(instance, gate["StatusReason"], operation)
    engine = engine_for(instance.account, instance.region)
    stack = instance.stack()
    request = StackRequest(
        name="",
        template_body=stack_set.template_body,
        parameters=_effective_parameters(instance),
        capabilities=stack_set.capabilities,
        tags=stack_set.tags,
        role_arn=f"arn:aws:iam::{instance.account}:role/{stack_set.execution_role_name or 'stacksets-exec'}",
    )
    try:
        if stack is not None and not stack.deleted_for_good and stack.status != "ROLLBACK_COMPLETE":
            request.name = stack.stack_id
            try:
                stack = engine.update_stack(request)
            except ValidationError as error:
                if "No updates are to be performed" not in str(error):
                    raise
            _wait(stack)
            ok = stack.status in ("UPDATE_COMPLETE", "CREATE_COMPLETE")
        else:
            if stack is not None and stack.status == "ROLLBACK_COMPLETE":
                engine.delete_stack(stack.stack_id)  # a failed first attempt is replaced (sandbox's reading)
            request.name = f"StackSet-{stack_set.name}-{new_id()}"
            stack = engine.create_stack(request)
            instance.stack_id = stack.stack_id
            _wait(stack)
            ok = stack.status == "CREATE_COMPLETE"
    except CloudFormationError as error:  # refused at the API (a parameter without a value, a name taken ...)
        return _failed(instance, error.message, operation)
    if not ok:
        return _failed(instance, stack_failure(stack), operation)
    instance.status, instance.reason = "CURRENT", None
    return True, None


def _failed(instance: StackInstance, reason: str, operation: Operation) -> tuple[bool, str]:
    if operation.action in ("CREATE", "UPDATE"):
        instance.status = "OUTDATED"
    instance.reason = reason
    return False, reason


def remove(instance: StackInstance, operation: Operation) -> tuple[bool, str | None]:
    """DELETE in one account and Region: delete the stack (or keep it with RetainStacks) and the instance."""
    stack_set = instance.stack_set
    stack = instance.stack()
    if not operation.retain_stacks and stack is not None and not stack.deleted_for_good:
        problem = role_problem(stack_set, instance.account)
        if problem:
            return _inoperable(instance, problem)
        engine_for(instance.account, instance.region).delete_stack(stack.stack_id)
        _wait(stack)
        if not stack.deleted_for_good:
            return _inoperable(instance, stack.reason or f"Stack {stack.stack_id} is in {stack.status} state")
    del stack_set.instances[(instance.account, instance.region)]
    return True, None


def _inoperable(instance: StackInstance, reason: str) -> tuple[bool, str]:
    instance.status, instance.reason = "INOPERABLE", reason
    return False, reason


def check_drift(instance: StackInstance, operation: Operation) -> tuple[bool, str | None]:
    """DETECT_DRIFT in one account and Region: drift detection on the instance's stack."""
    from . import drift

    stack = instance.stack()
    if stack is None or stack.deleted_for_good:
        instance.drift_status = "UNKNOWN"  # AWS: the stack instance has no stack to check
        return False, "Stack instance has no stack to check"  # wording ours
    try:
        detection = drift.detect(stack)
    except ValidationError as error:
        instance.drift_status = "UNKNOWN"
        return False, str(error)
    instance.drift_status = detection.stack_drift_status
    instance.last_drift_check = detection.timestamp
    return detection.status == "DETECTION_COMPLETE", detection.reason


def drift_summary(stack_set: StackSet, operation: Operation) -> dict[str, Any]:
    """StackSetDriftDetectionDetails after a DETECT_DRIFT operation."""
    checked = [stack_set.instances[k] for k in operation.results if k in stack_set.instances]
    drifted = sum(i.drift_status == "DRIFTED" for i in checked)
    in_sync = sum(i.drift_status == "IN_SYNC" for i in checked)
    failed = sum(r.status in ("FAILED", "CANCELLED") for r in operation.results.values())
    if operation.status == "STOPPED":
        detection = "STOPPED"
    elif failed and (drifted or in_sync):
        detection = "PARTIAL_SUCCESS"
    elif failed:
        detection = "FAILED"
    else:
        detection = "COMPLETED"
    return {
        "DriftStatus": "DRIFTED" if drifted else ("IN_SYNC" if in_sync else "NOT_CHECKED"),
        "DriftDetectionStatus": detection,
        "LastDriftCheckTimestamp": operation.ended or clock.now(),
        "TotalStackInstancesCount": len(operation.results),
        "DriftedStackInstancesCount": drifted,
        "InSyncStackInstancesCount": in_sync,
        "InProgressStackInstancesCount": 0,
        "FailedStackInstancesCount": failed,
    }
