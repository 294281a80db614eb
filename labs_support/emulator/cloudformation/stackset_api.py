"""The StackSet API actions, answered from stacksets.py (moto's own StackSet code is not used: its stacks would
exist nowhere else, and it ignores operation preferences; see moto-gaps.md)."""

from __future__ import annotations

from typing import Any

from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from . import stackset_organizations as orgs
from .analysis import TemplateModel
from .engine import engine_for
from .errors import ValidationError
from .stackset_rollout import Preferences
from .stacksets import (
    DEFAULT_ADMIN_ROLE,
    DEFAULT_EXECUTION_ROLE,
    InvalidOperationException,
    NameAlreadyExistsException,
    Operation,
    OperationInProgressException,
    OperationNotFoundException,
    StackInstance,
    StackInstanceNotFoundException,
    StackSet,
    StackSetNotEmptyException,
    StackSetService,
    check_drift,
    deploy,
    drift_summary,
    new_id,
    remove,
    service_for,
    start,
)
from .template import parse_template


def _service(self: CloudFormationResponse) -> StackSetService:
    return service_for(self.current_account, self.region)


def _stack_set(self: CloudFormationResponse) -> StackSet:
    stack_set = _service(self).get(self._get_param("StackSetName"))
    if stack_set.permission_model == "SERVICE_MANAGED":
        orgs.check_service_managed_caller(self.current_account, self._get_param("CallAs"))
    return stack_set


def _template(self: CloudFormationResponse, capabilities: list[str]) -> str:
    from .api import _template_body

    body = _template_body(self)
    if not body:
        raise ValidationError("Either Template URL or Template Body must be specified.")
    engine = engine_for(self.current_account, self.region)
    model: TemplateModel = engine._model(body, capabilities)
    engine._check_capabilities(model, capabilities)
    return body


def _parameters(self: CloudFormationResponse, key: str = "Parameters") -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    previous: set[str] = set()
    for p in self._get_param(key, []) or []:
        if p.get("UsePreviousValue"):
            previous.add(p["ParameterKey"])
        else:
            values[p["ParameterKey"]] = p.get("ParameterValue", "")
    return values, previous


def _preferences(self: CloudFormationResponse) -> Preferences:
    return Preferences.from_api(self._get_param("OperationPreferences"))


def _operation_id(self: CloudFormationResponse, stack_set: StackSet) -> str:
    given = self._get_param("OperationId")
    if given and given in stack_set.operations:
        raise ValidationError(f"An operation with id {given} already exists")  # wording ours
    return given or new_id()


# -- stack sets ----------------------------------------------------------------------------------------------
def create_stack_set(self: CloudFormationResponse) -> ActionResult:
    service = _service(self)
    name = self._get_param("StackSetName")
    permission_model = self._get_param("PermissionModel") or "SELF_MANAGED"
    if permission_model == "SERVICE_MANAGED":
        orgs.check_service_managed_caller(self.current_account, self._get_param("CallAs"))
    if service.find(name) is not None:
        raise NameAlreadyExistsException(f"StackSet {name} already exists")
    capabilities = self._get_param("Capabilities", []) or []
    body = _template(self, capabilities)
    values, _ = _parameters(self)
    auto = self._get_param("AutoDeployment")
    if permission_model == "SELF_MANAGED" and auto:
        raise ValidationError("AutoDeployment is only supported with SERVICE_MANAGED permission model")  # wording ours
    uid = new_id()
    stack_set = StackSet(
        name=name,
        stack_set_id=f"{name}:{uid}",
        account_id=self.current_account,
        region=self.region,
        template_body=body,
        parameters=values,
        capabilities=capabilities,
        tags=self._get_param("Tags", []) or [],
        description=self._get_param("Description"),
        permission_model=permission_model,
        admin_role_arn=(
            self._get_param("AdministrationRoleARN") or f"arn:aws:iam::{self.current_account}:role/{DEFAULT_ADMIN_ROLE}"
        )
        if permission_model == "SELF_MANAGED"
        else None,
        execution_role_name=(self._get_param("ExecutionRoleName") or DEFAULT_EXECUTION_ROLE)
        if permission_model == "SELF_MANAGED"
        else None,
        auto_deployment={k: bool(v) for k, v in auto.items()} if auto else None,
        managed_execution=bool((self._get_param("ManagedExecution") or {}).get("Active")),
    )
    with service.lock:
        service.stack_sets[stack_set.stack_set_id] = stack_set
    return ActionResult({"StackSetId": stack_set.stack_set_id})


