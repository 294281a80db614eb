"""Systems Manager Automation: the API actions (moto has none of them).

https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html
- StartAutomationExecution (Mode Auto; Interactive, TargetMaps and TargetLocations are refused plainly), with rate
  control through TargetParameterName + Targets + MaxConcurrency + MaxErrors; GetAutomationExecution;
  DescribeAutomationExecutions (filters DocumentNamePrefix, ExecutionStatus, ExecutionId, ParentExecutionId,
  CurrentAction, StartTimeBefore/After, AutomationType, TagKey); DescribeAutomationStepExecutions (filters
  StepExecutionStatus, StepName, Action, StepExecutionId, StartTimeBefore/After; ReverseOrder);
  StopAutomationExecution; SendAutomationSignal (Approve / Reject for aws:approve, Resume for aws:pause).
- Maintenance-window AUTOMATION tasks run through `window_automation_task` (registered in
  maintenance_windows.TASK_RUNNERS), replayed at the time the window fell due.
- CreateDocument / UpdateDocument of an Automation runbook is checked as AWS checks it (schemaVersion 0.3, steps
  with unique names and known actions, nextStep / onFailure / aws:branch targets that exist): InvalidDocumentContent.

The runbook runs in automation_engine.py; the step actions are in automation_actions.py. Customer runbooks
(CreateDocument DocumentType Automation, JSON or YAML) run exactly like the AWS-owned ones.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import yaml
from moto.ssm.responses import SimpleSystemManagerResponse

from .. import clock
from . import automation_engine as engine
from . import automation_model as model
from .api import SsmError, backend_of, page, param, parse_time, register
from .automation_actions import BRANCH_OPERATORS
from .backend import FleetBackend

# The actions of the Automation runbook language (automation-actions.html); the sandbox runs those in
# automation_actions.ACTIONS and fails a step of any other with a plain "does not run" message.
AWS_ACTIONS = {
    "aws:approve",
    "aws:assertAwsResourceProperty",
    "aws:branch",
    "aws:changeInstanceState",
    "aws:copyImage",
    "aws:createImage",
    "aws:createStack",
    "aws:createTags",
    "aws:deleteImage",
    "aws:deleteStack",
    "aws:executeAutomation",
    "aws:executeAwsApi",
    "aws:executeScript",
    "aws:executeStateMachine",
    "aws:invokeLambdaFunction",
    "aws:invokeWebhook",
    "aws:loop",
    "aws:pause",
    "aws:runCommand",
    "aws:runInstances",
    "aws:sleep",
    "aws:updateVariable",
    "aws:waitForAwsResourceProperty",
}


# -- the API ---------------------------------------------------------------------------------------------------
def start_automation_execution(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet = backend_of(self)
    request = {
        k: param(self, k)
        for k in (
            "DocumentName",
            "DocumentVersion",
            "Parameters",
            "ClientToken",
            "Mode",
            "TargetParameterName",
            "Targets",
            "TargetMaps",
            "MaxConcurrency",
            "MaxErrors",
            "TargetLocations",
            "Tags",
            "AlarmConfiguration",
            "TargetLocationsURL",
        )
    }
    try:
        execution = engine.start(fleet, request, executed_by=caller_arn(self))
    except model.AutomationError as error:
        raise SsmError(error.code, error.message) from None
    return {"AutomationExecutionId": execution.execution_id}


def get_automation_execution(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    execution = _execution(backend_of(self), param(self, "AutomationExecutionId"))
    return {"AutomationExecution": execution_to_api(execution)}


def describe_automation_executions(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet = backend_of(self)
    executions = sorted(
        list(fleet.automation_executions.values()), key=lambda e: e.started or datetime.min, reverse=True
    )
    for item in param(self, "Filters", []) or []:
        key, values = item["Key"], item.get("Values") or []
        executions = [e for e in executions if _execution_filter(e, key, values)]
    return page([metadata_to_api(e) for e in executions], self, "AutomationExecutionMetadataList")


def describe_automation_step_executions(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    execution = _execution(backend_of(self), param(self, "AutomationExecutionId"))
    steps = list(execution.steps)
    for item in param(self, "Filters", []) or []:
        key, values = item["Key"], item.get("Values") or []
        steps = [s for s in steps if _step_filter(s, key, values)]
    if param(self, "ReverseOrder", False):
        steps.reverse()
    return page([step_to_api(s, execution) for s in steps], self, "StepExecutions")


def stop_automation_execution(self: SimpleSystemManagerResponse) -> None:
    fleet = backend_of(self)
    execution = _execution(fleet, param(self, "AutomationExecutionId"))
    if execution.status in model.TERMINAL:
        raise SsmError(
            "InvalidAutomationStatusUpdateException",
            f"Automation execution {execution.execution_id} is {execution.status}: only an automation that is "
            "still running can be stopped.",
        )  # wording ours
    # Type Cancel (the default) and Complete both stop the automation here; a running step ends Cancelled.
    engine.stop(execution)
    for child in list(fleet.automation_executions.values()):
        if child.parent_id == execution.execution_id and child.status not in model.TERMINAL:
            engine.stop(child)


def send_automation_signal(self: SimpleSystemManagerResponse) -> None:
    execution = _execution(backend_of(self), param(self, "AutomationExecutionId"))
    signal = param(self, "SignalType")
    payload = param(self, "Payload") or {}
    step = execution.current
    waiting_for = {"Approve": "aws:approve", "Reject": "aws:approve", "Resume": "aws:pause"}.get(signal)
    if waiting_for is None:
        raise SsmError(
            "InvalidAutomationSignalException",
            "The course sandbox runs automations in Auto mode: it takes Approve, Reject and Resume signals, "
            f"not {signal}.",
        )
    if execution.status in model.TERMINAL or step is None or step.action != waiting_for or step.status != "Waiting":
        raise SsmError(
            "InvalidAutomationSignalException",
            f"Automation execution {execution.execution_id} has no {waiting_for} step waiting for a {signal} signal.",
        )  # wording ours
    comment = payload.get("Comment") or [""]
    with execution.signal_lock:
        execution.signals.append(
            {
                "Type": signal,
                "Step": step.name,
                "Caller": caller_arn(self),
                "Comment": comment[0] if isinstance(comment, list) else str(comment),
                "Time": clock.now(),
            }
        )


def _execution(fleet: FleetBackend, execution_id: str | None) -> model.Execution:
    execution = fleet.automation_executions.get(execution_id or "")
    if execution is None:
        raise SsmError(
            "AutomationExecutionNotFoundException", f"Automation execution {execution_id} was not found."
        )  # wording ours
    return execution


def caller_arn(self: SimpleSystemManagerResponse) -> str:
    """Who made the request (ExecutedBy): the IAM user or assumed role behind the access key."""
    account = self.current_account
    try:
        from moto.sts.models import sts_backends

        access_key = getattr(self, "access_key", None) or self.get_access_key()
        _, arn, _ = sts_backends[account]["aws"].get_caller_identity(access_key, self.region)
    except Exception:
        return f"arn:aws:iam::{account}:root"
    return f"arn:aws:iam::{account}:root" if arn.endswith(":user/moto") else arn


def _parse_time(text: str) -> datetime:
    return parse_time(text, "Filters")


def _execution_filter(execution: model.Execution, key: str, values: list[str]) -> bool:
    started = execution.started or clock.now()
    if key == "DocumentNamePrefix":
        return any(execution.document_name.startswith(v) for v in values)
    if key == "ExecutionStatus":
        return execution.status in values
    if key == "ExecutionId":
        return execution.execution_id in values
    if key == "ParentExecutionId":
        return execution.parent_id in values
    if key == "CurrentAction":
        return execution.current is not None and execution.current.action in values
    if key == "StartTimeBefore":
        return started <= _parse_time(values[0])
    if key == "StartTimeAfter":
        return started >= _parse_time(values[0])
    if key == "AutomationType":
        return "Local" in values
    if key == "TagKey":
        return any(t.get("Key") in values for t in execution.tags)
    if key in ("TargetResourceGroup", "AutomationSubtype", "OpsItemId"):
        return False  # the sandbox makes no such executions
    raise SsmError("InvalidFilterKey", f"The filter key {key} is not valid.")  # wording ours


def _step_filter(step: model.Step, key: str, values: list[str]) -> bool:
    if key == "StepExecutionStatus":
        return step.status in values
    if key == "StepName":
        return step.name in values
    if key == "Action":
        return step.action in values
    if key == "StepExecutionId":
        return step.step_execution_id in values
    if key in ("StartTimeBefore", "StartTimeAfter"):
        if step.started is None:
            return False
        moment = _parse_time(values[0])
        return step.started <= moment if key == "StartTimeBefore" else step.started >= moment
    raise SsmError("InvalidFilterKey", f"The filter key {key} is not valid.")  # wording ours


# -- answers -----------------------------------------------------------------------------------------------------
def _common(execution: model.Execution) -> dict[str, Any]:
    body: dict[str, Any] = {
        "AutomationExecutionId": execution.execution_id,
        "DocumentName": execution.document_name,
        "DocumentVersion": execution.document_version,
        "AutomationExecutionStatus": execution.status,
        "Mode": execution.mode,
        "ExecutedBy": execution.executed_by,
        "Outputs": runbook_outputs(execution),
    }
    if execution.started:
        body["ExecutionStartTime"] = execution.started
    if execution.ended:
        body["ExecutionEndTime"] = execution.ended
    if execution.failure_message:
        body["FailureMessage"] = execution.failure_message
    if execution.current is not None:
        body["CurrentStepName"] = execution.current.name
        body["CurrentAction"] = execution.current.action
    if execution.parent_id:
        body["ParentAutomationExecutionId"] = execution.parent_id
    if execution.target:
        body["Target"] = execution.target
    if execution.target_parameter_name:
        body.update(
            {
                "TargetParameterName": execution.target_parameter_name,
                "Targets": execution.targets,
                "ResolvedTargets": {"ParameterValues": execution.resolved_targets, "Truncated": False},
                "MaxConcurrency": execution.max_concurrency,
                "MaxErrors": execution.max_errors,
            }
        )
    return body


def execution_to_api(execution: model.Execution) -> dict[str, Any]:
    """GetAutomationExecution's AutomationExecution."""
    body = _common(execution)
    steps = list(execution.steps)
    body.update(
        {
            "StepExecutions": [step_to_api(s, execution) for s in steps],
            "StepExecutionsTruncated": False,
            "Parameters": {k: model.api_values(v) for k, v in execution.parameters.items()},
            "ProgressCounters": {
                "TotalSteps": sum(1 for s in steps if s.status != "Pending"),
                "SuccessSteps": sum(1 for s in steps if s.status == "Success"),
                "FailedSteps": sum(1 for s in steps if s.status == "Failed"),
                "CancelledSteps": sum(1 for s in steps if s.status == "Cancelled"),
                "TimedOutSteps": sum(1 for s in steps if s.status == "TimedOut"),
            },
        }
    )
    return body


