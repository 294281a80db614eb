"""The CloudFormation API actions answered by the engine instead of moto's own stack code.

Each function becomes a method of moto's CloudFormationResponse (moto's documented way to add or
replace an action): it reads the request, calls the engine of the caller's account and Region, and
returns the response shape of botocore's model, which moto serializes.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from . import operation_log, stack_policy
from .analysis import TemplateModel
from .drift import resource_drift_information, stack_drift_information
from .engine import CloudFormationEngine, StackRequest, engine_for
from .errors import SandboxNotSupported, ValidationError
from .stack import Stack
from .template import parse_template

# moto's transformers for its own StackSet objects (dicts); stackset_api.py answers with AWS's lists already
_STACK_SET_PATHS = ("DescribeStackSetOutput.StackSet.Parameters", "DescribeStackSetOutput.StackSet.Tags")


def _engine(self: CloudFormationResponse) -> CloudFormationEngine:
    return engine_for(self.current_account, self.region)


def _template_body(self: CloudFormationResponse) -> str | None:
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    if url and not body:
        try:
            body = self._get_stack_from_s3_url(url)
        except Exception:
            raise ValidationError(f"TemplateURL must be a supported URL: {url} could not be read") from None
        if isinstance(body, bytes):
            body = body.decode()
    return body


def _refuse_rollback_triggers(self: CloudFormationResponse) -> None:
    """Rollback triggers need CloudWatch alarms watched while the operation runs: not emulated, so refused
    plainly rather than ignored (an ignored trigger would report a success AWS would have rolled back)."""
    configuration = self._get_param("RollbackConfiguration") or {}
    if configuration.get("RollbackTriggers"):
        raise SandboxNotSupported(
            "The course sandbox does not watch CloudWatch alarms during stack operations, so it cannot honour "
            "rollback triggers; on AWS, a trigger alarm that goes to ALARM during the operation or its "
            "monitoring time rolls the operation back."
        )


def _stack_request(self: CloudFormationResponse) -> StackRequest:
    _refuse_rollback_triggers(self)
    given: dict[str, str] = {}
    previous: set[str] = set()
    for p in self._get_param("Parameters", []) or []:
        if p.get("UsePreviousValue"):
            previous.add(p["ParameterKey"])
        elif "ParameterValue" in p:
            given[p["ParameterKey"]] = p["ParameterValue"]
        else:
            raise ValidationError(f"Parameters: [{p['ParameterKey']}] must have values")
    tags = self._get_param("Tags")
    return StackRequest(
        name=self._get_param("StackName"),
        template_body=_template_body(self),
        use_previous_template=bool(self._get_param("UsePreviousTemplate", False)),
        parameters=given,
        use_previous_values=previous,
        capabilities=self._get_param("Capabilities", []) or [],
        tags=[{"Key": t["Key"], "Value": t["Value"]} for t in tags] if tags is not None else None,
        on_failure=self._get_param("OnFailure"),
        disable_rollback=self._get_param("DisableRollback"),
        termination_protection=bool(self._get_param("EnableTerminationProtection", False)),
        notification_arns=self._get_param("NotificationARNs", []) or [],
        role_arn=self._get_param("RoleARN"),
        timeout_in_minutes=self._get_param("TimeoutInMinutes"),
        stack_policy=_valid_policy(self._get_param("StackPolicyBody")),
        stack_policy_during_update=_valid_policy(self._get_param("StackPolicyDuringUpdateBody")),
        disable_validation=bool(self._get_param("DisableValidation", False)),
    )


def _valid_policy(body: str | None) -> str | None:
    if body is not None:
        stack_policy.validate(body)
    return body


def _started(stack: Stack) -> ActionResult:
    """The answer of an action that starts an operation: the stack id and the operation's id."""
    answer = {"StackId": stack.stack_id}
    if stack.log.user_initiated is not None:
        answer["OperationId"] = stack.log.user_initiated.operation_id
    return ActionResult(answer)


def create_stack(self: CloudFormationResponse) -> ActionResult:
    return _started(_engine(self).create_stack(_stack_request(self)))


def update_stack(self: CloudFormationResponse) -> ActionResult:
    return _started(_engine(self).update_stack(_stack_request(self)))


def rollback_stack(self: CloudFormationResponse) -> ActionResult:
    return _started(_engine(self).rollback_stack(self._get_param("StackName")))


def describe_events(self: CloudFormationResponse) -> ActionResult:
    """DescribeEvents: a stack's history by operation, including pre-deployment validation findings."""
    from . import changesets

    stack_name, change_set_name = self._get_param("StackName"), self._get_param("ChangeSetName")
    operation_id = self._get_param("OperationId")
    failed_only = bool((self._get_param("Filters") or {}).get("FailedEvents"))
    if not (stack_name or change_set_name or operation_id):
        raise ValidationError("One of ChangeSetName, OperationId or StackName must be specified")
    engine = _engine(self)
    if change_set_name:
        records = changesets.find(self).records
    elif stack_name:
        stack = engine.find_stack(stack_name, include_deleted=stack_name.startswith("arn:"))
        if stack is None:
            raise ValidationError(f"Stack [{stack_name}] does not exist")
        records = [*stack.log.records, *changesets.records_of(self, stack.stack_id)]
    else:
        records = [r for s in engine.stacks.values() for r in s.log.records]
        records += changesets.records_of(self, None)
    return ActionResult({"OperationEvents": operation_log.select(records, operation_id, failed_only)})


