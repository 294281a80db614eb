"""Automation's model: executions and steps, runbook parameters, waiting on the lab clock, the assume role.

https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html
- Statuses (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html): an execution
  goes Pending -> InProgress (Waiting while aws:approve / aws:pause wait for a signal) -> Success | Failed |
  Cancelled | TimedOut; a step is Pending until it runs, and stays Pending when a branch skipped it or the
  automation ended before it.
- Common step properties (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html):
  maxAttempts (default 1; each attempt has its own timeoutSeconds), onFailure Abort (default) | Continue |
  step:<name>, isEnd, nextStep, isCritical (default true; false with onFailure Continue).
- Parameters: StartAutomationExecution passes every value as a list of strings; the runbook's declared type
  (String, StringList, Integer, Boolean, StringMap, MapList, and AWS::*-typed strings) decides the value its
  steps see. Unknown, missing or disallowed values: InvalidAutomationExecutionParametersException.
- Variables: {{ parameter }}, {{ step.Output }}, {{ automation:EXECUTION_ID }}, {{ global:ACCOUNT_ID }},
  {{ global:REGION }}, {{ global:DATE }}, {{ global:DATE_TIME }} (yyyy-MM-dd_HH.mm.ss), {{ global:AWS_PARTITION }}
  and {{ssm:/parameter}} (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-variables.html).
- assumeRole: without one the runbook runs with the caller's permissions; with one, the role must exist and
  trust ssm.amazonaws.com, or the execution fails ("The defined assume role is unable to be assumed."
  [observed in public issues]); every AWS call a step makes is then checked against the role's policies.

Waiting: a step's own time (an instance stopping, aws:sleep, the pause between polls) passes on the lab clock
(clock.wait). Waiting for what another thread does (a Run Command command, a person's approval) is real-time
polling that reads sandbox time for the deadline, so the clock does not move twice for the same wait.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.iam.models import iam_backends

from .. import clock
from . import fleet as fleet_module
from .documents_run import substitute

TERMINAL = ("Success", "Failed", "Cancelled", "TimedOut")
# AWS's placeholder for a runbook output whose step did not succeed (AWS CLI example of get-automation-execution)
NO_OUTPUT = "No output available yet because the step is not successfully executed"
TROUBLESHOOTING = "Please refer to Automation Service Troubleshooting Guide for more diagnosis details."  # [observed]
ASSUME_ROLE_FAILURE = "The defined assume role is unable to be assumed."  # [observed]


class AutomationError(Exception):
    """A StartAutomationExecution (or other API call) that AWS refuses with this error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StepCancelled(Exception):
    """StopAutomationExecution arrived while the step was running."""


class StepTimedOut(Exception):
    """The step's timeoutSeconds passed."""


class StepFailure(Exception):
    """A step failed: `stage` and `reason` make AWS's "Step fails when it is <stage>. <reason>." message."""

    def __init__(self, stage: str, reason: str, failure_type: str = "Verification") -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
        self.failure_type = failure_type

    @property
    def message(self) -> str:
        return f"Step fails when it is {self.stage}. {self.reason.rstrip('.')}. {TROUBLESHOOTING}"