def metadata_to_api(execution: model.Execution) -> dict[str, Any]:
    """One AutomationExecutionMetadata of DescribeAutomationExecutions."""
    body = _common(execution)
    body.update({"LogFile": "", "AutomationType": "Local"})
    return body


def step_to_api(step: model.Step, execution: model.Execution) -> dict[str, Any]:
    """One StepExecution."""
    body: dict[str, Any] = {
        "StepName": step.name,
        "Action": step.action,
        "OnFailure": step.on_failure,
        "MaxAttempts": step.max_attempts,
        "StepStatus": step.status,
        "StepExecutionId": step.step_execution_id,
        "IsEnd": step.is_end,
        "IsCritical": step.is_critical,
        "ValidNextSteps": _valid_next_steps(step, execution),
    }
    if step.status != "Pending":  # a step that has not run shows no inputs or outputs (AWS CLI examples)
        # each input JSON-encoded, as AWS shows them: "\"stopped\"", "[\"i-0123\"]"
        body["Inputs"] = {k: json.dumps(v, default=str) for k, v in step.inputs.items()}
        body["Outputs"] = {k: model.api_values(v) for k, v in step.outputs.items()}
    timeout = model.timeout_of(step)
    if timeout is not None:
        body["TimeoutSeconds"] = timeout
    if step.started:
        body["ExecutionStartTime"] = step.started
    if step.ended:
        body["ExecutionEndTime"] = step.ended
    if step.failure_message:
        body["FailureMessage"] = step.failure_message
    if step.failure_details:
        body["FailureDetails"] = step.failure_details
    if step.response:
        body["Response"] = step.response
    if step.response_code:
        body["ResponseCode"] = step.response_code
    following = step.chosen_next or step.spec.get("nextStep")
    if following:
        body["NextStep"] = following
    return body