def cancel_update_stack(self: CloudFormationResponse) -> EmptyResult:
    _engine(self).cancel_update_stack(self._get_param("StackName"))
    return EmptyResult()


def delete_stack(self: CloudFormationResponse) -> EmptyResult:
    _engine(self).delete_stack(self._get_param("StackName"), self._get_param("RetainResources", []) or None)
    return EmptyResult()


def describe_stacks(self: CloudFormationResponse) -> ActionResult:
    engine = _engine(self)
    name = self._get_param("StackName")
    if name:
        stack = engine.find_stack(name, include_deleted=name.startswith("arn:"))
        if stack is None or (stack.deleted_for_good and not name.startswith("arn:")):
            raise ValidationError(f"Stack with id {name} does not exist")
        stacks = [stack]
    else:
        stacks = list(engine.live_stacks())
    return ActionResult({"Stacks": [{**s.to_api(), "DriftInformation": stack_drift_information(s)} for s in stacks]})


def _stack_or_error(self: CloudFormationResponse, name: str, message: str | None = None):  # type: ignore[no-untyped-def]
    stack = _engine(self).find_stack(name, include_deleted=name.startswith("arn:"))
    if stack is None or (stack.deleted_for_good and not name.startswith("arn:")):
        raise ValidationError(message or f"Stack with id {name} does not exist")
    return stack