@dataclass
class Outcome:
    """What an action produced (raise StepFailure / StepTimedOut / StepCancelled for the other endings)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None  # aws:branch's choice
    response: str = ""
    response_code: str = ""


@dataclass
class Step:
    """One step of the runbook and its StepExecution record."""

    spec: dict[str, Any]
    status: str = "Pending"
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    started: datetime | None = None
    ended: datetime | None = None
    failure_message: str = ""
    failure_details: dict[str, Any] | None = None
    response: str = ""
    response_code: str = ""
    chosen_next: str | None = None
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def action(self) -> str:
        return str(self.spec["action"])

    @property
    def on_failure(self) -> str:
        return str(self.spec.get("onFailure") or "Abort")

    @property
    def is_critical(self) -> bool:
        if "isCritical" in self.spec:
            return _truthy(self.spec["isCritical"])
        return self.on_failure != "Continue"

    @property
    def is_end(self) -> bool:
        return _truthy(self.spec.get("isEnd", False))

    @property
    def max_attempts(self) -> int:
        return max(1, int(self.spec.get("maxAttempts") or 1))


@dataclass
class Execution:
    """An automation execution (a rate-controlled parent, or a runbook run)."""

    execution_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    content: dict[str, Any]
    given: dict[str, list[str]]  # Parameters as the caller passed them
    parameters: dict[str, Any]  # typed, defaults filled in
    executed_by: str
    mode: str = "Auto"
    status: str = "Pending"
    started: datetime | None = None
    ended: datetime | None = None
    failure_message: str = ""
    steps: list[Step] = field(default_factory=list)
    current: Step | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    target_parameter_name: str = ""
    targets: list[dict[str, Any]] = field(default_factory=list)
    resolved_targets: list[str] = field(default_factory=list)
    max_concurrency: str = ""
    max_errors: str = ""
    target: str = ""  # a child's target value
    parent_id: str = ""
    assume_role: str = ""
    triggered_by: str = ""  # e.g. the EventBridge rule that started it
    sandbox: Any = None
    timeline: Any = None  # a rate_control.Timeline replaying from the past (maintenance windows), else None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    signals: list[dict[str, Any]] = field(default_factory=list)
    signal_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_parent(self) -> bool:
        return bool(self.target_parameter_name) and not self.parent_id

    def now(self) -> datetime:
        """This execution's present: the lab clock, or its replay timeline."""
        return self.timeline.now() if self.timeline is not None else clock.now()

    def alive(self) -> bool:
        """False once the sandbox this execution belongs to was stopped or reset."""
        return self.sandbox is None or bool(self.sandbox.running)

    def values(self) -> dict[str, Any]:
        """Everything {{ }} can name now: parameters, system and automation variables, earlier steps' outputs."""
        now = self.now()
        found = dict(self.parameters)
        found.update(
            {
                "automation:EXECUTION_ID": self.execution_id,
                "global:ACCOUNT_ID": self.account_id,
                "global:REGION": self.region,
                "global:AWS_PARTITION": "aws",
                "global:DATE": now.strftime("%Y-%m-%d"),
                "global:DATE_TIME": now.strftime("%Y-%m-%d_%H.%M.%S"),
            }
        )
        for step in self.steps:
            for name, value in step.outputs.items():
                found[f"{step.name}.{name}"] = value
        return found


# -- parameters ----------------------------------------------------------------------------------------------------
def resolve_parameters(content: dict[str, Any], given: dict[str, Any], supplied_later: str = "") -> dict[str, Any]:
    """The runbook's parameters, typed, with defaults; AWS's InvalidAutomationExecutionParametersException
    for unknown, missing or disallowed values. `supplied_later` is rate control's TargetParameterName."""
    declared: dict[str, Any] = content.get("parameters") or {}
    for name in given:
        if name not in declared:
            raise _invalid(f'Parameter "{name}" is not defined in the runbook {_doc_hint(content)}.')  # wording ours
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in given:
            value = _typed(name, spec.get("type", "String"), given[name])
        elif name == supplied_later:
            continue
        elif "default" in spec:
            value = _typed(name, spec.get("type", "String"), spec["default"])
        else:
            raise _invalid(f"Missing required parameter: {name} in user inputs.")  # [observed]
        _check_allowed(name, spec, value)
        values[name] = value
    return values


def _doc_hint(content: dict[str, Any]) -> str:
    declared = sorted((content.get("parameters") or {}).keys())
    return f"(it declares: {', '.join(declared)})" if declared else "(it declares no parameters)"


def _invalid(message: str) -> AutomationError:
    return AutomationError("InvalidAutomationExecutionParametersException", message)


def _typed(name: str, kind: str, raw: Any) -> Any:
    """A parameter value as its declared type (AWS passes every value as a list of strings)."""
    listed = isinstance(raw, list)
    if kind == "StringList" or kind.startswith("List<"):
        items = raw if listed else [raw]
        return [v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict) else str(v) for v in items]
    if kind == "MapList":
        items = raw if listed else [raw]
        try:
            return [json.loads(v) if isinstance(v, str) else v for v in items]
        except ValueError:
            raise _invalid(f'Parameter "{name}" is of type MapList: each value must be a JSON object.') from None
    if listed:
        if len(raw) != 1:
            raise _invalid(f'Parameter "{name}" is of type {kind} and takes one value, not {len(raw)}.')  # ours
        raw = raw[0]
    if kind == "Integer":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise _invalid(f'Parameter "{name}" has value "{raw}" which is not an Integer.') from None  # ours
    if kind == "Boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise _invalid(f'Parameter "{name}" has value "{raw}" which is not a Boolean.')  # wording ours
    if kind == "StringMap":
        if isinstance(raw, dict):
            return raw
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            raise _invalid(f'Parameter "{name}" is of type StringMap: the value must be a JSON object.') from None
    return raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)