def _valid_next_steps(step: model.Step, execution: model.Execution) -> list[str]:
    if step.action == "aws:branch":
        inputs = step.spec.get("inputs") or {}
        found = [str(c.get("NextStep")) for c in inputs.get("Choices") or [] if c.get("NextStep")]
        return found + ([str(inputs["Default"])] if inputs.get("Default") else [])
    if step.spec.get("nextStep"):
        return [str(step.spec["nextStep"])]
    names = [s.name for s in execution.steps]
    index = names.index(step.name)
    return [names[index + 1]] if index + 1 < len(names) and not step.is_end else []


def runbook_outputs(execution: model.Execution) -> dict[str, list[str]]:
    """The runbook's `outputs` (step.Output references) with their values, or AWS's placeholder."""
    found: dict[str, list[str]] = {}
    steps = {s.name: s for s in execution.steps}
    for reference in execution.content.get("outputs") or []:
        step_name, _, name = str(reference).partition(".")
        step = steps.get(step_name)
        value = step.outputs.get(name) if step is not None and step.status == "Success" else None
        found[str(reference)] = model.api_values(value) if value is not None else [model.NO_OUTPUT]
    return found


# -- runbook content checks ----------------------------------------------------------------------------------------
def runbook_problem(content: Any) -> str:
    """Why AWS would refuse this Automation runbook's content ('' when it is acceptable)."""
    if not isinstance(content, dict):
        return "The runbook content must be a JSON or YAML object."
    if str(content.get("schemaVersion")) != "0.3":
        return "Automation runbooks use schemaVersion 0.3."
    steps = content.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        return "An Automation runbook needs mainSteps with at least one step."
    names = [s.get("name") if isinstance(s, dict) else None for s in steps]
    for step, name in zip(steps, names, strict=True):
        if not isinstance(step, dict) or not name or not step.get("action"):
            return "Every step needs a name and an action."
        if names.count(name) > 1:
            return f"Step name {name} is used more than once: step names must be unique."
        if step["action"] not in AWS_ACTIONS:
            return f"Step {name}: {step['action']} is not an Automation action."
        targets = [step.get("nextStep")] if step.get("nextStep") else []
        on_failure = str(step.get("onFailure") or "Abort")
        if on_failure.startswith("step:"):
            targets.append(on_failure[5:])
        elif on_failure not in ("Abort", "Continue"):
            return f"Step {name}: onFailure must be Abort, Continue or step:<step name>, not {on_failure}."
        if step["action"] == "aws:branch":
            problem, branch_targets = _branch_problem(name, step.get("inputs") or {})
            if problem:
                return problem
            targets += branch_targets
        for target in targets:
            if target not in names:
                return f"Step {name} refers to step {target}, which is not in the runbook."
    for reference in content.get("outputs") or []:
        if str(reference).partition(".")[0] not in names:
            return f"Output {reference} names a step that is not in the runbook."
    return ""


