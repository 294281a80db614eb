"""CloudFormation change sets: CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, ListChangeSets, DeleteChangeSet.

A change set is worked out when it is created, by comparing the stack's resources as they are (their resolved
properties in effect) with the new template evaluated against the new parameters, the conditions and the
stack's current resources. A value that depends on a resource the change set adds, replaces or modifies cannot
be known before execution: it is evaluated Dynamic, and a create-only property that depends on it makes the
replacement Conditional. Executing runs the engine's CreateStack or UpdateStack with the change set's inputs.
With IncludeNestedStacks, each nested stack the change set adds or modifies gets a change set of its own,
executed and deleted only through the root.

AWS documentation: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
and the Change, ResourceChange and ResourceChangeDetail data types of the API reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.responses import ActionResult, EmptyResult
from moto.moto_api._internal import mock_random

from .. import clock
from . import api, dynamic_references, early_validation
from .analysis import PSEUDO_PARAMETERS, TemplateModel
from .engine import FAILED_PRESERVED, CloudFormationEngine, StackRequest, pseudo_parameter
from .errors import ResourceFailure, SandboxNotSupported, StackFailure, ValidationError
from .intrinsics import Evaluator, TemplateError, scan
from .nested_stacks import nested_parameters, nested_template
from .operation_log import Operation, new_operation_id, stack_event_record, validation_record
from .parameters import ResolvedParameter, resolve_parameters
from .resources import ResourceRequest, _suffix, provider_for
from .schema import create_only_properties
from .stack import STABLE, Stack, StackResource, new_stack_id

NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
_TYPES = ("CREATE", "UPDATE", "IMPORT")
_MISSING: Any = object()
# A value only known once the change set runs, e.g. the physical id of a resource it replaces. It is a string
# so that it survives Fn::Join and Fn::Sub; the details name what caused it.
_UNKNOWN = re.compile("\x00(ResourceReference|ResourceAttribute)\x01([^\x00]*)\x00")


class ChangeSetNotFoundException(CloudFormationError):
    code = "ChangeSetNotFound"


class InvalidChangeSetStatusException(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ChangeSetAlreadyExists(CloudFormationError):
    code = "AlreadyExistsException"


class _Failed(Exception):
    """The change set cannot be worked out: it ends FAILED with this reason (AWS works it out after the call)."""


@dataclass
class ChangeSet:
    """A change set and the inputs it will execute with."""

    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    change_set_type: str
    template_body: str
    parameters: dict[str, ResolvedParameter]
    given: dict[str, str]
    use_previous: set[str]
    capabilities: list[str]
    tags: list[dict[str, str]] | None
    notification_arns: list[str]
    role_arn: str | None
    description: str | None
    include_nested_stacks: bool
    on_stack_failure: str | None
    mark: int  # how many events the stack had when the change set was made (a later operation obsoletes it)
    parent_change_set_id: str | None = None  # set on the change set of a nested stack (IncludeNestedStacks)
    root_change_set_id: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    # its CREATE_CHANGESET operation as DescribeEvents shows it (with pre-deployment validation findings)
    operation: Operation | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    status: str = "CREATE_COMPLETE"
    status_reason: str | None = None
    execution_status: str = "AVAILABLE"
    created: datetime = field(default_factory=clock.now)

    def summary(self) -> dict[str, Any]:
        """The shape ListChangeSets returns."""
        out: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.stack_name,
            "ChangeSetId": self.change_set_id,
            "ChangeSetName": self.name,
            "ExecutionStatus": self.execution_status,
            "Status": self.status,
            "CreationTime": self.created,
            "IncludeNestedStacks": self.include_nested_stacks,
        }
        if self.parent_change_set_id:
            out["ParentChangeSetId"] = self.parent_change_set_id
            out["RootChangeSetId"] = self.root_change_set_id
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        if self.description:
            out["Description"] = self.description
        return out

    def to_api(self) -> dict[str, Any]:
        """The shape DescribeChangeSet returns."""
        out = {
            **self.summary(),
            "NotificationARNs": self.notification_arns,
            "RollbackConfiguration": {},
            "Capabilities": self.capabilities,
            "Changes": self.changes,
        }
        if self.parameters:
            out["Parameters"] = [_parameter_api(p) for p in self.parameters.values()]
        if self.tags:
            out["Tags"] = self.tags
        if self.on_stack_failure:
            out["OnStackFailure"] = self.on_stack_failure
        return out


def _parameter_api(p: ResolvedParameter) -> dict[str, Any]:
    out: dict[str, Any] = {"ParameterKey": p.key, "ParameterValue": p.described_value()}
    if p.ssm:
        out["ResolvedValue"] = ",".join(p.resolved) if isinstance(p.resolved, list) else str(p.resolved)
    return out


class ChangeSetStore(BaseBackend):
    """The change sets of one account and Region (a moto BackendDict, so a sandbox reset clears them)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.change_sets: dict[str, ChangeSet] = {}

    def descendants(self, change_set: ChangeSet) -> list[ChangeSet]:
        """The change sets of the nested stacks below this one, at every level."""
        children = [c for c in self.change_sets.values() if c.parent_change_set_id == change_set.change_set_id]
        return [d for child in children for d in (child, *self.descendants(child))]


