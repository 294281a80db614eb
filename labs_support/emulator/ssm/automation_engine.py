"""Automation executions: starting them, and the worker that runs a runbook's steps (or a rate-controlled
fleet of child executions) on the lab clock.

https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html
- StartAutomationExecution answers at once with the execution id; the runbook runs in a worker thread.
- Steps run in order, or where `nextStep`, `onFailure: step:<name>` or an aws:branch choice sends them; a failed
  step with onFailure Abort ends the execution Failed (TimedOut for a step that timed out) and names the step; a
  critical step that failed makes the execution Failed even when the runbook went on to other steps.
- Rate control (TargetParameterName + Targets, MaxConcurrency default 10, MaxErrors): one child execution per
  target value, at most MaxConcurrency at once; no new child starts once more than MaxErrors have failed
  (https://docs.aws.amazon.com/systems-manager/latest/userguide/running-automations-scale.html).
- Automation's own EventBridge events ("EC2 Automation Execution/Step Status-change Notification", source aws.ssm)
  go to the account's default event bus when an execution or a step ends.

The model is in automation_model.py, the actions in automation_actions.py, the API in automation.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import clock
from . import fleet as fleet_module
from . import rate_control
from .automation_actions import ACTIONS, Context
from .automation_model import (
    TERMINAL,
    TROUBLESHOOTING,
    AutomationError,
    Execution,
    Step,
    StepCancelled,
    StepFailure,
    StepTimedOut,
    _invalid,
    assume_role_problem,
    resolve_parameters,
    timeout_of,
    wait_real,
)
from .backend import FleetBackend
from .documents_run import content_of, substitute

CONCURRENT_LIMIT = 100  # running automations per account and Region (Service Quotas default)
MAX_STEP_RUNS = 1000  # a runbook that loops through nextStep forever is stopped here (the sandbox's guard)


# -- starting ------------------------------------------------------------------------------------------------------
def document_of(fleet: FleetBackend, name: str, version: str | None) -> Any:
    """The Automation document a request names (AWS's AutomationDefinition* errors otherwise)."""
    short = name.split(":document/", 1)[1] if ":document/" in name else name
    documents = fleet.moto._documents.get(short)
    if documents is None:
        raise AutomationError(
            "AutomationDefinitionNotFoundException", f"Document {short} does not exist in your account."
        )  # wording ours
    if version in (None, "", "$DEFAULT"):
        document = documents.get_default_version()
    elif version == "$LATEST":
        document = documents.get_latest_version()
    else:
        document = documents.find_by_version(str(version))
        if document is None:
            raise AutomationError(
                "AutomationDefinitionVersionNotFoundException", f"Document {short} has no version {version}."
            )  # wording ours
    if document.document_type != "Automation":
        raise AutomationError(
            "AutomationDefinitionNotFoundException",
            f"Document {short} is a {document.document_type} document, not an Automation runbook.",
        )  # wording ours
    return document


def start(
    fleet: FleetBackend,
    request: dict[str, Any],
    executed_by: str,
    triggered_by: str = "",
    parent: Execution | None = None,
    target: str = "",
    replay: rate_control.Timeline | None = None,
) -> Execution:
    """Validate a StartAutomationExecution request and start it in a worker thread; returns at once.

    With a replay timeline (a maintenance window that fell due while time was fast-forwarded) the runbook runs to
    its end first, in this thread, stamped with the timeline's times."""
    mode = request.get("Mode") or "Auto"
    if mode != "Auto":
        raise _invalid(
            "The course sandbox runs automations in Auto mode only (Interactive mode, which waits for "
            "SendAutomationSignal StartStep between steps, is not modelled)."
        )
    for unsupported in ("TargetMaps", "TargetLocations", "TargetLocationsURL", "AlarmConfiguration"):
        if request.get(unsupported):
            raise _invalid(f"The course sandbox does not model {unsupported} for automations.")
    document = document_of(fleet, request["DocumentName"], request.get("DocumentVersion"))
    content = content_of(document)
    given = dict(request.get("Parameters") or {})
    target_parameter = request.get("TargetParameterName") or ""
    targets = request.get("Targets") or []
    if targets and replay is not None:
        raise _invalid("The course sandbox does not replay rate-controlled automations.")
    if targets and not target_parameter:
        raise _invalid("TargetParameterName is required when Targets are given.")  # wording ours
    if target_parameter and not targets:
        raise _invalid("Targets are required when TargetParameterName is given.")  # wording ours
    if target_parameter and target_parameter not in (content.get("parameters") or {}):
        raise _invalid(f'TargetParameterName "{target_parameter}" is not a parameter of {document.name}.')  # ours
    parameters = resolve_parameters(content, given, supplied_later=target_parameter if targets else "")
    resolved: list[str] = []
    if targets:
        resolved = resolve_targets(fleet, targets)
        for value, default in ((request.get("MaxConcurrency"), "10"), (request.get("MaxErrors"), "0")):
            try:
                rate_control.limit(value, 1, default, 0)
            except rate_control.RateError as error:
                raise AutomationError("ValidationException", str(error)) from None
    with fleet.lock:
        running = sum(
            1 for e in list(fleet.automation_executions.values()) if e.status not in TERMINAL and not e.is_parent
        )
        if running >= CONCURRENT_LIMIT and not targets:
            raise AutomationError(
                "AutomationExecutionLimitExceededException",
                f"{CONCURRENT_LIMIT} automations are already running in this account and Region.",
            )  # wording ours
        token = request.get("ClientToken")
        tokens: dict[str, str] = fleet.__dict__.setdefault("automation_tokens", {})
        if token and token in tokens:
            return fleet.automation_executions[tokens[token]]
        execution = Execution(
            execution_id=str(uuid.uuid4()),
            account_id=fleet.account_id,
            region=fleet.region_name,
            document_name=document.name,
            document_version=str(document.document_version),
            content=content,
            given=given,
            parameters=parameters,
            executed_by=executed_by,
            tags=list(request.get("Tags") or []),
            target_parameter_name=target_parameter if targets else "",
            targets=targets,
            resolved_targets=resolved,
            max_concurrency=str(request.get("MaxConcurrency") or ("10" if targets else "")),
            max_errors=str(request.get("MaxErrors") or ("0" if targets else "")),
            target=target,
            parent_id=parent.execution_id if parent else "",
            triggered_by=triggered_by,
            sandbox=_sandbox(),
            timeline=replay,
        )
        execution.started = execution.now()
        execution.steps = [] if targets else [Step(spec) for spec in content.get("mainSteps") or []]
        fleet.automation_executions[execution.execution_id] = execution
        if token:
            tokens[token] = execution.execution_id
    worker = _run_targets if targets else _run
    if replay is not None:
        worker(fleet, execution)
        return execution
    threading.Thread(
        target=worker, args=(fleet, execution), daemon=True, name=f"ssm-automation-{execution.execution_id[:8]}"
    ).start()
    return execution


def _sandbox() -> Any:
    try:
        from ...sandbox import current_sandbox

        return current_sandbox()
    except Exception:  # moto used on its own, without the course sandbox
        return None


def resolve_targets(fleet: FleetBackend, targets: list[dict[str, Any]]) -> list[str]:
    """Rate control's target values: ParameterValues as given, or the EC2 instances with a tag."""
    if len(targets) != 1:
        raise _invalid("Only one resource group or tag can be specified at a time")  # [observed]
    key, values = targets[0].get("Key", ""), list(targets[0].get("Values") or [])
    if key == "ParameterValues":
        return values
    if key.startswith("tag:") or key == "tag-key":
        from .run_command import _tags

        found = []
        for instance in fleet_module.all_instances(fleet.account_id, fleet.region_name):
            tags = _tags(instance)
            if (key == "tag-key" and any(v in tags for v in values)) or tags.get(key[4:]) in values:
                found.append(instance.id)
        return found
    raise _invalid(
        f"Target key {key} is not supported by the course sandbox (it supports ParameterValues, tag:<key> and "
        "tag-key; AWS also takes ResourceGroup)."
    )


# -- running -------------------------------------------------------------------------------------------------------
def _run(fleet: FleetBackend, execution: Execution) -> None:
    try:
        _drive(fleet, execution)
    except clock.Aborted:
        return
    except Exception as error:  # a bug in the sandbox must not leave the execution InProgress for ever
        if execution.alive():
            _finish(execution, "Failed", f"Internal error in the course sandbox: {type(error).__name__}: {error}")
    finally:
        execution.done.set()


def _drive(fleet: FleetBackend, execution: Execution) -> None:
    execution.status = "InProgress"
    problem = assume_role_problem(execution)
    if problem:
        _finish(execution, "Failed", problem)
        return
    index: int | None = 0 if execution.steps else None
    names = {step.name: i for i, step in enumerate(execution.steps)}
    critical: Step | None = None
    for _ in range(MAX_STEP_RUNS):
        if index is None or index >= len(execution.steps):
            break
        if execution.cancel.is_set():
            _finish(execution, "Cancelled")
            return
        step = execution.steps[index]
        execution.current = step
        _run_step(fleet, execution, step)
        if step.status == "Cancelled":
            _finish(execution, "Cancelled")
            return
        if step.status == "Success":
            if step.is_end:
                break
            following = step.chosen_next or step.spec.get("nextStep")
            index = names[following] if following else index + 1
            continue
        if step.on_failure == "Abort":
            status = "TimedOut" if step.status == "TimedOut" else "Failed"
            _finish(execution, status, f"Step {step.name} ({step.action}) {_ended(step)}: {step.failure_message}")
            return
        critical = critical or (step if step.is_critical else None)
        if step.is_end:
            break
        if step.on_failure.startswith("step:"):
            index = names[step.on_failure[5:]]
        else:  # Continue
            following = step.spec.get("nextStep")
            index = names[following] if following else index + 1
    else:
        _finish(execution, "Failed", f"The runbook ran {MAX_STEP_RUNS} steps: the course sandbox stops loops there.")
        return
    if critical is not None:
        _finish(
            execution,
            "Failed",
            f"Step {critical.name} ({critical.action}) {_ended(critical)} and is critical: {critical.failure_message}",
        )
    else:
        _finish(execution, "Success")


def _run_step(fleet: FleetBackend, execution: Execution, step: Step) -> None:
    step.status, step.started, step.ended = "InProgress", execution.now(), None
    step.failure_message, step.failure_details, step.outputs, step.chosen_next = "", None, {}, None
    for attempt in range(step.max_attempts):
        step.status = "InProgress"
        failure: StepFailure | None = None
        timed_out = False
        try:
            step.inputs = substitute(step.spec.get("inputs") or {}, execution.values(), _ssm_lookup(fleet))
            action = ACTIONS.get(step.action)
            if action is None:
                raise StepFailure(
                    "Executing",
                    f"The course sandbox does not run the {step.action} action (it runs {', '.join(sorted(ACTIONS))})",
                    "Unsupported",
                )
            outcome = action(Context(fleet, execution, step), step.inputs)
        except StepCancelled:
            step.status, step.ended = "Cancelled", execution.now()
            return
        except StepTimedOut:
            timed_out = True
        except StepFailure as error:
            failure = error
        except clock.Aborted:
            raise
        except Exception as error:  # e.g. a {{ssm:}} parameter that does not exist
            failure = StepFailure("Executing", f"{type(error).__name__}: {error}", "Unknown")
        if not timed_out and failure is None:
            step.outputs = outcome.outputs
            step.chosen_next = outcome.next_step
            step.response, step.response_code = outcome.response, outcome.response_code
            step.status, step.ended = "Success", execution.now()
            _emit_step(execution, step)
            return
        if timed_out:
            step.status = "TimedOut"
            step.failure_message = (
                f"Step timed out while step is running: the step did not finish within its timeoutSeconds "
                f"({timeout_of(step)} s). {TROUBLESHOOTING}"
            )  # wording ours
            step.failure_details = {"FailureStage": "Invocation", "FailureType": "Timeout"}
        else:
            assert failure is not None
            step.status = "Failed"
            step.failure_message = failure.message
            step.failure_details = {
                "FailureStage": "Invocation",
                "FailureType": failure.failure_type,
                "Details": {"ExceptionMessage": [failure.reason]},
            }
        if attempt + 1 < step.max_attempts:
            continue
    step.ended = execution.now()
    _emit_step(execution, step)


def _ended(step: Step) -> str:
    return "timed out" if step.status == "TimedOut" else "failed"


def _ssm_lookup(fleet: FleetBackend) -> Callable[[str], str]:
    from .run_command import ssm_lookup

    return ssm_lookup(fleet)


def _finish(execution: Execution, status: str, message: str = "") -> None:
    execution.failure_message = message
    execution.ended = execution.now()
    _emit_execution(execution, status)  # first: whoever sees the status can already find the event
    execution.status = status


def stop(execution: Execution) -> None:
    """StopAutomationExecution (Type Cancel): Cancelling until the running step has stopped, then Cancelled."""
    execution.status = "Cancelling"
    execution.cancel.set()


# -- rate control --------------------------------------------------------------------------------------------------
def _run_targets(fleet: FleetBackend, parent: Execution) -> None:
    try:
        _drive_targets(fleet, parent)
    except clock.Aborted:
        return
    except Exception as error:
        if parent.alive():
            _finish(parent, "Failed", f"Internal error in the course sandbox: {type(error).__name__}: {error}")
    finally:
        parent.done.set()


def _drive_targets(fleet: FleetBackend, parent: Execution) -> None:
    parent.status = "InProgress"
    values = list(parent.resolved_targets)
    concurrency = rate_control.limit(parent.max_concurrency, len(values), "10", 1)
    max_errors = rate_control.limit(parent.max_errors, len(values), "0", 0)
    pending, running, errors, failures, stopped = list(values), [], 0, 0, False
    while pending or running:
        while pending and len(running) < concurrency and not stopped:
            value = pending.pop(0)
            request = {
                "DocumentName": parent.document_name,
                "DocumentVersion": parent.document_version,
                "Parameters": {**parent.given, parent.target_parameter_name: [value]},
            }
            running.append(start(fleet, request, parent.executed_by, parent.triggered_by, parent=parent, target=value))
        try:
            wait_real(parent, lambda: any(c.done.is_set() for c in running), None)
        except StepCancelled:
            for child in running:
                if child.status not in TERMINAL:
                    stop(child)
            _finish(parent, "Cancelled")
            return
        for child in [c for c in running if c.done.is_set()]:
            running.remove(child)
            if child.status != "Success":
                failures += 1
                errors += 1
                stopped = stopped or errors > max_errors
        if stopped:
            pending.clear()  # running children complete; no new one starts
    if stopped:
        _finish(parent, "Failed", f"{errors} target(s) failed, more than MaxErrors ({parent.max_errors}) allows.")
    elif failures:
        _finish(parent, "Failed", f"{failures} target(s) failed (within MaxErrors {parent.max_errors}).")
    else:
        _finish(parent, "Success")


# -- EventBridge notifications (monitoring-systems-manager-event-examples.html) ------------------------------------
def _emit_execution(execution: Execution, status: str) -> None:
    if status in TERMINAL:
        _emit(
            execution,
            "EC2 Automation Execution Status-change Notification",
            {"Status": status, "ExecutedBy": execution.executed_by},
        )


def _emit_step(execution: Execution, step: Step) -> None:
    _emit(
        execution,
        "EC2 Automation Step Status-change Notification",
        {"StepName": step.name, "Action": step.action, "Status": step.status},
        step,
    )


def _emit(execution: Execution, detail_type: str, extra: dict[str, Any], step: Step | None = None) -> None:
    if not execution.alive():
        return
    started = (step.started if step else execution.started) or execution.now()
    ended = (step.ended if step else execution.ended) or execution.now()
    detail = {
        "ExecutionId": execution.execution_id,
        "Definition": execution.document_name,
        "DefinitionVersion": float(execution.document_version) if execution.document_version.isdigit() else 1.0,
        "Status": execution.status,
        "StartTime": _event_time(started),
        "EndTime": _event_time(ended),
        "Time": round((ended - started).total_seconds() * 1000, 1),
        **extra,
    }
    prefix = f"arn:aws:ssm:{execution.region}:{execution.account_id}"
    resources = [
        f"{prefix}:automation-execution/{execution.execution_id}",
        f"{prefix}:automation-definition/{execution.document_name}:{execution.document_version}",
    ]
    try:
        from ..events_targets import emit_aws_event

        emit_aws_event("aws.ssm", detail_type, detail, resources, execution.account_id, execution.region)
    except Exception:  # the notification is best effort, as on AWS ("events are produced on a best effort basis")
        return


def _event_time(moment: datetime) -> str:
    return moment.strftime("%b %d, %Y ") + moment.strftime("%I:%M:%S %p").lstrip("0")
