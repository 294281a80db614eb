"""The CloudFormation engine: stack operations with AWS's statuses, events, rollback and exports.

One `CloudFormationEngine` per account and Region (a moto BackendDict, so a sandbox reset clears it).
Operations run synchronously: when create_stack returns, the stack has reached its final status and
its events tell the whole story, as they would once AWS finishes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend

from .. import clock
from . import dynamic_references, early_validation, operations, stack_policy
from .analysis import PSEUDO_PARAMETERS, TemplateModel
from .drift_readers import already_deleted
from .errors import (
    AlreadyExistsException,
    InsufficientCapabilitiesException,
    PropertyValidationFailure,
    ResourceFailure,
    SandboxNotSupported,
    StackFailure,
    ValidationError,
)
from .intrinsics import NO_VALUE, Evaluator, TemplateError, scan
from .operation_log import validation_record
from .parameters import ResolvedParameter, resolve_parameters
from .resources import Provisioned, ResourceRequest, name_property, needs_replacement, provider_for
from .rules import check_rules
from .schema import is_custom_type, property_errors
from .stack import STABLE, Output, Stack, StackResource, new_stack_id
from .template import parse_template

_STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
ROLLBACK_REQUESTED = " Rollback requested by user."


@dataclass
class StackRequest:
    """The arguments of CreateStack / UpdateStack, already read from the request."""

    name: str
    template_body: str | None = None
    use_previous_template: bool = False
    parameters: dict[str, str] | None = None
    use_previous_values: set[str] | None = None
    capabilities: list[str] | None = None
    tags: list[dict[str, str]] | None = None
    on_failure: str | None = None
    disable_rollback: bool | None = None
    termination_protection: bool = False
    notification_arns: list[str] | None = None
    role_arn: str | None = None
    timeout_in_minutes: int | None = None
    stack_policy: str | None = None
    stack_policy_during_update: str | None = None
    disable_validation: bool = False  # skip pre-deployment validation (early_validation.py)


FAILED_PRESERVED = ("CREATE_FAILED", "UPDATE_FAILED")  # a failure kept with DisableRollback: update or roll back


@dataclass
class Paused:
    """A failed operation whose rollback was disabled: what RollbackStack returns the stack to.

    `old` is the last known stable state (None when the stack never had one: it was created with a failure);
    `changes` lists what the failed operations changed since, in order, for the rollback to undo.
    """

    old: dict[str, Any] | None
    changes: list[tuple[str, str, StackResource | None]]
    failed_in_place: dict[str, dict[str, Any]] = field(default_factory=dict)  # what a failed update attempted


def pseudo_parameter(name: str, stack: Stack) -> Any:
    """The value of a pseudo parameter (AWS::AccountId, AWS::StackName ...) for a stack."""
    return {
        "AWS::AccountId": stack.account_id,
        "AWS::Region": stack.region,
        "AWS::StackName": stack.name,
        "AWS::StackId": stack.stack_id,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": stack.notification_arns,
    }[name]


def _join_names(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C' (how AWS lists importing stacks)."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class CloudFormationEngine(BaseBackend):
    """Stacks of one account and Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.stacks: dict[str, Stack] = {}
        self.lock = threading.RLock()

    # -- lookup ----------------------------------------------------------------------------------
    def find_stack(self, name_or_id: str, include_deleted: bool = False) -> Stack | None:
        """A stack by name (live ones only, as on AWS) or by stack id (deleted ones too)."""
        if name_or_id in self.stacks:
            stack = self.stacks[name_or_id]
            return stack if include_deleted or not stack.deleted_for_good else None
        for stack in reversed(list(self.stacks.values())):
            if stack.name == name_or_id and not stack.deleted_for_good:
                return stack
        return None

    def get_stack(self, name_or_id: str) -> Stack:
        stack = self.find_stack(name_or_id, include_deleted=True)
        if stack is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return stack

    def live_stacks(self) -> Iterator[Stack]:
        return (s for s in self.stacks.values() if not s.deleted_for_good)

    def exports(self) -> dict[str, tuple[Stack, Any]]:
        """Every export in this account and Region: name -> (exporting stack, value)."""
        found: dict[str, tuple[Stack, Any]] = {}
        for stack in self.live_stacks():
            if stack.status in STABLE or stack.status.startswith("UPDATE") or stack.status == "DELETE_FAILED":
                for name, value in stack.exports.items():
                    found[name] = (stack, value)
        return found

    def importers(self, export_name: str) -> list[str]:
        """Names of the live stacks that import an export."""
        return [s.name for s in self.live_stacks() if export_name in s.imports]

    # -- template helpers ---------------------------------------------------------------------------
    def _model(self, body: str, capabilities: list[str]) -> TemplateModel:
        doc = parse_template(body)
        if doc.get("Transform"):
            # AWS expands transforms (AWS::Serverless, AWS::Include, macros) before anything else is checked
            if "CAPABILITY_AUTO_EXPAND" not in capabilities:
                raise InsufficientCapabilitiesException("Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
            raise SandboxNotSupported(
                "The course sandbox does not expand transforms (SAM, AWS::Include, macros) yet; on AWS, "
                "CloudFormation expands them before it processes the template."
            )
        model = TemplateModel.build(doc, self.region_name)
        dynamic_references.check_template(
            model.resources, parameters=model.parameters, account_id=self.account_id, region=self.region_name
        )
        return model

    def _ssm_lookup(self, name: str) -> str | None:
        from moto.ssm.models import ssm_backends

        try:
            parameter = ssm_backends[self.account_id][self.region_name].get_parameter(name)
        except Exception:
            return None
        if parameter is not None and parameter.parameter_type == "SecureString":
            # AWS refuses at once (recorded against real stacks: cdktn-io/terraform-provider-cfncompat, live tests)
            raise ValidationError(
                f"Parameters [{name}] referenced by template have types not supported by CloudFormation."
            )
        return parameter.value if parameter is not None else None

    def _availability_zones(self, region: str) -> list[str]:
        from moto.ec2.models import ec2_backends

        zones = ec2_backends[self.account_id][region].describe_availability_zones()
        return [z.name for z in zones]

    # -- operations --------------------------------------------------------------------------------
    def create_stack(
        self, request: StackRequest, placeholder: Stack | None = None, parent: Stack | None = None
    ) -> Stack:
        """CreateStack: validate, then provision with AWS's events; roll back on failure.

        `placeholder` is the REVIEW_IN_PROGRESS stack a CREATE change set made: its id and events are kept.
        `parent` makes the new stack a nested stack of it (ParentId, RootId).
        """
        with self.lock:
            if not _STACK_NAME.match(request.name) or len(request.name) > 128:
                raise ValidationError(
                    f"1 validation error detected: Value '{request.name}' at 'stackName' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
                )
            existing = self.find_stack(request.name)
            if existing is not None and existing.status == "REVIEW_IN_PROGRESS" and placeholder is None:
                placeholder = existing  # a CREATE change set's stack: CreateStack takes it over, id and all
            if existing is not None and existing is not placeholder:
                raise AlreadyExistsException(f"Stack [{request.name}] already exists")
            if not request.template_body:
                raise ValidationError("Either Template URL or Template Body must be specified.")
            model = self._model(request.template_body, request.capabilities or [])
            self._check_capabilities(model, request.capabilities or [])
            params = resolve_parameters(model.parameters, request.parameters or {}, None, set(), self._ssm_lookup)
            check_rules(model.doc, params)
            stack = Stack(
                stack_id=placeholder.stack_id
                if placeholder
                else new_stack_id(self.account_id, self.region_name, request.name),
                name=request.name,
                account_id=self.account_id,
                region=self.region_name,
                template_body=request.template_body,
                template=model.doc,
                parameters=params,
                tags=request.tags or [],
                capabilities=request.capabilities or [],
                notification_arns=request.notification_arns or [],
                role_arn=request.role_arn,
                disable_rollback=bool(request.disable_rollback) or request.on_failure == "DO_NOTHING",
                termination_protection=request.termination_protection,
                timeout_in_minutes=request.timeout_in_minutes,
                stack_policy=request.stack_policy,
            )
            run = _Run(self, stack, model)
            run.validate = not request.disable_validation
            run.check_conditional_references()
            run.check_mappings()
            if placeholder is not None:
                stack.events, stack.created, stack.log = placeholder.events, placeholder.created, placeholder.log
            if parent is not None:
                stack.parent_id, stack.root_id = parent.stack_id, parent.root_id or parent.stack_id
            self.stacks[stack.stack_id] = stack
            stack.stack_event("CREATE_IN_PROGRESS", "User Initiated")
        on_failure = request.on_failure or ("DO_NOTHING" if request.disable_rollback else "ROLLBACK")
        self._operate(stack, lambda: run.create(on_failure=on_failure))
        return stack

    def update_stack(self, request: StackRequest, rollback: bool = False) -> Stack:
        """UpdateStack: in-place updates, replacements, cleanup; UPDATE_ROLLBACK on failure.

        `rollback=True` is a nested stack being put back by its parent's rollback (UPDATE_ROLLBACK_* statuses).
        """
        with self.lock:
            stack = self.find_stack(request.name)
            if stack is None:
                raise ValidationError(f"Stack [{request.name}] does not exist")
            if stack.status not in STABLE and not (stack.status in FAILED_PRESERVED and stack.paused is not None):
                raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
            if stack.status in FAILED_PRESERVED and not request.disable_rollback:
                # "When you update a stack that's in a FAILED state, you must select Preserve successfully
                # provisioned resources" (Stack failure options, User Guide); wording ours
                raise ValidationError(
                    f"Stack:{stack.stack_id} is in {stack.status} state; to update it, preserve successfully "
                    "provisioned resources (DisableRollback), or roll it back with RollbackStack."
                )
            if request.use_previous_template:
                body = stack.template_body
            elif request.template_body:
                body = request.template_body
            else:
                raise ValidationError("Either Template URL or Template Body must be specified.")
            model = self._model(body, request.capabilities or [])
            self._check_capabilities(model, request.capabilities or [])  # acknowledged on every update
            params = resolve_parameters(
                model.parameters,
                request.parameters or {},
                stack.parameter_values(),
                request.use_previous_values or set(),
                self._ssm_lookup,
            )
            check_rules(model.doc, params)
            new_tags = request.tags if request.tags is not None else stack.tags
            if (
                stack.status not in FAILED_PRESERVED  # retrying a failed operation changes what failed
                and model.doc == stack.template
                and {k: (p.value, p.resolved) for k, p in params.items()}
                == {k: (p.value, p.resolved) for k, p in stack.parameters.items()}
                and new_tags == stack.tags
            ):
                raise ValidationError("No updates are to be performed.")
            run = _Run(self, stack, model, params)
            run.policy = request.stack_policy_during_update or stack.stack_policy
            run.as_rollback = rollback
            run.validate = not request.disable_validation and not rollback
            run.check_conditional_references()
            run.check_mappings()
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS" if rollback else "UPDATE_IN_PROGRESS", "User Initiated")
        disable = request.disable_rollback if request.disable_rollback is not None else False

        def work() -> None:
            run.update(body, params, new_tags, request.capabilities or [], disable)
            if request.stack_policy is not None and stack.status == "UPDATE_COMPLETE":
                stack.stack_policy = request.stack_policy  # a new policy given with the update applies after it

        self._operate(stack, work)
        return stack

    def delete_stack(self, name_or_id: str, retain: list[str] | None = None) -> None:
        """DeleteStack: refused by termination protection; blocked (not failed) by exports in use.

        A stack whose operation is waiting (on a custom resource) has that wait cancelled first.
        """
        stack = self.find_stack(name_or_id)
        if stack is not None and stack.operation is not None and not stack.operation.done.is_set():
            if stack.termination_protection:
                raise ValidationError(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
            stack.operation.cancel()
            stack.operation.done.wait()
        with self.lock:
            stack = self.find_stack(name_or_id)
            if stack is None or stack.deleted_for_good:
                return  # AWS answers success for a stack that does not exist
            if stack.termination_protection:
                raise ValidationError(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
            if retain and stack.status != "DELETE_FAILED":
                raise ValidationError(
                    f"Invalid operation on stack [{stack.stack_id}]. "
                    "RetainResources can only be specified when the stack is "
                    "in the DELETE_FAILED state"
                )
            previous = stack.status
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            for export_name in stack.exports:
                users = [n for n in self.importers(export_name) if n != stack.name]
                if users:
                    stack.stack_event(
                        previous,
                        f"Export {export_name} cannot be deleted as it is in use by {_join_names(users)}",
                    )
                    return
        run = _Run(self, stack, None)
        self._operate(stack, lambda: run.delete(set(retain or [])))

    def _operate(self, stack: Stack, work: Callable[[], None]) -> None:
        """Run a stack operation; return when it is done, or waiting on the outside world (see operations.py)."""

        def failed(error: BaseException) -> None:
            stack.stack_event(
                stack.status.replace("IN_PROGRESS", "FAILED"),
                f"The course sandbox hit an internal error ({type(error).__name__}: {error}). "
                "This is a fault in the course, not in your template.",
            )

        stack.operation = operations.run(work, failed)

    def rollback_stack(self, name_or_id: str) -> Stack:
        """RollbackStack: a stack kept in CREATE_FAILED or UPDATE_FAILED goes back to its last stable state."""
        with self.lock:
            stack = self.find_stack(name_or_id)
            if stack is None:
                raise ValidationError(f"Stack [{name_or_id}] does not exist")
            if stack.status not in FAILED_PRESERVED or stack.paused is None:
                # wording ours: AWS documents the states (CREATE_FAILED, UPDATE_FAILED), not this message
                raise ValidationError(
                    f"Stack:{stack.stack_id} is in {stack.status} state and can not be rolled back; RollbackStack "
                    "works on a stack in CREATE_FAILED or UPDATE_FAILED."
                )
            model = TemplateModel.build(stack.template, stack.region) if stack.template.get("Resources") else None
            run = _Run(self, stack, model)
            creating = stack.paused.old is None
            stack.stack_event("ROLLBACK_IN_PROGRESS" if creating else "UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        self._operate(stack, run.roll_back_paused)
        return stack

    def cancel_update_stack(self, name_or_id: str) -> None:
        """CancelUpdateStack: only an update still in progress can be cancelled; it then rolls back."""
        stack = self.find_stack(name_or_id)
        if stack is None:
            raise ValidationError(f"Stack [{name_or_id}] does not exist")
        operation = stack.operation
        if stack.status != "UPDATE_IN_PROGRESS" or operation is None or operation.done.is_set():
            raise ValidationError("CancelUpdateStack cannot be called from current stack status")
        operation.cancel()  # the resource waiting is cancelled, and the update rolls back

    def continue_update_rollback(self, name_or_id: str, skip: list[str] | None = None, force: bool = False) -> None:
        """ContinueUpdateRollback: resume a rollback that failed, skipping the resources named; `force`
        (ForceRollback) skips every resource that fails to roll back again."""
        stack = self.find_stack(name_or_id)
        if stack is None:
            raise ValidationError(f"Stack [{name_or_id}] does not exist")
        if stack.parent_id:
            # "Don't specify the name of a nested stack ... use this operation on the parent stack" (API
            # reference); wording ours
            raise ValidationError(
                f"Stack {stack.stack_id} is a nested stack; continue the update rollback of its root stack instead."
            )
        if force and skip:
            # "ForceRollback and ResourcesToSkip are mutually exclusive" (API reference); wording ours
            raise ValidationError("ForceRollback and ResourcesToSkip are mutually exclusive; specify only one.")
        if any("." in name for name in skip or []):
            raise SandboxNotSupported(
                "The course sandbox does not skip resources inside nested stacks (NestedStackName.LogicalId) yet; "
                "on AWS, ResourcesToSkip accepts them in that form."
            )
        run = stack.pending_rollback
        # wording ours for both refusals: AWS does not document these messages
        if stack.status != "UPDATE_ROLLBACK_FAILED" or run is None:
            raise ValidationError(
                f"Stack {stack.stack_id} is in {stack.status} state and can not continue update rollback."
            )
        unknown = [name for name in skip or [] if name not in run.rollback_failed]
        if unknown:
            raise ValidationError(
                f"Resources to skip [{', '.join(unknown)}] must be in UPDATE_FAILED state; only resources that "
                "failed to roll back can be skipped."
            )
        stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        self._operate(stack, lambda: run.continue_rollback(set(skip or []), force))

    def update_termination_protection(self, name_or_id: str, enable: bool) -> Stack:
        with self.lock:
            stack = self.find_stack(name_or_id)
            if stack is None:
                raise ValidationError(f"Stack [{name_or_id}] does not exist")
            stack.termination_protection = enable
            return stack

    def _check_capabilities(self, model: TemplateModel, given: list[str]) -> None:
        needed, _ = model.required_capabilities()
        if needed == ["CAPABILITY_IAM"] and "CAPABILITY_NAMED_IAM" in given:
            return
        missing = [c for c in needed if c not in given]
        if missing:
            raise InsufficientCapabilitiesException(f"Requires capabilities : [{', '.join(missing)}]")


class _Run:
    """One stack operation: evaluates the template against the stack and drives the providers."""

    def __init__(
        self,
        engine: CloudFormationEngine,
        stack: Stack,
        model: TemplateModel | None,
        params: dict[str, ResolvedParameter] | None = None,
    ) -> None:
        self.engine = engine
        self.stack = stack
        self.model = model
        self.params = params if params is not None else stack.parameters
        self.imports: set[str] = set()
        self.policy: str | None = None  # the stack policy in force during an update
        self.as_rollback = False  # a nested stack being put back by its parent's rollback
        self.validate = False  # run pre-deployment validation before provisioning (CreateStack, UpdateStack)
        self._conditions: dict[str, bool] = {}
        # Resources visible to Ref/GetAtt during this run (the new state as it is being built).
        self.live: dict[str, StackResource] = {}
        self.rollback_changes: list[tuple[str, str, StackResource | None]] = []
        self.rollback_resources: dict[str, StackResource] = {}
        self.rollback_failed: list[str] = []
        # Per resource: properties with dynamic references as written, and as compared between updates.
        self.shown: dict[str, dict[str, Any]] = {}
        self.compared: dict[str, dict[str, Any]] = {}
        # In-place updates that failed: logical id -> the properties the failed update tried to apply.
        self.failed_in_place: dict[str, dict[str, Any]] = {}

    # -- evaluation --------------------------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name].resolved
        if name in PSEUDO_PARAMETERS:
            return pseudo_parameter(name, self.stack)
        resource = self.live.get(name)
        if resource is None or resource.provisioned is None:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{name}] in the "
                "Resources block of the template"
            )
        return resource.provisioned.ref

    def _getatt(self, name: str, attribute: str) -> Any:
        resource = self.live.get(name)
        if resource is None or resource.provisioned is None:
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {name}")
        return provider_for(resource.resource_type).get_att(
            self._request(name, resource.resource_type, resource.provisioned.properties),
            resource.provisioned,
            attribute,
        )

    def _import(self, name: str) -> Any:
        exports = self.engine.exports()
        if name not in exports or exports[name][0] is self.stack:
            raise StackFailure(f"No export named {name} found.")
        self.imports.add(name)
        return exports[name][1]

    def evaluator(self) -> Evaluator:
        assert self.model is not None
        return Evaluator(
            ref=self._ref,
            getatt=self._getatt,
            conditions=self._condition_values(),
            mappings=self.model.mappings,
            import_value=self._import,
            availability_zones=self.engine._availability_zones,
            region=self.engine.region_name,
        )

    def _condition_values(self) -> dict[str, bool]:
        assert self.model is not None
        if self._conditions or not self.model.conditions:
            return self._conditions
        pending = dict(self.model.conditions)
        values: dict[str, bool] = {}

        def evaluate(name: str, seen: tuple[str, ...] = ()) -> bool:
            if name in values:
                return values[name]
            if name in seen:
                raise ValidationError(f"Circular dependency between conditions: [{', '.join(seen)}]")
            for dependency in scan(pending[name]).conditions:
                if dependency in pending:
                    evaluate(dependency, (*seen, name))
            evaluator = Evaluator(
                self._ref,
                self._getatt,
                values,
                self.model.mappings,
                self._import,
                self.engine._availability_zones,
                self.engine.region_name,
            )
            values[name] = evaluator.condition(pending[name])
            return values[name]

        try:
            for name in pending:
                evaluate(name)
        except TemplateError as e:
            raise ValidationError(str(e)) from None
        self._conditions = values
        return values

    def included(self, logical_id: str) -> bool:
        assert self.model is not None
        condition = self.model.resources[logical_id].get("Condition")
        return condition is None or self._condition_values()[condition]

    def check_conditional_references(self) -> None:
        """A created resource may not refer to one its condition leaves out (AWS rejects the request)."""
        assert self.model is not None
        excluded = {k for k in self.model.resources if not self.included(k)}
        for logical_id in self.model.order:
            if logical_id in excluded:
                continue
            resource = self.model.resources[logical_id]
            missing = sorted(self.model.dependencies[logical_id] & excluded)
            # a reference inside the branch of an Fn::If that is not taken is fine
            live_refs = _taken_references(resource.get("Properties", {}), self._condition_values())
            missing = [m for m in missing if m in live_refs or m in _depends_on(resource)]
            if missing:
                raise ValidationError(
                    "Template format error: Unresolved resource dependencies "
                    f"[{', '.join(missing)}] in the Resources block of the template"
                )

    def check_mappings(self) -> None:
        """Fn::FindInMap lookups whose keys are known before provisioning must exist (AWS rejects the request)."""
        assert self.model is not None
        conditions = self._condition_values()
        fragments: list[Any] = [
            self.model.resources[k].get("Properties", {}) for k in self.model.order if self.included(k)
        ]
        fragments += [o for o in self.model.outputs.values() if conditions.get(o.get("Condition", ""), True)]
        evaluator = self.evaluator()
        for node in _function_nodes(fragments, "Fn::FindInMap", conditions):
            try:
                evaluator.resolve(node)
            except TemplateError as e:
                if str(e).startswith("Template error: Unable to get mapping"):
                    raise ValidationError(str(e)) from None
            except Exception:  # keys that depend on resources or imports are checked when provisioning
                continue

    def _request(
        self, logical_id: str, resource_type: str, properties: dict[str, Any], rolling_back: bool = False
    ) -> ResourceRequest:
        return ResourceRequest(
            logical_id,
            resource_type,
            properties,
            self.engine.account_id,
            self.engine.region_name,
            self.stack.name,
            self.stack.stack_id,
            rolling_back,
        )

    def _properties(self, logical_id: str) -> dict[str, Any]:
        assert self.model is not None
        definition = self.model.resources[logical_id]
        try:
            resolved = self.evaluator().resolve(definition.get("Properties") or {})
        except TemplateError as e:
            raise ResourceFailure(str(e)) from None
        resource_type = str(definition["Type"])
        where = {
            "account_id": self.engine.account_id,
            "region": self.engine.region_name,
            "resource_type": resource_type,
            "logical_id": logical_id,
        }
        # Events show the references as written (a secret never appears in them); a resource counts as
        # changed when its properties change with ssm references re-read, as on AWS (a rotated secret
        # alone does not update a resource).
        self.shown[logical_id] = resolved
        self.compared[logical_id] = dynamic_references.resolve_in_properties(resolved, services=("ssm",), **where)
        resolved = dynamic_references.resolve_in_properties(resolved, **where)
        if not is_custom_type(resource_type):
            errors = property_errors(resource_type, self.engine.region_name, resolved)
            if errors:
                raise PropertyValidationFailure(
                    f"Properties validation failed for resource {logical_id} with message:\n[{', '.join(errors)}]"
                )
        return resolved

    # -- create --------------------------------------------------------------------------------------
    def _create_resource(self, logical_id: str) -> StackResource:
        assert self.model is not None
        definition = self.model.resources[logical_id]
        resource = StackResource(logical_id, str(definition["Type"]), definition)
        self.live[logical_id] = resource
        self.stack.event(logical_id, "", resource.resource_type, "CREATE_IN_PROGRESS")
        properties = self._properties(logical_id)
        try:
            provisioned = provider_for(resource.resource_type).create(
                self._request(logical_id, resource.resource_type, properties)
            )
        except ResourceFailure as failure:
            resource.provisioned = failure.provisioned
            raise
        resource.provisioned = provisioned
        resource.shown_properties, resource.compared_properties = self.shown[logical_id], self.compared[logical_id]
        self.stack.event(
            logical_id,
            provisioned.physical_id,
            resource.resource_type,
            "CREATE_IN_PROGRESS",
            "Resource creation Initiated",
            self.shown[logical_id],
        )
        resource.status, resource.updated = "CREATE_COMPLETE", clock.now()
        self.stack.event(
            logical_id,
            provisioned.physical_id,
            resource.resource_type,
            "CREATE_COMPLETE",
            properties=self.shown[logical_id],
        )
        return resource

    def _outputs(self) -> list[Output]:
        assert self.model is not None
        outputs = []
        evaluator = self.evaluator()
        taken = {name: stack for name, (stack, _) in self.engine.exports().items() if stack is not self.stack}
        for key, spec in self.model.outputs.items():
            condition = spec.get("Condition")
            if condition is not None and not self._condition_values()[condition]:
                continue
            try:
                value = evaluator.resolve(spec["Value"])
                export = spec.get("Export")
                export_name = evaluator.resolve(export["Name"]) if isinstance(export, dict) else None
            except TemplateError as e:
                raise StackFailure(str(e)) from None
            if value is NO_VALUE:
                continue
            if export_name is not None and export_name in taken:
                raise StackFailure(
                    f"Export with name {export_name} is already exported by stack {taken[export_name].name}"
                )
            outputs.append(Output(key, value, spec.get("Description"), export_name))
        return outputs

    def _pre_resolve_imports(self) -> None:
        """Fn::ImportValue is resolved before any resource is touched (its name may not use resources)."""
        assert self.model is not None
        evaluator = self.evaluator()
        for node in _import_nodes({"R": self.model.resources, "O": self.model.outputs}):
            try:
                evaluator.resolve(node)
            except TemplateError:
                continue

    def create(self, on_failure: str) -> None:
        stack = self.stack
        assert self.model is not None
        stack.resources = self.live  # ListStackResources shows resources as they are created
        if self.validate and self._failed_validation("CREATE"):
            self._after_failed_validation(on_failure)
            return
        try:
            self._check_aws_typed_parameters()
            self._pre_resolve_imports()
            for logical_id in self.model.order:
                if self.included(logical_id):
                    try:
                        self._create_resource(logical_id)
                    except ResourceFailure as e:
                        invalid = isinstance(e, PropertyValidationFailure)
                        self._fail_resource(logical_id, "CREATE_FAILED", e.reason, invalid)
                        if invalid:
                            raise StackFailure(f"Validation failed for following resources: [{logical_id}].") from None
                        raise StackFailure(f"The following resource(s) failed to create: [{logical_id}].") from None
            stack.outputs = self._outputs()
        except StackFailure as failure:
            self._after_create_failure(failure.reason, on_failure)
            return
        stack.resources = dict(self.live)
        stack.imports = self.imports
        stack.stack_event("CREATE_COMPLETE")

    # -- pre-deployment validation ------------------------------------------------------------------
    def _known_ref(self, name: str) -> Any:
        """Ref before provisioning: a resource not provisioned yet has no value to check."""
        resource = self.live.get(name)
        if name in self.params or name in PSEUDO_PARAMETERS or (resource and resource.provisioned):
            return self._ref(name)
        return f"\x00ResourceReference\x01{name}\x00"

    def _known_import(self, name: str) -> Any:
        exports = self.engine.exports()
        return exports[name][1] if name in exports else f"\x00ImportValue\x01{name}\x00"

    def early_findings(self) -> list[early_validation.Finding]:
        """What pre-deployment validation finds in the template, before anything is provisioned."""
        assert self.model is not None
        evaluator = Evaluator(
            ref=self._known_ref,
            getatt=lambda name, attribute: f"\x00ResourceAttribute\x01{name}.{attribute}\x00",
            conditions=self._condition_values(),
            mappings=self.model.mappings,
            import_value=self._known_import,
            availability_zones=self.engine._availability_zones,
            region=self.engine.region_name,
        )
        resources = {}
        for logical_id in self.model.order:
            resource_type = str(self.model.resources[logical_id]["Type"])
            if not self.included(logical_id) or not early_validation.validated(resource_type):
                continue
            try:
                properties = evaluator.resolve(self.model.resources[logical_id].get("Properties") or {})
            except (TemplateError, StackFailure):
                continue  # the operation reports this when it reaches the resource
            resources[logical_id] = (resource_type, properties)
        owned = {r.physical_id for r in self.stack.resources.values() if r.provisioned is not None}
        return early_validation.check(resources, self.engine.account_id, self.engine.region_name, owned)

    def _failed_validation(self, verb: str) -> bool:
        """Run pre-deployment validation; on a FAIL finding record it and fail the operation (CREATE_FAILED or
        UPDATE_FAILED with DetailedStatus VALIDATION_FAILED). True if it failed."""
        findings = self.early_findings()
        blocking = early_validation.blocking(findings)
        if not blocking:
            return False
        stack = self.stack
        operation = stack.log.current
        assert operation is not None
        stack.log.add_validation(
            [validation_record(stack.stack_id, operation.operation_id, operation.operation_type, f) for f in findings]
        )
        reason = early_validation.FAILED_REASON.format(count=len(blocking))
        stack.stack_event(f"{verb}_FAILED", reason, detailed_status="VALIDATION_FAILED")
        return True

    def _after_failed_validation(self, on_failure: str) -> None:
        """A create that failed validation provisioned nothing: it rolls back (or stops, or is deleted)."""
        stack = self.stack
        if on_failure == "DO_NOTHING":
            stack.paused = Paused(old=None, changes=[])
            return
        stack.stack_event("ROLLBACK_IN_PROGRESS", early_validation.ROLLBACK_REASON)
        stack.deleted = clock.now()
        stack.stack_event("ROLLBACK_COMPLETE")
        stack.reason = None
        if on_failure == "DELETE":
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            stack.stack_event("DELETE_COMPLETE")

    def _fail_resource(self, logical_id: str, status: str, reason: str, invalid: bool = False) -> None:
        """Mark a resource failed; `invalid` (its properties broke the schema) adds DetailedStatus VALIDATION_FAILED."""
        resource = self.live[logical_id]
        resource.status, resource.reason, resource.updated = status, reason, clock.now()
        detailed = "VALIDATION_FAILED" if invalid else None
        self.stack.event(
            logical_id, resource.physical_id, resource.resource_type, status, reason, detailed_status=detailed
        )

    def _cancel_others(self) -> None:
        """Resources of the same wave are still in progress on AWS when one fails; the sandbox runs one at a
        time, so nothing else is in flight to cancel."""

    def _check_aws_typed_parameters(self) -> None:
        """AWS-specific parameter types (a VPC id, a key pair...) must name things that exist."""
        assert self.model is not None
        problems = []
        for key, spec in self.model.parameters.items():
            ptype = str(spec.get("Type"))
            inner = ptype[5:-1] if ptype.startswith("List<") else ptype
            exists = _EXISTENCE_CHECKS.get(inner)
            if exists is None or key not in self.params or self.params[key].ssm:
                continue
            values = self.params[key].resolved
            for value in values if isinstance(values, list) else [values]:
                if not exists(self.engine.account_id, self.engine.region_name, str(value)):
                    problems.append(f"parameter value {value} for parameter name {key} does not exist")
        if problems:
            raise StackFailure(f"Parameter validation failed: {', '.join(problems)}.")

    def _after_create_failure(self, reason: str, on_failure: str) -> None:
        stack = self.stack
        stack.resources = dict(self.live)
        # AWS ends the reason as a sentence before what follows ('... by stack Y. Rollback requested by user.')
        reason = reason if reason.endswith(".") else reason + "."
        if on_failure == "DO_NOTHING":
            stack.paused = Paused(old=None, changes=[])
            stack.stack_event("CREATE_FAILED", reason + " ")
            return
        stack.stack_event("ROLLBACK_IN_PROGRESS", reason + ROLLBACK_REQUESTED)
        failed = self._remove_all(rolling_back=True)
        stack.outputs = []
        if failed:
            stack.stack_event("ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
            return
        stack.deleted = clock.now()  # DescribeStacks shows a DeletionTime for a rolled-back stack
        stack.stack_event("ROLLBACK_COMPLETE")
        stack.reason = None
        if on_failure == "DELETE":
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            stack.deleted = clock.now()
            stack.stack_event("DELETE_COMPLETE")

    def _remove_all(self, rolling_back: bool, retain: set[str] | None = None) -> list[str]:
        """Delete the stack's resources in reverse dependency order; returns those that failed."""
        stack = self.stack
        order = list(stack.resources)
        if self.model is not None:
            order = [k for k in self.model.order if k in stack.resources]
        failed: list[str] = []
        needed: set[str] = set()  # what a resource that failed to delete still depends on stays in place
        for logical_id in reversed(order):
            resource = stack.resources[logical_id]
            if resource.status in ("DELETE_COMPLETE", "DELETE_SKIPPED") or logical_id in needed:
                continue
            if resource.provisioned is None:
                if resource.status == "CREATE_FAILED":
                    resource.status = "DELETE_COMPLETE"
                    stack.event(logical_id, "", resource.resource_type, "DELETE_COMPLETE")
                continue
            if resource.deletion_policy in ("Retain", "RetainExceptOnCreate" if not rolling_back else "") or (
                retain and logical_id in retain
            ):
                resource.status = "DELETE_SKIPPED"
                stack.event(logical_id, resource.physical_id, resource.resource_type, "DELETE_SKIPPED")
                continue
            stack.event(logical_id, resource.physical_id, resource.resource_type, "DELETE_IN_PROGRESS")
            try:
                provider_for(resource.resource_type).delete(
                    self._request(logical_id, resource.resource_type, resource.provisioned.properties),
                    resource.provisioned,
                )
            except ResourceFailure as e:
                if not self._already_deleted(resource):
                    resource.status, resource.reason = "DELETE_FAILED", e.reason
                    stack.event(logical_id, resource.physical_id, resource.resource_type, "DELETE_FAILED", e.reason)
                    failed.append(logical_id)
                    needed |= self._dependencies_of(logical_id)
                    continue
            resource.status, resource.updated = "DELETE_COMPLETE", clock.now()
            stack.event(logical_id, resource.physical_id, resource.resource_type, "DELETE_COMPLETE")
        return failed

    def _already_deleted(self, resource: StackResource) -> bool:
        """A delete that failed because the resource was deleted outside CloudFormation counts as done: the
        resource's delete handler answers NotFound, which CloudFormation treats as deleted."""
        return already_deleted(
            resource.resource_type, self.engine.account_id, self.engine.region_name, resource.physical_id
        )

    def _dependencies_of(self, logical_id: str) -> set[str]:
        """Everything a resource depends on, directly or not (from the template's references)."""
        if self.model is None:
            return set()
        found: set[str] = set()
        todo = list(self.model.dependencies.get(logical_id, ()))
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo += list(self.model.dependencies.get(name, ()))
        return found

    # -- delete --------------------------------------------------------------------------------------
    def delete(self, retain: set[str]) -> None:
        stack = self.stack
        if self.model is None and stack.resources:
            self.model = TemplateModel.build(stack.template, stack.region)
        failed = self._remove_all(rolling_back=False, retain=retain)
        if failed:
            stack.stack_event("DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
            return
        stack.deleted = clock.now()
        stack.imports = set()
        stack.stack_event("DELETE_COMPLETE")
        stack.reason = None

    # -- update --------------------------------------------------------------------------------------
    def update(
        self,
        body: str,
        params: dict[str, ResolvedParameter],
        tags: list[dict[str, str]],
        capabilities: list[str],
        disable_rollback: bool,
    ) -> None:
        stack = self.stack
        assert self.model is not None
        old = {
            "template_body": stack.template_body,
            "template": stack.template,
            "parameters": stack.parameters,
            "resources": dict(stack.resources),
            "outputs": stack.outputs,
            "imports": stack.imports,
            "tags": stack.tags,
            "capabilities": stack.capabilities,
        }
        # what to undo on rollback: (logical id, kind, previous StackResource or None)
        changes: list[tuple[str, str, StackResource | None]] = []
        replaced: list[StackResource] = []
        self.live = {k: r for k, r in stack.resources.items()}
        if self.validate and self._failed_validation("UPDATE"):
            if disable_rollback:
                self._pause(old, [], body, params, tags, capabilities)
                return
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", early_validation.ROLLBACK_REASON)
            stack.stack_event("UPDATE_ROLLBACK_COMPLETE")
            stack.reason = None
            return
        try:
            self._pre_resolve_imports()
            for logical_id, resource in old["resources"].items():
                if logical_id not in self.model.resources or not self.included(logical_id):
                    reason = stack_policy.denial(self.policy, "Update:Delete", logical_id, resource.resource_type)
                    if reason:
                        raise StackFailure(reason)
            for logical_id in self.model.order:
                if not self.included(logical_id):
                    continue
                previous = old["resources"].get(logical_id)
                try:
                    if (
                        previous is None
                        or previous.status == "CREATE_FAILED"  # it failed to create before: this is the retry
                        or previous.status in ("DELETE_COMPLETE", "DELETE_SKIPPED")
                    ):
                        self._create_resource(logical_id)
                        changes.append((logical_id, "created", None))
                    else:
                        kind = self._update_resource(logical_id, previous)
                        if kind == "replaced":
                            replaced.append(previous)
                        if kind != "unchanged":
                            changes.append((logical_id, kind, previous))
                except ResourceFailure as e:
                    status = "CREATE_FAILED" if previous is None else "UPDATE_FAILED"
                    self._fail_resource(logical_id, status, e.reason, isinstance(e, PropertyValidationFailure))
                    if logical_id in self.failed_in_place:
                        changes.append((logical_id, "failed", previous))  # the rollback puts it back too
                    raise StackFailure(
                        f"The following resource(s) failed to {status.split('_')[0].lower()}: [{logical_id}]. "
                    ) from None
            outputs = self._outputs()
            self._check_exports_in_use(outputs)
        except StackFailure as failure:
            if self.as_rollback:  # a nested stack put back by its parent's rollback could not be put back
                stack.resources = dict(self.live)
                stack.stack_event("UPDATE_ROLLBACK_FAILED", failure.reason)
                return
            if disable_rollback:
                self._pause(old, changes, body, params, tags, capabilities)
                stack.stack_event("UPDATE_FAILED", failure.reason)
                return
            stack.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", failure.reason)
            self.rollback_changes, self.rollback_resources = changes, dict(old["resources"])
            self.finish_rollback(self._roll_back_update(changes))
            return
        stack.template_body, stack.template, stack.parameters = body, self.model.doc, params
        stack.outputs, stack.imports, stack.tags, stack.capabilities = (
            outputs,
            self.imports,
            tags,
            capabilities,
        )
        stack.updated = clock.now()
        stack.paused = None
        done = "UPDATE_ROLLBACK_COMPLETE" if self.as_rollback else "UPDATE_COMPLETE"
        stack.stack_event(f"{done}_CLEANUP_IN_PROGRESS")
        removed = [k for k in old["resources"] if k not in self.live or not self.included_safe(k)]
        all_deleted = self._cleanup(removed, replaced, old["resources"])
        stack.resources = {k: r for k, r in self.live.items() if self.included_safe(k)}
        if all_deleted:
            stack.stack_event(done)
            stack.reason = None
        else:
            stack.stack_event(done, "Update successful. One or more resources could not be deleted.")

    def included_safe(self, logical_id: str) -> bool:
        assert self.model is not None
        return logical_id in self.model.resources and self.included(logical_id)

    def _update_resource(self, logical_id: str, previous: StackResource) -> str:
        """Update one resource in place or by replacement; returns 'unchanged', 'updated' or 'replaced'."""
        assert self.model is not None and previous.provisioned is not None
        definition = self.model.resources[logical_id]
        new_type = str(definition["Type"])
        try:
            properties = self._properties(logical_id)
        except PropertyValidationFailure:
            # the update starts, the handler refuses the properties, and the rollback puts the resource back
            self.stack.event(logical_id, previous.physical_id, new_type, "UPDATE_IN_PROGRESS")
            self.failed_in_place[logical_id] = previous.provisioned.properties
            raise
        shown = self.shown[logical_id]
        before = previous.compared_properties
        if new_type == previous.resource_type and (
            self.compared[logical_id] == before if before is not None else properties == previous.provisioned.properties
        ):
            previous.definition = definition
            return "unchanged"
        provider = provider_for(new_type)
        request = self._request(logical_id, new_type, properties)
        replace = new_type != previous.resource_type or needs_replacement(
            new_type, self.engine.region_name, previous.provisioned.properties, properties
        )
        reason = stack_policy.denial(
            self.policy, "Update:Replace" if replace else "Update:Modify", logical_id, previous.resource_type
        )
        if reason:
            raise ResourceFailure(reason)
        resource = StackResource(logical_id, new_type, definition, status="UPDATE_IN_PROGRESS")
        if replace:
            name_prop = name_property(new_type)
            if (
                name_prop
                and properties.get(name_prop)
                and properties.get(name_prop) == previous.provisioned.properties.get(name_prop)
            ):
                raise ResourceFailure(
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {properties[name_prop]} and update the stack again."
                )
            self.stack.event(
                logical_id,
                previous.physical_id,
                new_type,
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
                shown,
            )
            provisioned = provider.create(request)
            self.stack.event(
                logical_id,
                provisioned.physical_id,
                new_type,
                "UPDATE_IN_PROGRESS",
                "Resource creation Initiated",
                shown,
            )
        else:
            self.stack.event(logical_id, previous.physical_id, new_type, "UPDATE_IN_PROGRESS", None, shown)
            try:
                provisioned = provider.update(request, previous.provisioned)
            except ResourceFailure:
                self.failed_in_place[logical_id] = properties
                raise
            # a custom resource's handler decides: a new PhysicalResourceId means it replaced the resource
            replace = is_custom_type(new_type) and provisioned.physical_id != previous.physical_id
        resource.provisioned = provisioned
        resource.shown_properties, resource.compared_properties = shown, self.compared[logical_id]
        resource.status, resource.updated = "UPDATE_COMPLETE", clock.now()
        self.live[logical_id] = resource
        self.stack.event(logical_id, provisioned.physical_id, new_type, "UPDATE_COMPLETE", properties=shown)
        return "replaced" if replace else "updated"

    def _check_exports_in_use(self, outputs: list[Output]) -> None:
        new = {o.export_name: o.value for o in outputs if o.export_name}
        for name, value in self.stack.exports.items():
            users = [n for n in self.engine.importers(name) if n != self.stack.name]
            if not users:
                continue
            if name not in new:
                raise StackFailure(f"Export {name} cannot be deleted as it is in use by {_join_names(users)}")
            if new[name] != value:
                raise StackFailure(f"Export {name} cannot be updated as it is in use by {_join_names(users)}")

    def _cleanup(self, removed: list[str], replaced: list[StackResource], old: dict[str, StackResource]) -> bool:
        """Delete replaced and removed resources; False if any could not be deleted."""
        stack = self.stack
        ok = True
        for previous in replaced:
            provisioned = previous.provisioned
            assert provisioned is not None
            if previous.update_replace_policy in ("Retain", "Snapshot"):
                stack.event(previous.logical_id, provisioned.physical_id, previous.resource_type, "DELETE_SKIPPED")
                continue
            ok = self._delete_quietly(previous) and ok
        for logical_id in reversed([k for k in old if k in removed]):
            resource = old[logical_id]
            if resource.provisioned is None or resource.status in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
                continue
            if resource.deletion_policy in ("Retain", "RetainExceptOnCreate"):
                stack.event(logical_id, resource.physical_id, resource.resource_type, "DELETE_SKIPPED")
                continue
            ok = self._delete_quietly(resource) and ok
        return ok

    def _delete_quietly(self, resource: StackResource) -> bool:
        """Cleanup-phase delete: a failure is reported in events but does not fail the update (as on AWS)."""
        assert resource.provisioned is not None
        self.stack.event(resource.logical_id, resource.physical_id, resource.resource_type, "DELETE_IN_PROGRESS")
        try:
            provider_for(resource.resource_type).delete(
                self._request(resource.logical_id, resource.resource_type, resource.provisioned.properties),
                resource.provisioned,
            )
        except ResourceFailure as e:
            if not self._already_deleted(resource):
                self.stack.event(
                    resource.logical_id, resource.physical_id, resource.resource_type, "DELETE_FAILED", e.reason
                )
                return False
        self.stack.event(resource.logical_id, resource.physical_id, resource.resource_type, "DELETE_COMPLETE")
        return True

    def _pause(
        self,
        old: dict[str, Any],
        changes: list[tuple[str, str, StackResource | None]],
        body: str,
        params: dict[str, ResolvedParameter],
        tags: list[dict[str, str]],
        capabilities: list[str],
    ) -> None:
        """UPDATE_FAILED with DisableRollback: keep what succeeded, and the new template for a retry
        (UpdateStack with UsePreviousTemplate); remember the last stable state for RollbackStack."""
        stack = self.stack
        earlier = stack.paused  # this update continued one that had already failed
        stack.paused = (
            Paused(earlier.old, [*earlier.changes, *changes], {**earlier.failed_in_place, **self.failed_in_place})
            if earlier is not None
            else Paused(old, changes, dict(self.failed_in_place))
        )
        stack.resources = dict(self.live)
        stack.template_body, stack.template, stack.parameters = body, self.model.doc if self.model else {}, params
        stack.tags, stack.capabilities = tags, capabilities

    def roll_back_paused(self) -> None:
        """RollbackStack: back to the last known stable state, or, with none, delete what was created."""
        stack, paused = self.stack, self.stack.paused
        assert paused is not None
        stack.paused = None
        if paused.old is None:  # "This operation will delete a stack if it doesn't contain a last known
            failed = self._remove_all(rolling_back=True)  # stable state." (RollbackStack, API reference)
            stack.outputs = []
            if failed:
                stack.stack_event(
                    "ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
                )
                return
            stack.deleted = clock.now()
            stack.stack_event("ROLLBACK_COMPLETE")
            stack.reason = None
            return
        old = paused.old
        stack.template_body, stack.template, stack.parameters = old["template_body"], old["template"], old["parameters"]
        stack.tags, stack.capabilities = old["tags"], old["capabilities"]
        self.live, self.failed_in_place = dict(stack.resources), dict(paused.failed_in_place)
        self.rollback_changes, self.rollback_resources = paused.changes, dict(old["resources"])
        self.finish_rollback(self._roll_back_update(paused.changes))

    def finish_rollback(self, failed: list[str]) -> None:
        """After putting resources back: UPDATE_ROLLBACK_FAILED if some could not be, else clean up and complete."""
        stack = self.stack
        if failed:
            stack.stack_event(
                "UPDATE_ROLLBACK_FAILED", f"The following resource(s) failed to update: [{', '.join(failed)}]. "
            )
            stack.pending_rollback = self  # ContinueUpdateRollback picks it up from here
            return
        stack.pending_rollback = None
        stack.resources = dict(self.rollback_resources)
        stack.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        self._cleanup_after_rollback(self.rollback_changes)
        stack.stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.reason = None

    def continue_rollback(self, skip: set[str], force: bool = False) -> None:
        """ContinueUpdateRollback: retry what could not be put back; skipped resources count as done. With
        `force`, whatever fails again is skipped too, so the rollback completes."""
        retry = []
        for logical_id, kind, previous in self.rollback_changes:
            if logical_id in self.rollback_failed:
                if logical_id in skip and previous is not None:
                    self._skip(logical_id, previous)
                else:
                    retry.append((logical_id, "updated" if kind == "failed" else kind, previous))
        failed = self._roll_back_update(retry)
        if force:
            for logical_id, _kind, previous in retry:
                if logical_id in failed and previous is not None:
                    self._skip(logical_id, previous)
            failed = []
        self.finish_rollback(failed)

    def _skip(self, logical_id: str, previous: StackResource) -> None:
        """A resource skipped by ContinueUpdateRollback: marked UPDATE_COMPLETE, its difference left as it is,
        and its drift status NOT_CHECKED (StackResourceDriftInformationSummary, API reference)."""
        from .drift import forget_check  # drift.py builds on the engine

        forget_check(self.stack, logical_id)
        previous.status, previous.reason, previous.updated = "UPDATE_COMPLETE", None, clock.now()
        self.stack.event(logical_id, previous.physical_id, previous.resource_type, "UPDATE_COMPLETE")

    def _roll_back_update(self, changes: list[tuple[str, str, StackResource | None]]) -> list[str]:
        """Put every updated resource back as it was (replacements keep the old physical resource).

        Returns the resources that could not be put back.
        """
        stack = self.stack
        failed: list[str] = []
        for logical_id, kind, previous in reversed(changes):
            if kind == "failed" and previous is not None and previous.provisioned is not None:
                # the resource whose update failed may be half-updated: it gets the old properties back too
                attempted = Provisioned(
                    previous.physical_id,
                    previous.provisioned.ref,
                    self.failed_in_place[logical_id],
                    previous.provisioned.handle,
                )
                self.live[logical_id] = StackResource(
                    logical_id, previous.resource_type, previous.definition, provisioned=attempted
                )
                kind = "updated"
            if kind == "updated" and previous is not None and previous.provisioned is not None:
                current = self.live[logical_id]
                stack.event(
                    logical_id,
                    current.physical_id,
                    previous.resource_type,
                    "UPDATE_IN_PROGRESS",
                    None,
                    previous.shown_properties or previous.provisioned.properties,
                )
                try:
                    restored = provider_for(previous.resource_type).update(
                        self._request(logical_id, previous.resource_type, previous.provisioned.properties, True),
                        current.provisioned or previous.provisioned,
                    )
                    previous.provisioned = restored
                    previous.status, previous.reason, previous.updated = "UPDATE_COMPLETE", None, clock.now()
                except ResourceFailure as e:
                    previous.status, previous.reason = "UPDATE_FAILED", e.reason
                    stack.event(logical_id, current.physical_id, previous.resource_type, "UPDATE_FAILED", e.reason)
                    failed.append(logical_id)
                    continue
                stack.event(logical_id, previous.physical_id, previous.resource_type, "UPDATE_COMPLETE")
            elif kind == "replaced" and previous is not None:
                stack.event(logical_id, previous.physical_id, previous.resource_type, "UPDATE_COMPLETE")
        self.rollback_failed = failed
        return failed

    def _cleanup_after_rollback(self, changes: list[tuple[str, str, StackResource | None]]) -> None:
        """Delete what the failed update created: new resources and new replacements."""
        for logical_id, kind, _previous in reversed(changes):
            if kind in ("created", "replaced"):
                resource = self.live.get(logical_id)
                if resource is not None and resource.provisioned is not None:
                    self._delete_quietly(resource)


def _ec2(account_id: str, region: str):  # type: ignore[no-untyped-def]
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _exists(call) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(call())
    except Exception:
        return False


# AWS-specific parameter types whose values CloudFormation checks exist before it starts.
_EXISTENCE_CHECKS = {
    "AWS::EC2::VPC::Id": lambda a, r, v: _exists(lambda: _ec2(a, r).get_vpc(v)),
    "AWS::EC2::Subnet::Id": lambda a, r, v: _exists(lambda: _ec2(a, r).get_subnet(v)),
    "AWS::EC2::SecurityGroup::Id": lambda a, r, v: _exists(lambda: _ec2(a, r).get_security_group_from_id(v)),
    "AWS::EC2::KeyPair::KeyName": lambda a, r, v: _exists(lambda: _ec2(a, r).describe_key_pairs([v])),
    "AWS::EC2::Image::Id": lambda a, r, v: _exists(lambda: _ec2(a, r).describe_images(ami_ids=[v])),
}


def _depends_on(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    return {depends} if isinstance(depends, str) else set(depends)


def _taken_references(value: Any, conditions: dict[str, bool]) -> set[str]:
    """Names referred to, following only the Fn::If branches the conditions take."""
    if isinstance(value, list):
        return set().union(*(_taken_references(v, conditions) for v in value)) if value else set()
    if isinstance(value, dict):
        if len(value) == 1 and "Fn::If" in value:
            arg = value["Fn::If"]
            if isinstance(arg, list) and len(arg) == 3 and arg[0] in conditions:
                return _taken_references(arg[1] if conditions[arg[0]] else arg[2], conditions)
        if len(value) == 1 and ("Ref" in value or "Fn::GetAtt" in value or "Fn::Sub" in value):
            return scan(value).names()
        return set().union(*(_taken_references(v, conditions) for v in value.values())) if value else set()
    return set()


def _function_nodes(value: Any, function: str, conditions: dict[str, bool]) -> Iterator[dict[str, Any]]:
    """Every {function: ...} node of a fragment, following only the Fn::If branches the conditions take."""
    if isinstance(value, list):
        for v in value:
            yield from _function_nodes(v, function, conditions)
    elif isinstance(value, dict):
        if len(value) == 1 and function in value:
            yield value
            return
        arg = value.get("Fn::If") if len(value) == 1 else None
        if isinstance(arg, list) and len(arg) == 3 and arg[0] in conditions:
            yield from _function_nodes(arg[1] if conditions[arg[0]] else arg[2], function, conditions)
            return
        for v in value.values():
            yield from _function_nodes(v, function, conditions)


def _import_nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for v in value:
            yield from _import_nodes(v)
    elif isinstance(value, dict):
        if len(value) == 1 and "Fn::ImportValue" in value:
            yield value
            return
        for v in value.values():
            yield from _import_nodes(v)


engines: BackendDict[CloudFormationEngine] = BackendDict(CloudFormationEngine, "cloudformation")


def engine_for(account_id: str, region: str) -> CloudFormationEngine:
    """The engine of an account and Region."""
    return engines[account_id][region]


def template_json(template: dict[str, Any]) -> str:
    return json.dumps(template)