stores: BackendDict[ChangeSetStore] = BackendDict(ChangeSetStore, "cloudformation")


# -- evaluation ----------------------------------------------------------------------------------------
class _Evaluation:
    """The new template evaluated against the stack as it is now (what the engine's update would compute).

    Ref and Fn::GetAtt of a resource the change set adds, replaces or modifies give an unknown value that
    records its cause.
    """

    def __init__(
        self,
        engine: CloudFormationEngine,
        stack: Stack,
        model: TemplateModel,
        params: dict[str, ResolvedParameter],
        live: dict[str, StackResource],
    ) -> None:
        self.engine, self.stack, self.model, self.params, self.live = engine, stack, model, params, live
        self.changed: dict[str, str] = {}  # logical id -> "add", "replace" or "modify"
        self.conditions: dict[str, bool] = {}
        self._evaluate_conditions()

    def _ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name].resolved
        if name in PSEUDO_PARAMETERS:
            return pseudo_parameter(name, self.stack)
        resource = self.live.get(name)
        if self.changed.get(name) in ("add", "replace") or resource is None or resource.provisioned is None:
            return f"\x00ResourceReference\x01{name}\x00"
        return resource.provisioned.ref

    def _getatt(self, name: str, attribute: str) -> Any:
        resource = self.live.get(name)
        if name in self.changed or resource is None or resource.provisioned is None:
            return f"\x00ResourceAttribute\x01{name}.{attribute}\x00"
        request = ResourceRequest(
            logical_id=name,
            resource_type=resource.resource_type,
            properties=resource.provisioned.properties,
            account_id=self.engine.account_id,
            region=self.engine.region_name,
            stack_name=self.stack.name,
            stack_id=self.stack.stack_id,
        )
        return provider_for(resource.resource_type).get_att(request, resource.provisioned, attribute)

    def _import(self, name: str) -> Any:
        exports = self.engine.exports()
        if name not in exports or exports[name][0] is self.stack:
            raise _Failed(f"No export named {name} found.")
        return exports[name][1]

    def _availability_zones(self, region: str) -> list[str]:
        from moto.ec2.models import ec2_backends

        return [z.name for z in ec2_backends[self.engine.account_id][region].describe_availability_zones()]

    def evaluator(self) -> Evaluator:
        return Evaluator(
            ref=self._ref,
            getatt=self._getatt,
            conditions=self.conditions,
            mappings=self.model.mappings,
            import_value=self._import,
            availability_zones=self._availability_zones,
            region=self.engine.region_name,
        )

    def _evaluate_conditions(self) -> None:
        # Conditions may refer to parameters and other conditions only (TemplateModel checked that).
        pending = self.model.conditions

        def evaluate(name: str, seen: tuple[str, ...] = ()) -> bool:
            if name not in self.conditions:
                if name in seen:
                    raise ValidationError(f"Circular dependency between conditions: [{', '.join(seen)}]")
                for dependency in scan(pending[name]).conditions & set(pending):
                    evaluate(dependency, (*seen, name))
                self.conditions[name] = self.evaluator().condition(pending[name])
            return self.conditions[name]

        try:
            for name in pending:
                evaluate(name)
        except TemplateError as e:
            raise ValidationError(str(e)) from None

    def included(self, logical_id: str) -> bool:
        condition = self.model.resources[logical_id].get("Condition")
        return condition is None or self.conditions[condition]

    def properties(self, logical_id: str) -> dict[str, Any]:
        definition = self.model.resources[logical_id]
        try:
            resolved = self.evaluator().resolve(definition.get("Properties") or {})
        except (TemplateError, StackFailure) as e:
            raise _Failed(str(e)) from None
        try:
            # as the engine compares between updates: ssm references re-read, secrets compared as written
            return dynamic_references.resolve_in_properties(
                resolved,
                account_id=self.engine.account_id,
                region=self.engine.region_name,
                resource_type=str(definition["Type"]),
                logical_id=logical_id,
                services=("ssm",),
            )
        except ResourceFailure as e:
            raise _Failed(e.reason) from None

    def parameters_used(self, fragment: Any) -> set[str]:
        """Parameters a fragment refers to, directly or through the conditions of its Fn::If."""
        found = scan(fragment)
        names = found.refs & set(self.params)
        todo, seen = list(found.if_conditions), set()
        while todo:
            condition = todo.pop()
            if condition in seen or condition not in self.model.conditions:
                continue
            seen.add(condition)
            inner = scan(self.model.conditions[condition])
            names |= inner.refs & set(self.params)
            todo += list(inner.conditions)
        return names