def describe_stack_set(self: CloudFormationResponse) -> ActionResult:
    return ActionResult({"StackSet": _stack_set(self).describe()})


def list_stack_sets(self: CloudFormationResponse) -> ActionResult:
    wanted = self._get_param("Status")
    sets = [s for s in _service(self).stack_sets.values() if not wanted or s.status == wanted]
    return ActionResult({"Summaries": [s.summary() for s in sets]})


def update_stack_set(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    stack_set.check_free()
    capabilities = self._get_param("Capabilities", []) or []
    if self._get_param("UsePreviousTemplate"):
        body = stack_set.template_body
        engine = engine_for(self.current_account, self.region)
        engine._check_capabilities(engine._model(body, capabilities), capabilities)
    else:
        body = _template(self, capabilities)
    values, previous = _parameters(self)
    parameters = {**{k: stack_set.parameters[k] for k in previous if k in stack_set.parameters}, **values}
    targets = _update_targets(self, stack_set)
    operation = Operation(
        _operation_id(self, stack_set),
        stack_set,
        "UPDATE",
        _preferences(self),
        targets,
        deployment_targets=self._get_param("DeploymentTargets"),
    )
    stack_set.template_body, stack_set.parameters, stack_set.capabilities = body, parameters, capabilities
    if self._get_param("Tags") is not None:
        stack_set.tags = self._get_param("Tags")
    if self._get_param("Description") is not None:
        stack_set.description = self._get_param("Description")
    if self._get_param("AutoDeployment") is not None:
        stack_set.auto_deployment = {k: bool(v) for k, v in self._get_param("AutoDeployment").items()}
    if self._get_param("ManagedExecution") is not None:
        stack_set.managed_execution = bool(self._get_param("ManagedExecution").get("Active"))
    for key in targets:
        stack_set.instances[key].status = "OUTDATED"  # until this operation brings it up to date
    start(operation, deploy)
    return ActionResult({"OperationId": operation.operation_id})


def _update_targets(self: CloudFormationResponse, stack_set: StackSet) -> list[tuple[str, str]]:
    """The instances an UpdateStackSet reaches: all (but INOPERABLE ones), or the accounts and Regions named."""
    accounts = self._get_param("Accounts") or (self._get_param("DeploymentTargets") or {}).get("Accounts")
    regions = self._get_param("Regions")
    units = (self._get_param("DeploymentTargets") or {}).get("OrganizationalUnitIds")
    chosen = []
    for key, instance in stack_set.instances.items():
        if instance.status == "INOPERABLE":
            continue  # "Stacks in this state are excluded from further UpdateStackSet operations"
        if regions and key[1] not in regions:
            continue
        if accounts and key[0] not in accounts and not units:
            continue
        if units and instance.organizational_unit not in units:
            continue
        chosen.append(key)
    return chosen


def delete_stack_set(self: CloudFormationResponse) -> EmptyResult:
    stack_set = _stack_set(self)
    if stack_set.running() is not None:
        raise OperationInProgressException(f"Another Operation on StackSet [{stack_set.stack_set_id}] is in progress")
    if stack_set.instances:
        raise StackSetNotEmptyException("StackSet is not empty")
    stack_set.status = "DELETED"
    return EmptyResult()


# -- stack instances -----------------------------------------------------------------------------------------
def _instance_targets(self: CloudFormationResponse, stack_set: StackSet) -> list[tuple[str, str, str | None]]:
    """(account, Region, OU) for the Accounts / DeploymentTargets and Regions of an instances request."""
    regions = self._get_param("Regions", []) or []
    if not regions:
        raise ValidationError("Regions should not be empty")  # wording ours
    deployment = self._get_param("DeploymentTargets") or {}
    if stack_set.permission_model == "SERVICE_MANAGED":
        if not deployment.get("OrganizationalUnitIds"):
            raise ValidationError(
                "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
            )
        org = orgs.check_service_managed_caller(self.current_account, self._get_param("CallAs"))
        pairs = orgs.resolve_targets(org, deployment)
    else:
        if deployment.get("OrganizationalUnitIds"):
            raise ValidationError("StackSets with SELF_MANAGED permission model can only have accounts as target")
        accounts = self._get_param("Accounts") or deployment.get("Accounts") or []
        if not accounts:
            raise ValidationError("Accounts should not be empty")  # wording ours
        pairs = [(a, None) for a in accounts]
    return [(account, region, unit) for region in regions for account, unit in pairs]


def create_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    wanted = _instance_targets(self, stack_set)
    overrides, _ = _parameters(self, "ParameterOverrides")
    _check_overrides(stack_set, overrides)
    operation = Operation(
        _operation_id(self, stack_set),
        stack_set,
        "CREATE",
        _preferences(self),
        [(a, r) for a, r, _ in wanted],
        deployment_targets=self._get_param("DeploymentTargets"),
    )
    stack_set.check_free()
    for account, region, unit in wanted:
        instance = stack_set.instances.get((account, region))
        if instance is None:
            instance = StackInstance(stack_set, account, region, organizational_unit=unit)
            stack_set.instances[(account, region)] = instance
        instance.overrides.update(overrides)
    if stack_set.permission_model == "SERVICE_MANAGED":
        for unit in (self._get_param("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []:
            if unit not in stack_set.organizational_units:
                stack_set.organizational_units.append(unit)
    start(operation, deploy)
    return ActionResult({"OperationId": operation.operation_id})


def _check_overrides(stack_set: StackSet, overrides: dict[str, str]) -> None:
    declared = TemplateModel.build(parse_template(stack_set.template_body), stack_set.region).parameters
    unknown = [k for k in overrides if k not in declared]
    if unknown:
        # "You can only override the parameter values that are specified in the StackSet" (API reference)
        raise ValidationError(  # wording ours
            f"ParameterOverrides [{', '.join(unknown)}] are not declared in the StackSet template"
        )


def update_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    wanted = _instance_targets(self, stack_set)
    missing = [(a, r) for a, r, _ in wanted if (a, r) not in stack_set.instances]
    if missing:
        account, region = missing[0]
        raise StackInstanceNotFoundException(
            f"Stack instance in account {account} and region {region} does not exist for stack set {stack_set.name}"
        )  # wording ours
    overrides, previous = _parameters(self, "ParameterOverrides")
    _check_overrides(stack_set, overrides)
    operation = Operation(
        _operation_id(self, stack_set),
        stack_set,
        "UPDATE",
        _preferences(self),
        [(a, r) for a, r, _ in wanted],
        deployment_targets=self._get_param("DeploymentTargets"),
    )
    stack_set.check_free()
    given = self._get_param("ParameterOverrides")
    for account, region, _unit in wanted:
        instance = stack_set.instances[(account, region)]
        if given is not None:  # an empty list removes every override; UsePreviousValue keeps one
            instance.overrides = {**{k: v for k, v in instance.overrides.items() if k in previous}, **overrides}
        instance.status = "OUTDATED"
    start(operation, deploy)
    return ActionResult({"OperationId": operation.operation_id})


def delete_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    if self._get_param("RetainStacks") is None:
        raise ValidationError(
            "1 validation error detected: Value null at 'retainStacks' failed to satisfy constraint: "
            "Member must not be null"
        )
    wanted = [(a, r) for a, r, _ in _instance_targets(self, stack_set) if (a, r) in stack_set.instances]
    operation = Operation(
        _operation_id(self, stack_set),
        stack_set,
        "DELETE",
        _preferences(self),
        wanted,
        retain_stacks=bool(self._get_param("RetainStacks")),
        deployment_targets=self._get_param("DeploymentTargets"),
    )
    start(operation, remove)
    return ActionResult({"OperationId": operation.operation_id})


def _instance(self: CloudFormationResponse, stack_set: StackSet) -> StackInstance:
    account, region = self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
    instance = stack_set.instances.get((account, region))
    if instance is None:
        raise StackInstanceNotFoundException(
            f"Stack instance in account {account} and region {region} does not exist for stack set {stack_set.name}"
        )  # wording ours
    return instance


def describe_stack_instance(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    return ActionResult({"StackInstance": _instance(self, stack_set).describe()})


def list_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    account, region = self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
    filters = {f["Name"]: f["Values"] for f in self._get_param("Filters", []) or []}
    rows = []
    for instance in stack_set.instances.values():
        if (account and instance.account != account) or (region and instance.region != region):
            continue
        if "DETAILED_STATUS" in filters and instance.detailed_status != filters["DETAILED_STATUS"]:
            continue
        if "LAST_OPERATION_ID" in filters and instance.last_operation_id != filters["LAST_OPERATION_ID"]:
            continue
        if "DRIFT_STATUS" in filters and instance.drift_status != filters["DRIFT_STATUS"]:
            continue
        rows.append(instance.summary())
    return ActionResult({"Summaries": rows})


# -- operations ----------------------------------------------------------------------------------------------
def _operation(self: CloudFormationResponse, stack_set: StackSet) -> Operation:
    operation_id = self._get_param("OperationId")
    operation = stack_set.operations.get(operation_id)
    if operation is None:
        raise OperationNotFoundException(f"Operation {operation_id} not found")  # wording ours
    return operation


def describe_stack_set_operation(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    return ActionResult({"StackSetOperation": _operation(self, stack_set).describe()})


def list_stack_set_operations(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    return ActionResult({"Summaries": [o.summary() for o in reversed(stack_set.operations.values())]})


def list_stack_set_operation_results(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    operation = _operation(self, stack_set)
    return ActionResult({"Summaries": [r.to_api() for r in operation.results.values()]})


def stop_stack_set_operation(self: CloudFormationResponse) -> EmptyResult:
    stack_set = _stack_set(self)
    operation = _operation(self, stack_set)
    if operation.status not in ("QUEUED", "RUNNING"):
        raise InvalidOperationException(f"Operation {operation.operation_id} is not in progress")  # wording ours
    operation.status = "STOPPING"
    operation.stop.set()
    return EmptyResult()


def detect_stack_set_drift(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    targets = [k for k, i in stack_set.instances.items() if i.stack_id]
    operation = Operation(_operation_id(self, stack_set), stack_set, "DETECT_DRIFT", _preferences(self), targets)
    operation.drift = {"DriftStatus": "NOT_CHECKED", "DriftDetectionStatus": "IN_PROGRESS"}

    def finished(op: Operation) -> None:
        op.drift = drift_summary(stack_set, op)
        stack_set.drift = op.drift

    start(operation, check_drift, after=finished)
    return ActionResult({"OperationId": operation.operation_id})


# -- Organizations access ------------------------------------------------------------------------------------
def activate_organizations_access(self: CloudFormationResponse) -> EmptyResult:
    orgs.set_trusted_access(self.current_account, True)
    return EmptyResult()


def deactivate_organizations_access(self: CloudFormationResponse) -> EmptyResult:
    orgs.set_trusted_access(self.current_account, False)
    return EmptyResult()


def describe_organizations_access(self: CloudFormationResponse) -> ActionResult:
    return ActionResult({"Status": "ENABLED" if orgs.trusted_access(self.current_account) else "DISABLED"})


def list_stack_set_auto_deployment_targets(self: CloudFormationResponse) -> ActionResult:
    stack_set = _stack_set(self)
    rows = [
        {"OrganizationalUnitId": unit, "Regions": stack_set.regions}
        for unit in stack_set.organizational_units
        if (stack_set.auto_deployment or {}).get("Enabled")
    ]
    return ActionResult({"Summaries": rows})


ACTIONS: dict[str, Any] = {
    f.__name__: f
    for f in (
        create_stack_set,
        describe_stack_set,
        list_stack_sets,
        update_stack_set,
        delete_stack_set,
        create_stack_instances,
        describe_stack_instance,
        list_stack_instances,
        update_stack_instances,
        delete_stack_instances,
        describe_stack_set_operation,
        list_stack_set_operations,
        list_stack_set_operation_results,
        stop_stack_set_operation,
        detect_stack_set_drift,
        activate_organizations_access,
        deactivate_organizations_access,
        describe_organizations_access,
        list_stack_set_auto_deployment_targets,
    )
}