def _branch_problem(name: str, inputs: dict[str, Any]) -> tuple[str, list[str]]:
    choices = inputs.get("Choices")
    if not isinstance(choices, list) or not choices:
        return f"Step {name}: aws:branch needs Choices.", []
    targets = [str(inputs["Default"])] if inputs.get("Default") else []
    for choice in choices:
        if not isinstance(choice, dict) or not choice.get("NextStep"):
            return f"Step {name}: every choice of aws:branch needs a NextStep.", []
        targets.append(str(choice["NextStep"]))
        if not _choice_ok(choice):
            return f"Step {name}: a choice uses an operation aws:branch does not support.", []
    return "", targets


def _choice_ok(choice: dict[str, Any]) -> bool:
    if "And" in choice or "Or" in choice:
        parts = choice.get("And", choice.get("Or"))
        return isinstance(parts, list) and all(isinstance(p, dict) and _choice_ok(p) for p in parts)
    if "Not" in choice:
        return isinstance(choice["Not"], dict) and _choice_ok(choice["Not"])
    return "Variable" in choice and any(op in choice for op in BRANCH_OPERATORS)


def _parse_content(text: str, document_format: str) -> Any:
    try:
        return json.loads(text) if document_format == "JSON" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None


def _check_runbooks(name: str) -> None:
    original = getattr(SimpleSystemManagerResponse, name)

    def method(self: SimpleSystemManagerResponse) -> Any:
        kind = param(self, "DocumentType")
        if name == "update_document" and kind is None:
            existing = backend_of(self).moto._documents.get(param(self, "Name", ""))
            kind = existing.get_default_version().document_type if existing else None
        if kind == "Automation" and param(self, "Content"):
            content = _parse_content(param(self, "Content"), param(self, "DocumentFormat") or "JSON")
            problem = runbook_problem(content) if content is not None else ""
            if problem:
                raise SsmError("InvalidDocumentContent", problem)  # wording ours
        return original(self)

    method.__name__ = name
    setattr(SimpleSystemManagerResponse, name, method)