def _unknowns(value: Any) -> list[tuple[str, str]]:
    """(ChangeSource, CausingEntity) of every unknown value inside a resolved fragment, in order."""
    if isinstance(value, str):
        return [(m.group(1), m.group(2)) for m in _UNKNOWN.finditer(value)]
    if isinstance(value, list):
        return [u for v in value for u in _unknowns(v)]
    if isinstance(value, dict):
        return [u for v in value.values() for u in _unknowns(v)]
    return []


def _detail(target: dict[str, str], evaluation: str, source: str, entity: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"Target": target, "Evaluation": evaluation, "ChangeSource": source}
    if entity is not None:
        detail["CausingEntity"] = entity
    return detail


def _target(name: str, resource_type: str, region: str) -> dict[str, str]:
    recreation = "Always" if name in create_only_properties(resource_type, region) else "Never"
    if name == "Tags":  # AWS reports tags as their own attribute (Scope "Tags")
        return {"Attribute": "Tags", "RequiresRecreation": recreation}
    return {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation}


def _modification(
    ev: _Evaluation, logical_id: str, previous: StackResource, old_params: dict[str, ResolvedParameter]
) -> dict[str, Any] | None:
    """The Modify change of a resource in both the stack and the new template, or None if it is unchanged."""
    assert previous.provisioned is not None
    definition = ev.model.resources[logical_id]
    new_type = str(definition["Type"])
    new_props = ev.properties(logical_id)
    old_props = previous.compared_properties or previous.provisioned.properties
    new_exprs = definition.get("Properties") or {}
    old_exprs = previous.definition.get("Properties") or {}
    region = ev.engine.region_name
    details: list[dict[str, Any]] = []
    for name in [*new_props, *(n for n in old_props if n not in new_props)]:
        new_value, old_value = new_props.get(name, _MISSING), old_props.get(name, _MISSING)
        edited = new_exprs.get(name, _MISSING) != old_exprs.get(name, _MISSING)
        target = _target(name, new_type, region)
        unknowns = _unknowns(new_value)
        if unknowns:
            details += [_detail(target, "Dynamic", source, entity) for source, entity in dict.fromkeys(unknowns)]
            if edited:
                details.append(_detail(target, "Dynamic", "DirectModification"))
        elif new_value != old_value:
            changed_params = sorted(
                p
                for p in ev.parameters_used(new_exprs.get(name))
                if p not in old_params or old_params[p].resolved != ev.params[p].resolved
            )
            if changed_params and not edited:
                # a changed parameter value gives a Static detail naming it and a Dynamic one (AWS's example)
                details += [_detail(target, "Static", "ParameterReference", p) for p in changed_params]
                details.append(_detail(target, "Dynamic", "DirectModification"))
            else:
                details.append(_detail(target, "Static", "DirectModification"))
    if definition.get("Metadata") != previous.definition.get("Metadata"):
        details.append(
            _detail({"Attribute": "Metadata", "RequiresRecreation": "Never"}, "Static", "DirectModification")
        )
    retyped = new_type != previous.resource_type
    if not details and new_type == "AWS::CloudFormation::Stack":
        # "If you made no changes to the AWS::CloudFormation::Stack resource, CloudFormation sets the
        # ChangeSource to Automatic because the nested stack's template might have changed." (ResourceChangeDetail)
        details.append(_detail({"Attribute": "Properties", "RequiresRecreation": "Never"}, "Dynamic", "Automatic"))
    if not details and not retyped:
        return None
    recreation = {(d["Target"]["RequiresRecreation"], d["Evaluation"]) for d in details}
    if retyped or ("Always", "Static") in recreation:
        replacement = "True"
    elif any(r in ("Always", "Conditionally") for r, _ in recreation):
        replacement = "Conditional"
    else:
        replacement = "False"
    attributes = {d["Target"]["Attribute"] for d in details}
    return {
        "Action": "Modify",
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": previous.physical_id,
        "ResourceType": new_type,
        "Replacement": replacement,
        "Scope": [a for a in ("Tags", "Properties", "Metadata") if a in attributes],
        "Details": details,
    }