def _check_allowed(name: str, spec: dict[str, Any], value: Any) -> None:
    allowed = spec.get("allowedValues")
    items = value if isinstance(value, list) else [value]
    if allowed:
        for item in items:
            if str(item) not in [str(a) for a in allowed]:
                shown = ", ".join(str(a) for a in allowed)
                raise _invalid(f'Parameter "{name}" has value "{item}" not found in [{shown}].')  # [observed]
    pattern = spec.get("allowedPattern")
    if pattern:
        for item in items:
            if not re.search(pattern, str(item)):
                raise _invalid(f'Parameter "{name}" has value "{item}" not matching {pattern}.')  # wording ours


def api_values(value: Any) -> list[str]:
    """A value as the API shows parameters and outputs: a list of strings."""
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v, default=str) for v in value]
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, dict):
        return [json.dumps(value, default=str)]
    return [str(value)]


# -- timeouts and waiting ------------------------------------------------------------------------------------------
def timeout_of(step: Step) -> int | None:
    """The step's timeoutSeconds, or the action's default (aws:changeInstanceState, aws:assert...: 3600 s;
    aws:approve and aws:pause: 7 days), or None."""
    if step.spec.get("timeoutSeconds") not in (None, ""):
        return int(step.spec["timeoutSeconds"])
    return {
        "aws:changeInstanceState": 3600,
        "aws:assertAwsResourceProperty": 3600,
        "aws:waitForAwsResourceProperty": 3600,
        "aws:createImage": 3600,
        "aws:approve": 7 * 86400,
        "aws:pause": 7 * 86400,
    }.get(step.action)


def wait_real(execution: Execution, ready: Callable[[], bool], deadline: datetime | None) -> None:
    """Poll (in real time) until `ready()`; StepCancelled, StepTimedOut (sandbox time past `deadline`), or
    clock.Aborted when the sandbox went away. A replayed execution cannot wait for anything."""
    if execution.timeline is not None and not ready():
        raise StepFailure(
            "Waiting",
            "A maintenance window's automation is replayed at once in the course sandbox: it cannot wait for a "
            "signal or for other work",
            "Unsupported",
        )
    while not ready():
        if execution.cancel.is_set():
            raise StepCancelled
        if not execution.alive():
            raise clock.Aborted
        if deadline is not None and clock.now() >= deadline:
            raise StepTimedOut
        time.sleep(0.01)


def lab_sleep(execution: Execution, seconds: float, deadline: datetime | None) -> None:
    """Let `seconds` of lab time pass for this step (StepTimedOut if its deadline comes first)."""
    remaining = (deadline - execution.now()).total_seconds() if deadline is not None else None
    if remaining is not None and remaining <= 0:
        raise StepTimedOut
    wait = max(seconds if remaining is None else min(seconds, remaining), 0.0)
    if execution.timeline is not None:
        cancelled = execution.timeline.wait(execution.cancel, wait)
    else:
        cancelled = clock.wait(execution.cancel, wait)
    if cancelled:
        raise StepCancelled
    if remaining is not None and seconds >= remaining:
        raise StepTimedOut


def deadline_for(execution: Execution, step: Step) -> datetime | None:
    timeout = timeout_of(step)
    return execution.now() + timedelta(seconds=timeout) if timeout else None


# -- the assume role -----------------------------------------------------------------------------------------------
def assume_role_arn(execution: Execution) -> str:
    """The runbook's assumeRole after substitution ('' when none is given)."""
    raw = execution.content.get("assumeRole")
    if not raw:
        return ""
    value = substitute(raw, execution.parameters)
    text = value[0] if isinstance(value, list) and value else value
    return "" if not isinstance(text, str) or "{{" in text else text.strip()


def role_of(arn: str) -> tuple[Any, Any] | None:
    """(role, IAM backend) of a role ARN of the sandbox, or None."""
    match = re.match(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$", arn)
    if not match:
        return None
    iam = iam_backends[match.group(1)]["aws"]
    role = fleet_module._role(iam, match.group(2))
    return (role, iam) if role is not None else None


def assume_role_problem(execution: Execution) -> str:
    """AWS's failure when the runbook's assumeRole cannot be assumed by Automation ('' when fine)."""
    arn = assume_role_arn(execution)
    execution.assume_role = arn
    if not arn:
        return ""
    found = role_of(arn)
    if found is None:
        why = f"the role {arn} does not exist"
    elif not fleet_module._trusts(found[0], "ssm.amazonaws.com"):
        why = f"the trust policy of {found[0].name} does not allow ssm.amazonaws.com to assume it"
    else:
        return ""
    return f"{ASSUME_ROLE_FAILURE} (course sandbox: {why}.)"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