# -- maintenance-window AUTOMATION tasks ---------------------------------------------------------------------------
_TASK_STATUS = {"Success": "SUCCESS", "Failed": "FAILED", "TimedOut": "TIMED_OUT", "Cancelled": "CANCELLED"}


def window_automation_task(ctx: Any) -> Any:
    """An AUTOMATION task invocation of a maintenance window (maintenance_windows.TASK_RUNNERS): the runbook
    named by TaskArn with TaskInvocationParameters.Automation (pseudo parameters such as {{RESOURCE_ID}} replaced),
    replayed at the invocation's time like the window's other tasks; its execution id is the automation's
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-window-tasks-pseudo-parameters.html)."""
    from . import maintenance_windows as windows
    from . import rate_control

    task = ctx.task
    automation = (task.task_invocation_parameters or {}).get("Automation") or {}
    parameters = windows.pseudo_parameters(
        {name: list(values) for name, values in (automation.get("Parameters") or {}).items()}, ctx
    )
    request = {
        "DocumentName": task.task_arn.split("/")[-1],
        "DocumentVersion": automation.get("DocumentVersion"),
        "Parameters": parameters,
    }
    shown = json.dumps({"documentName": request["DocumentName"], "parameters": parameters})
    role = (task.service_role_arn or "AWSServiceRoleForAmazonSSM").split("/")[-1]
    executed_by = f"arn:aws:sts::{ctx.fleet.account_id}:assumed-role/{role}/{ctx.window_execution_id}"
    timeline = rate_control.Timeline(ctx.at)
    try:
        execution = engine.start(ctx.fleet, request, executed_by=executed_by, replay=timeline)
    except model.AutomationError as error:
        return windows.TaskRun("", "FAILED", f"{error.code}: {error.message}"[:250], 1.0, shown)
    status = _TASK_STATUS.get(execution.status, "FAILED")
    details = execution.status if status == "SUCCESS" else (execution.failure_message or execution.status)
    return windows.TaskRun(execution.execution_id, status, details[:250], max(timeline.elapsed, 0.001), shown)


def install() -> None:
    """Register this module's actions, and the runner of maintenance-window AUTOMATION tasks."""
    from . import maintenance_windows

    maintenance_windows.TASK_RUNNERS["AUTOMATION"] = window_automation_task
    for name, handler in {
        "start_automation_execution": start_automation_execution,
        "get_automation_execution": get_automation_execution,
        "describe_automation_executions": describe_automation_executions,
        "describe_automation_step_executions": describe_automation_step_executions,
        "stop_automation_execution": stop_automation_execution,
        "send_automation_signal": send_automation_signal,
    }.items():
        register(name, handler)
    for name in ("create_document", "update_document"):
        _check_runbooks(name)