def _automatic_only(change: dict[str, Any]) -> bool:
    """A nested stack listed only because its own template might have changed."""
    return bool(change["Details"]) and all(d["ChangeSource"] == "Automatic" for d in change["Details"])


def _live_resources(stack: Stack) -> dict[str, StackResource]:
    return {
        k: r
        for k, r in stack.resources.items()
        if r.provisioned is not None and r.status not in ("DELETE_COMPLETE", "DELETE_SKIPPED")
    }


def _changes(ev: _Evaluation, old_params: dict[str, ResolvedParameter]) -> list[dict[str, Any]]:
    """The Changes of a change set: Add, Modify and Remove, in dependency order of the new template."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id in ev.model.order:
        if not ev.included(logical_id):
            continue
        resource_type = str(ev.model.resources[logical_id]["Type"])
        previous = ev.live.get(logical_id)
        if previous is None:
            ev.changed[logical_id] = "add"
            found[logical_id] = {
                "Action": "Add",
                "LogicalResourceId": logical_id,
                "ResourceType": resource_type,
                "Scope": [],
                "Details": [],
            }
            continue
        change = _modification(ev, logical_id, previous, old_params)
        if change is not None:
            ev.changed[logical_id] = "modify" if change["Replacement"] == "False" else "replace"
            found[logical_id] = change
    ordered = [found[k] for k in ev.model.resources if k in found]
    for logical_id, previous in ev.live.items():
        if logical_id not in ev.model.resources or not ev.included(logical_id):
            ordered.append(
                {
                    "Action": "Remove",
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": previous.physical_id,
                    "ResourceType": previous.resource_type,
                    "Scope": [],
                    "Details": [],
                }
            )
    return [{"Type": "Resource", "ResourceChange": change} for change in ordered]


# -- the API actions -----------------------------------------------------------------------------------
def _store(self: CloudFormationResponse) -> ChangeSetStore:
    return stores[self.current_account][self.region]


def _stack_events_since(stack: Stack, mark: int) -> Iterator[str]:
    """Statuses of the stack's own events recorded after `mark`."""
    return (e.status for e in stack.events[mark:] if e.physical_id == stack.stack_id)


def _refresh(engine: CloudFormationEngine, change_set: ChangeSet) -> ChangeSet:
    """Bring the execution status up to date with the stack (operations may finish after the call returns)."""
    stack = engine.find_stack(change_set.stack_id, include_deleted=True)
    if change_set.execution_status == "AVAILABLE":
        # "OBSOLETE ... because the stack was already updated" (ChangeSetSummary, API reference)
        if stack is None or any(s.endswith("_IN_PROGRESS") for s in _stack_events_since(stack, change_set.mark)):
            change_set.execution_status = "OBSOLETE"
    elif (
        change_set.execution_status == "EXECUTE_IN_PROGRESS"
        and stack is not None
        and not stack.status.endswith("_IN_PROGRESS")
    ):
        complete = stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
        change_set.execution_status = "EXECUTE_COMPLETE" if complete else "EXECUTE_FAILED"
    return change_set


def find(self: CloudFormationResponse) -> ChangeSet:
    """The change set a request names (an ARN, or a name and StackName), with AWS's errors."""
    name = self._get_param("ChangeSetName")
    stack_name = self._get_param("StackName")
    store = _store(self)
    if name.startswith("arn:"):
        change_set = store.change_sets.get(name)
    else:
        if not stack_name:
            raise ValidationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
        stack = api._engine(self).find_stack(stack_name, include_deleted=stack_name.startswith("arn:"))
        if stack is None:
            raise ValidationError(f"Stack [{stack_name}] does not exist")
        named = [c for c in store.change_sets.values() if c.stack_id == stack.stack_id and c.name == name]
        change_set = named[-1] if named else None
    if change_set is None:
        raise ChangeSetNotFoundException(f"ChangeSet [{name}] does not exist")
    return _refresh(api._engine(self), change_set)


def records_of(self: CloudFormationResponse, stack_id: str | None) -> list[dict[str, Any]]:
    """DescribeEvents records of the change sets of a stack (of every stack when None)."""
    return [r for c in _store(self).change_sets.values() if stack_id in (None, c.stack_id) for r in c.records]