def describe_stack_events(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    stack = _stack_or_error(self, name, f"Stack [{name}] does not exist")
    return ActionResult({"StackEvents": [e.to_api() for e in reversed(stack.events)]})


def _resource_rows(stack) -> list:  # type: ignore[no-untyped-def]
    return [r for r in stack.resources.values() if r.status != "DELETE_COMPLETE" or stack.deleted_for_good]


def list_stack_resources(self: CloudFormationResponse) -> ActionResult:
    stack = _stack_or_error(self, self._get_param("StackName"))
    summaries = []
    for r in _resource_rows(stack):
        row: dict[str, Any] = {
            "LogicalResourceId": r.logical_id,
            "ResourceType": r.resource_type,
            "LastUpdatedTimestamp": r.updated,
            "ResourceStatus": r.status,
            "DriftInformation": resource_drift_information(stack, r),
        }
        if r.physical_id:
            row["PhysicalResourceId"] = r.physical_id
        if r.reason:
            row["ResourceStatusReason"] = r.reason
        summaries.append(row)
    return ActionResult({"StackResourceSummaries": summaries})


def _resource_detail(stack, r, timestamp_key: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    row: dict[str, Any] = {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": r.logical_id,
        "ResourceType": r.resource_type,
        timestamp_key: r.updated,
        "ResourceStatus": r.status,
        "DriftInformation": resource_drift_information(stack, r),
    }
    if r.physical_id:
        row["PhysicalResourceId"] = r.physical_id
    if r.reason:
        row["ResourceStatusReason"] = r.reason
    return row


def describe_stack_resource(self: CloudFormationResponse) -> ActionResult:
    stack = _stack_or_error(self, self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    resource = stack.resources.get(logical_id)
    if resource is None:
        raise ValidationError(f"Resource {logical_id} does not exist for stack {stack.name}")
    detail = _resource_detail(stack, resource, "LastUpdatedTimestamp")
    if "Metadata" in resource.definition:
        import json

        detail["Metadata"] = json.dumps(resource.definition["Metadata"])
    return ActionResult({"StackResourceDetail": detail})


def describe_stack_resources(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    physical = self._get_param("PhysicalResourceId")
    if not name and physical:
        for stack in _engine(self).live_stacks():
            if any(r.physical_id == physical for r in stack.resources.values()):
                name = stack.stack_id
                break
        else:
            raise ValidationError(f"Stack for {physical} does not exist")
    stack = _stack_or_error(self, name)
    logical_id = self._get_param("LogicalResourceId")
    rows = [
        _resource_detail(stack, r, "Timestamp")
        for r in _resource_rows(stack)
        if not logical_id or r.logical_id == logical_id
    ]
    return ActionResult({"StackResources": rows})


def list_stacks(self: CloudFormationResponse) -> ActionResult:
    wanted = set(self._get_param("StackStatusFilter", []) or [])
    stacks = [s for s in _engine(self).stacks.values() if not wanted or s.status in wanted]
    summaries = [{**s.summary_api(), "DriftInformation": stack_drift_information(s)} for s in reversed(stacks)]
    return ActionResult({"StackSummaries": summaries})


def get_template(self: CloudFormationResponse) -> ActionResult:
    stack = _stack_or_error(self, self._get_param("StackName"))
    return ActionResult({"TemplateBody": stack.template_body, "StagesAvailable": ["Original", "Processed"]})


def _capability_reason(model: TemplateModel) -> tuple[list[str], str | None]:
    needed, resources = model.required_capabilities()
    if not needed:
        return [], None
    types = sorted({model.resources[r]["Type"] for r in resources})
    return needed, f"The following resource(s) require capabilities: [{', '.join(types)}]"


def validate_template(self: CloudFormationResponse) -> ActionResult:
    body = _template_body(self)
    if not body:
        raise ValidationError("Either Template URL or Template Body must be specified.")
    model = TemplateModel.build(parse_template(body), self.region)
    result: dict[str, Any] = {
        "Parameters": [
            {k: v for k, v in p.items() if k in ("ParameterKey", "DefaultValue", "NoEcho", "Description")}
            for p in model.parameter_summaries()
        ]
    }
    if "Description" in model.doc:
        result["Description"] = model.doc["Description"]
    capabilities, reason = _capability_reason(model)
    result["Capabilities"] = capabilities  # [] when none is needed, as AWS answers
    if reason:
        result["CapabilitiesReason"] = reason
    return ActionResult(result)


def get_template_summary(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    body = _stack_or_error(self, name).template_body if name else _template_body(self)
    if not body:
        raise ValidationError("Either Template URL or Template Body must be specified.")
    model = TemplateModel.build(parse_template(body), self.region)
    result: dict[str, Any] = {
        "Parameters": model.parameter_summaries(),
        "ResourceTypes": sorted({str(r["Type"]) for r in model.resources.values()}),
        "Version": str(model.doc.get("AWSTemplateFormatVersion", "2010-09-09")),
    }
    if "Description" in model.doc:
        result["Description"] = model.doc["Description"]
    capabilities, reason = _capability_reason(model)
    if capabilities:
        result["Capabilities"], result["CapabilitiesReason"] = capabilities, reason
    return ActionResult(result)


def list_exports(self: CloudFormationResponse) -> ActionResult:
    exports = [
        {"ExportingStackId": stack.stack_id, "Name": name, "Value": str(value)}
        for name, (stack, value) in _engine(self).exports().items()
    ]
    return ActionResult({"Exports": exports})


def list_imports(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("ExportName")
    importers = _engine(self).importers(name)
    if not importers:
        raise ValidationError(f"Export '{name}' is not imported by any stack.")
    return ActionResult({"Imports": importers})


def continue_update_rollback(self: CloudFormationResponse) -> EmptyResult:
    _engine(self).continue_update_rollback(
        self._get_param("StackName"),
        self._get_param("ResourcesToSkip", []) or [],
        force=bool(self._get_param("ForceRollback", False)),
    )
    return EmptyResult()


def update_termination_protection(self: CloudFormationResponse) -> ActionResult:
    stack = _engine(self).update_termination_protection(
        self._get_param("StackName"), bool(self._get_param("EnableTerminationProtection"))
    )
    return ActionResult({"StackId": stack.stack_id})


def set_stack_policy(self: CloudFormationResponse) -> EmptyResult:
    stack = _stack_or_error(self, self._get_param("StackName"))
    policy = self._get_param("StackPolicyBody")
    if policy is None and self._get_param("StackPolicyURL"):
        raise SandboxNotSupported("The course sandbox reads stack policies from StackPolicyBody only.")
    stack_policy.validate(policy)
    stack.stack_policy = policy
    return EmptyResult()


def get_stack_policy(self: CloudFormationResponse) -> ActionResult:
    stack = _stack_or_error(self, self._get_param("StackName"))
    return ActionResult({"StackPolicyBody": stack.stack_policy} if stack.stack_policy else {})


ACTIONS = {
    f.__name__: f
    for f in (
        create_stack,
        update_stack,
        delete_stack,
        describe_stacks,
        describe_stack_events,
        list_stack_resources,
        describe_stack_resource,
        describe_stack_resources,
        list_stacks,
        get_template,
        validate_template,
        get_template_summary,
        list_exports,
        list_imports,
        update_termination_protection,
        set_stack_policy,
        get_stack_policy,
        continue_update_rollback,
        rollback_stack,
        cancel_update_stack,
        describe_events,
    )
}


def install() -> None:
    """Make CloudFormationResponse answer these actions (and the feature modules' actions) from the engine."""
    from . import changesets, drift, stackset_api, stackset_organizations

    actions = {**ACTIONS, **changesets.ACTIONS, **drift.ACTIONS, **stackset_api.ACTIONS}
    for name, function in actions.items():
        setattr(CloudFormationResponse, name, function)
    # moto converts its own stacks' tag dicts into lists on the way out; the engine already has lists.
    CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
        k: v
        for k, v in CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
        if k not in ("DescribeStacksOutput.Stacks.Stack.Tags", *_STACK_SET_PATHS)
    }
    stackset_organizations.install()