def _check_names(stack_name: str, change_set_name: str | None, change_set_type: str) -> None:
    if not change_set_name or not _NAME.match(change_set_name) or len(change_set_name) > 128:
        raise ValidationError(
            f"1 validation error detected: Value '{change_set_name}' at 'changeSetName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )
    if change_set_type not in _TYPES:
        raise ValidationError(
            f"1 validation error detected: Value '{change_set_type}' at 'changeSetType' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(_TYPES)}]"
        )
    if change_set_type == "IMPORT":
        raise SandboxNotSupported(
            "The course sandbox does not import existing resources into stacks yet; on AWS, an IMPORT change "
            "set brings them under the stack's management."
        )
    if not stack_name.startswith("arn:") and (not _NAME.match(stack_name) or len(stack_name) > 128):
        raise ValidationError(
            f"1 validation error detected: Value '{stack_name}' at 'stackName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )


def _same_name(
    store: ChangeSetStore, stack: Stack | None, name: str, body: str | None, given: dict[str, str]
) -> ChangeSet | None:
    """A change set of the stack that already has this name and was not executed: the call is idempotent
    when it asks for the same thing, else refused as AWS refuses it."""
    if stack is None:
        return None
    for existing in store.change_sets.values():
        if existing.stack_id != stack.stack_id or existing.name != name:
            continue
        if existing.execution_status.startswith("EXECUTE"):
            continue  # an executed change set's name can be used again
        for attribute, same in (("Template", existing.template_body == body), ("Parameters", existing.given == given)):
            if not same:
                raise ChangeSetAlreadyExists(
                    f"ChangeSet {name} cannot be created due to a mismatch with existing attribute {attribute}"
                )
        return existing
    return None


def _placeholder(
    engine: CloudFormationEngine, name: str, model: TemplateModel | None, parent: Stack | None = None
) -> Stack:
    """The REVIEW_IN_PROGRESS stack a CREATE change set makes for a stack that does not exist yet."""
    stack = Stack(
        stack_id=new_stack_id(engine.account_id, engine.region_name, name),
        name=name,
        account_id=engine.account_id,
        region=engine.region_name,
        template_body="",
        # DescribeStacks shows no description for a stack in review; the rest lets DeleteStack read the template
        template={k: v for k, v in (model.doc if model else {}).items() if k != "Description"},
        parameters={},
    )
    if parent is not None:  # a nested stack the root change set would add
        stack.parent_id, stack.root_id = parent.stack_id, parent.root_id or parent.stack_id
    stack.stack_event("REVIEW_IN_PROGRESS", "User Initiated")
    engine.stacks[stack.stack_id] = stack
    return stack


@dataclass
class _Options:
    """What a change set request asks for besides the stack's inputs; nested change sets inherit it."""

    name: str
    change_set_type: str
    description: str | None
    include_nested_stacks: bool
    on_stack_failure: str | None
    disable_validation: bool = False


def _early_findings(
    engine: CloudFormationEngine, change_set: ChangeSet, evaluation: _Evaluation, old_definitions: dict[str, Any]
) -> list[early_validation.Finding]:
    """Pre-deployment validation of a change set: FAIL checks on the template's resources, and the WARN check
    of buckets the change set would delete while they still hold objects."""
    resources = {}
    for logical_id in evaluation.model.order:
        resource_type = str(evaluation.model.resources[logical_id]["Type"])
        if not evaluation.included(logical_id) or not early_validation.validated(resource_type):
            continue
        try:
            resources[logical_id] = (resource_type, evaluation.properties(logical_id))
        except _Failed:
            continue  # the change set reports this itself
    owned = {r.physical_id for r in evaluation.live.values()}
    findings = early_validation.check(resources, engine.account_id, engine.region_name, owned)
    for entry in change_set.changes:
        change = entry["ResourceChange"]
        deleting = change["Action"] == "Remove" or change.get("Replacement") == "True"
        if change["ResourceType"] != "AWS::S3::Bucket" or not deleting:
            continue
        policy_key = "DeletionPolicy" if change["Action"] == "Remove" else "UpdateReplacePolicy"
        policy = (old_definitions.get(change["LogicalResourceId"]) or {}).get(policy_key, "Delete")
        if policy == "Delete":
            warning = early_validation.bucket_not_empty(
                change["LogicalResourceId"], engine.account_id, change["PhysicalResourceId"]
            )
            findings += [warning] if warning else []
    return findings


def _validate(engine: CloudFormationEngine, change_set: ChangeSet, evaluation: _Evaluation, options: _Options) -> bool:
    """Run pre-deployment validation (unless disabled) as the change set's CREATE_CHANGESET operation.

    False if a FAIL finding fails the change set, whose StatusReason then names the checks that failed."""
    operation = Operation(new_operation_id(), "CREATE_CHANGESET", clock.now())
    change_set.operation = operation
    change_set.records.append(stack_event_record(change_set.stack_id, operation, ending=False))
    old_definitions = {k: r.definition for k, r in evaluation.live.items()}
    findings = [] if options.disable_validation else _early_findings(engine, change_set, evaluation, old_definitions)
    change_set.records += [
        validation_record(change_set.stack_id, operation.operation_id, "CREATE_CHANGESET", f) for f in findings
    ]
    failed = bool(early_validation.blocking(findings))
    operation.status, operation.ended = ("FAILED" if failed else "SUCCEEDED"), clock.now()
    change_set.records.append(stack_event_record(change_set.stack_id, operation, ending=True))
    if failed:
        change_set.status, change_set.status_reason = "FAILED", early_validation.change_set_reason(findings)
        change_set.execution_status = "UNAVAILABLE"
    return not failed


def _work_out(
    engine: CloudFormationEngine,
    store: ChangeSetStore,
    request: StackRequest,
    stack: Stack | None,
    options: _Options,
    parent: ChangeSet | None = None,
    parent_stack: Stack | None = None,
) -> ChangeSet:
    """Make a change set of `stack` (None: a stack to create) and, with IncludeNestedStacks, of its nested stacks."""
    capabilities = request.capabilities or []
    body = request.template_body or ""
    is_update = options.change_set_type == "UPDATE"
    model: TemplateModel | None = None
    params: dict[str, ResolvedParameter] = {}
    refused: str | None = None
    try:
        # a change set shows what a transform makes, so it needs no CAPABILITY_AUTO_EXPAND to be created
        model = engine._model(body, [*capabilities, "CAPABILITY_AUTO_EXPAND"])
        engine._check_capabilities(model, capabilities)
        params = resolve_parameters(
            model.parameters,
            request.parameters or {},
            stack.parameter_values() if is_update and stack is not None else None,
            request.use_previous_values or set(),
            engine._ssm_lookup,
        )
    except CloudFormationError as error:
        if parent is None:
            raise  # the request itself is refused
        refused = str(error.message)  # a nested stack's template or parameters: its change set fails
    if stack is None:
        stack = _placeholder(engine, request.name, model, parent_stack)
    change_set = ChangeSet(
        change_set_id=(
            f"arn:aws:cloudformation:{engine.region_name}:{engine.account_id}:changeSet/"
            f"{options.name}/{mock_random.uuid4()}"
        ),
        name=options.name,
        stack_id=stack.stack_id,
        stack_name=stack.name,
        change_set_type=options.change_set_type,
        template_body=body,
        parameters=params,
        given=request.parameters or {},
        use_previous=request.use_previous_values or set(),
        capabilities=capabilities,
        tags=request.tags,
        notification_arns=request.notification_arns or [],
        role_arn=request.role_arn,
        description=options.description,
        include_nested_stacks=options.include_nested_stacks,
        on_stack_failure=options.on_stack_failure,
        mark=len(stack.events),
    )
    if parent is not None:
        change_set.parent_change_set_id = parent.change_set_id
        change_set.root_change_set_id = parent.root_change_set_id or parent.change_set_id
    store.change_sets[change_set.change_set_id] = change_set
    if model is None:
        change_set.status, change_set.status_reason, change_set.execution_status = "FAILED", refused, "UNAVAILABLE"
        return change_set
    evaluation = _Evaluation(engine, stack, model, params, _live_resources(stack) if is_update else {})
    try:
        change_set.changes = _changes(evaluation, stack.parameters)
        if not _validate(engine, change_set, evaluation, options):
            return change_set
        if options.include_nested_stacks:
            _nested_change_sets(engine, store, change_set, evaluation, options)
    except _Failed as failure:
        change_set.status, change_set.status_reason = "FAILED", str(failure)
        change_set.execution_status = "UNAVAILABLE"
        return change_set
    new_tags = request.tags if request.tags is not None else stack.tags
    if (
        parent is None
        and is_update
        and all(_automatic_only(c["ResourceChange"]) for c in change_set.changes)
        and model.doc == stack.template
        and {k: (p.value, p.resolved) for k, p in params.items()}
        == {k: (p.value, p.resolved) for k, p in stack.parameters.items()}
        and new_tags == stack.tags
    ):
        change_set.status, change_set.status_reason = "FAILED", NO_CHANGES
        change_set.changes = []
        change_set.execution_status = "UNAVAILABLE"
        _delete(engine, store, change_set, keep=True)
    if parent is not None:
        # "Executable from root change set" (the nested change set's StatusReason in AWS's example).
        # A nested stack with nothing to change keeps an empty change set (wording and behaviour ours:
        # AWS does not document that case).
        change_set.execution_status, change_set.status_reason = "UNAVAILABLE", "Executable from root change set"
    return change_set


def _nested_change_sets(
    engine: CloudFormationEngine,
    store: ChangeSetStore,
    change_set: ChangeSet,
    evaluation: _Evaluation,
    options: _Options,
) -> None:
    """IncludeNestedStacks: a change set for each nested stack the change set adds or modifies, linked by the
    parent's ResourceChange.ChangeSetId. A nested stack to add gets a REVIEW_IN_PROGRESS stack, as on AWS.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/change-sets-for-nested-stacks.html
    """
    stack = engine.find_stack(change_set.stack_id)
    assert stack is not None
    for entry in change_set.changes:
        change = entry["ResourceChange"]
        if change["ResourceType"] != "AWS::CloudFormation::Stack" or change["Action"] not in ("Add", "Modify"):
            continue
        logical_id = change["LogicalResourceId"]
        properties = evaluation.properties(logical_id)
        try:
            body = nested_template(logical_id, properties, engine.account_id)
        except ResourceFailure as failure:
            raise _Failed(failure.reason) from None
        child = engine.find_stack(change["PhysicalResourceId"]) if change["Action"] == "Modify" else None
        request = StackRequest(
            # AWS names a nested change set <parent change set>-<LogicalId>-<SUFFIX> (seen in its responses)
            name=child.stack_id if child else f"{stack.name}-{logical_id}-{_suffix()}"[:128],
            template_body=body,
            parameters=nested_parameters(properties),
            capabilities=change_set.capabilities,
            tags=change_set.tags,
        )
        nested_options = _Options(
            name=f"{change_set.name}-{logical_id}-{_suffix()}"[:128],
            change_set_type="UPDATE" if child else "CREATE",
            description=options.description,
            include_nested_stacks=True,
            on_stack_failure=None,
            disable_validation=options.disable_validation,
        )
        nested = _work_out(engine, store, request, child, nested_options, change_set, stack)
        change["ChangeSetId"] = nested.change_set_id
        if nested.status == "FAILED":
            raise _Failed(
                f"Nested change set {nested.change_set_id} was not successfully created: Currently in FAILED."
            )


def _delete(engine: CloudFormationEngine, store: ChangeSetStore, change_set: ChangeSet, keep: bool = False) -> None:
    """Delete a change set (unless `keep`) and its nested change sets, with the stacks in review they made.

    "delete-change-set must be executed from the root change set and will delete the whole hierarchy of change
    sets. Nested stacks in the REVIEW_IN_PROGRESS status will also be deleted if they were created during the
    create-change-set action." (Change sets for nested stacks, User Guide)
    """
    for nested in store.descendants(change_set):
        store.change_sets.pop(nested.change_set_id, None)
        stack = engine.find_stack(nested.stack_id)
        if stack is not None and stack.status == "REVIEW_IN_PROGRESS":
            engine.delete_stack(stack.stack_id)
    if not keep:
        store.change_sets.pop(change_set.change_set_id, None)


def create_change_set(self: CloudFormationResponse) -> ActionResult:
    engine = api._engine(self)
    request = api._stack_request(self)
    options = _Options(
        name=self._get_param("ChangeSetName"),
        change_set_type=self._get_param("ChangeSetType") or "UPDATE",
        description=self._get_param("Description"),
        include_nested_stacks=bool(self._get_param("IncludeNestedStacks", False)),
        on_stack_failure=self._get_param("OnStackFailure"),
        disable_validation=bool(self._get_param("DisableValidation", False)),
    )
    _check_names(request.name, options.name, options.change_set_type)
    if self._get_param("DeploymentMode") == "REVERT_DRIFT":
        raise SandboxNotSupported(
            "The course sandbox does not make drift-aware change sets (DeploymentMode REVERT_DRIFT) yet; on AWS, "
            "such a change set also lists the changes that bring drifted resources back to their template."
        )
    with engine.lock:
        stack = engine.find_stack(request.name, include_deleted=request.name.startswith("arn:"))
        if options.change_set_type == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise ValidationError(
                    f"Stack [{request.name}] already exists and cannot be created again with the changeSet "
                    f"[{options.name}]."
                )
        else:
            if stack is None or stack.status == "DELETE_COMPLETE":
                raise ValidationError(f"Stack [{request.name}] does not exist")
            # a stack kept in CREATE_FAILED or UPDATE_FAILED can have change sets too (Stack failure options)
            if stack.status not in STABLE and not (stack.status in FAILED_PRESERVED and stack.paused is not None):
                raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
            if request.use_previous_template:
                request.template_body = stack.template_body
        if not request.template_body:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        store = _store(self)
        existing = _same_name(store, stack, options.name, request.template_body, request.parameters or {})
        if existing is not None:
            return ActionResult({"Id": existing.change_set_id, "StackId": existing.stack_id})
        change_set = _work_out(engine, store, request, stack, options)
    return ActionResult({"Id": change_set.change_set_id, "StackId": change_set.stack_id})


def describe_change_set(self: CloudFormationResponse) -> ActionResult:
    return ActionResult(find(self).to_api())


def list_change_sets(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    engine = api._engine(self)
    stack = engine.find_stack(name, include_deleted=name.startswith("arn:"))
    if stack is None:
        raise ValidationError(f"Stack [{name}] does not exist")
    summaries = [
        _refresh(engine, c).summary() for c in _store(self).change_sets.values() if c.stack_id == stack.stack_id
    ]
    return ActionResult({"Summaries": summaries})


def _refuse_nested(change_set: ChangeSet, action: str) -> None:
    if change_set.root_change_set_id:
        # wording ours: AWS documents the rule ("must be executed from the root change set"), not its message
        raise InvalidChangeSetStatusException(
            f"ChangeSet [{change_set.change_set_id}] belongs to a nested stack; {action} its root change set "
            f"[{change_set.root_change_set_id}] instead"
        )


def delete_change_set(self: CloudFormationResponse) -> EmptyResult:
    change_set = find(self)
    _refuse_nested(change_set, "delete")
    with api._engine(self).lock:
        _delete(api._engine(self), _store(self), change_set)
    return EmptyResult()


def execute_change_set(self: CloudFormationResponse) -> EmptyResult:
    change_set = find(self)
    if change_set.status != "CREATE_COMPLETE":
        raise InvalidChangeSetStatusException(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of [{change_set.status}]"
        )
    if change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatusException(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution status of "
            f"[{change_set.execution_status}]"
        )
    engine = api._engine(self)
    stack = engine.find_stack(change_set.stack_id, include_deleted=True)
    assert stack is not None  # _refresh made the change set OBSOLETE otherwise
    disable_rollback = self._get_param("DisableRollback")
    request = StackRequest(
        name=change_set.stack_name if change_set.change_set_type == "CREATE" else change_set.stack_id,
        template_body=change_set.template_body,
        parameters=change_set.given,
        use_previous_values=change_set.use_previous,
        capabilities=change_set.capabilities,
        tags=change_set.tags,
        notification_arns=change_set.notification_arns,
        role_arn=change_set.role_arn,
        on_failure=change_set.on_stack_failure,
        disable_rollback=None if disable_rollback is None else bool(disable_rollback),
    )
    run: Callable[[], Stack]
    if change_set.change_set_type == "CREATE":
        run = lambda: engine.create_stack(request, placeholder=stack)  # noqa: E731
    else:
        run = lambda: engine.update_stack(request)  # noqa: E731
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    try:
        run()
    except BaseException:
        change_set.execution_status = "AVAILABLE"
        raise
    _refresh(engine, change_set)
    store = _store(self)
    hierarchy = [change_set, *store.descendants(change_set)]
    for nested in hierarchy[1:]:  # the nested change sets ran with their root
        nested.execution_status, nested.status_reason = change_set.execution_status, None
    # "After you execute a change set, CloudFormation deletes any additional change sets that are associated
    # with the stack because they're no longer valid for the updated stack." (Execute a change set, User Guide)
    stacks, executed = {c.stack_id for c in hierarchy}, {c.change_set_id for c in hierarchy}
    for other in [c for c in store.change_sets.values() if c.stack_id in stacks and c.change_set_id not in executed]:
        if other.change_set_id in store.change_sets and not other.root_change_set_id:
            _delete(engine, store, other)
    return EmptyResult()


# moto reshapes its own change sets' Changes and Parameters on the way out; these are already in AWS's shape.
# (api.install copies this mapping after importing this module, so the removal lasts.)
CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
    k: v
    for k, v in CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
    if not k.startswith("DescribeChangeSetOutput.")
}

# API action name (snake_case, as moto's CloudFormationResponse names them) -> function(self: response)
ACTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (create_change_set, describe_change_set, list_change_sets, delete_change_set, execute_change_set)
}
