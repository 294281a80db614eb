"""Maintenance windows that run: schedules on the lab clock, executions, tasks in priority order, invocations.

moto stores windows, targets and tasks but never runs them. Here each window is a job of schedule.py: when it
falls due (a Systems Manager call arrives, or `schedule.fast_forward` moves the clock past it) a window execution
is created and replayed, stamped with the time it fell due, as AWS describes it
(https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-windows.html):

- Schedule: cron(...), rate(...) or at(...) in ScheduleTimezone (an IANA name, UTC by default), ScheduleOffset days
  after a cron date, only between StartDate and EndDate, and only while the window is Enabled. A rate counts from
  the window's creation (or StartDate). Duration (1-24 hours) and Cutoff (0-23 hours, less than Duration): "no
  maintenance window tasks are permitted to start after the resulting endtime minus the number of hours you specify
  for Cutoff" (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_UpdateMaintenanceWindow.html).
- Tasks run in Priority order, 0 first (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-maintenance-assign-tasks.html);
  tasks of the same priority start together. AWS does not say whether the next priority waits for the previous
  one to finish: here it does. A task that would start after the cutoff does not start (it is not listed; the
  execution ends TIMED_OUT and says which tasks did not start).
- A RUN_COMMAND task runs once per target node ("the individual task executions (one per target)",
  DescribeMaintenanceWindowExecutionTaskInvocations): each invocation is a real Run Command command (run_command.py)
  for that one node, its ExecutionId the command id, its Parameters the command's request. The task's
  MaxConcurrency and MaxErrors apply across the invocations through rate_control.py, as in Run Command: once
  more invocations have failed than MaxErrors allows, no new one starts (and those never started are not listed).
  CutoffBehavior CANCEL_TASK: no new invocation starts after the cutoff and the task ends TIMED_OUT; CONTINUE_TASK
  (the default) lets the task go on. Targets: registered window targets (WindowTargetIds), or InstanceIds / tag:<key>
  directly. Pseudo parameters (https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-window-tasks-pseudo-parameters.html)
  {{WINDOW_ID}}, {{WINDOW_TASK_ID}}, {{WINDOW_TARGET_ID}}, {{WINDOW_EXECUTION_ID}}, {{TASK_EXECUTION_ID}},
  {{INVOCATION_ID}} and {{TARGET_TYPE}} are replaced; {{TARGET_ID}} and {{RESOURCE_ID}} too, except in Run Command
  tasks, where AWS does not allow them (they are left as written). An
  AWS-RunPatchBaseline task without SnapshotId gets the window execution id, as Patch Manager does in a window.
- Statuses: PENDING | IN_PROGRESS | SUCCESS | FAILED | TIMED_OUT | CANCELLING | CANCELLED | SKIPPED_OVERLAPPING. A task
  with a failed invocation is FAILED; an execution with a FAILED task is FAILED; an execution that falls due while
  the previous one of its window is still running is SKIPPED_OVERLAPPING.

Simplifications: executions are replayed as soon as they fall due and somebody looks, so they are already
finished when listed (their times are those they would have had); tasks that started go on past the window's
end; AUTOMATION, LAMBDA and STEP_FUNCTIONS tasks run only if a module registers a runner in TASK_RUNNERS (else they
end FAILED and say so); window targets of type RESOURCE_GROUP are refused; the ServiceRoleArn is stored and shown,
not assumed. Status details texts are ours except where marked.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import clock
from . import rate_control, run_command, schedule
from .backend import FleetBackend

STATUSES = (
    "PENDING",
    "IN_PROGRESS",
    "SUCCESS",
    "FAILED",
    "TIMED_OUT",
    "CANCELLING",
    "CANCELLED",
    "SKIPPED_OVERLAPPING",
)
TASK_TYPES = ("RUN_COMMAND", "AUTOMATION", "STEP_FUNCTIONS", "LAMBDA")
DEFAULT_PRIORITY = 1  # the console's default; the API reference gives none
FAILED_DETAILS = "One or more tasks in the orchestration failed."  # the text AWS shows for a failed execution


# -- records ------------------------------------------------------------------------------------------------------
@dataclass
class TaskInvocation:
    """One target's run of a task (MaintenanceWindowExecutionTaskInvocationIdentity)."""

    invocation_id: str
    execution_id: str
    task_type: str
    parameters: str
    status: str
    status_details: str
    start: datetime
    end: datetime | None = None
    owner_information: str = ""
    window_target_id: str = ""

    def to_api(self, window_execution_id: str, task_execution_id: str) -> dict[str, Any]:
        body = {
            "WindowExecutionId": window_execution_id,
            "TaskExecutionId": task_execution_id,
            "InvocationId": self.invocation_id,
            "ExecutionId": self.execution_id,
            "TaskType": self.task_type,
            "Parameters": self.parameters,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "StartTime": self.start,
            "OwnerInformation": self.owner_information,
            "WindowTargetId": self.window_target_id,
        }
        if self.end is not None:
            body["EndTime"] = self.end
        return body


@dataclass
class TaskExecution:
    """One task's run within a window execution."""

    task_execution_id: str
    window_task_id: str
    task_arn: str
    task_type: str
    service_role: str
    task_parameters: list[dict[str, Any]]
    priority: int
    max_concurrency: str
    max_errors: str
    status: str
    status_details: str
    start: datetime
    end: datetime | None = None
    invocations: dict[str, TaskInvocation] = field(default_factory=dict)

    def identity(self, window_execution_id: str) -> dict[str, Any]:
        body = {
            "WindowExecutionId": window_execution_id,
            "TaskExecutionId": self.task_execution_id,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "StartTime": self.start,
            "TaskArn": self.task_arn,
            "TaskType": self.task_type,
        }
        if self.end is not None:
            body["EndTime"] = self.end
        return body


@dataclass
class WindowExecution:
    """One run of a maintenance window."""

    window_id: str
    window_execution_id: str
    status: str
    status_details: str
    start: datetime
    end: datetime | None = None
    tasks: dict[str, TaskExecution] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        body = {
            "WindowId": self.window_id,
            "WindowExecutionId": self.window_execution_id,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "StartTime": self.start,
        }
        if self.end is not None:
            body["EndTime"] = self.end
        return body


# -- task runners -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A node (or, for a targetless task, nothing) a task runs against."""

    instance_id: str
    window_target_id: str = ""
    owner_information: str = ""


@dataclass
class RunContext:
    """What a task runner gets: the window, the task, the ids of this run and when it starts."""

    fleet: FleetBackend
    window: Any  # moto FakeMaintenanceWindow
    task: Any  # moto FakeMaintenanceWindowTask
    window_execution_id: str
    task_execution_id: str
    invocation_id: str
    target: Target | None
    at: datetime


@dataclass
class TaskRun:
    """What a runner reports for one invocation."""

    execution_id: str
    status: str  # a STATUSES value
    status_details: str
    lab_seconds: float
    parameters: str = ""
    counts_as_error: bool = True


Runner = Callable[[RunContext], TaskRun]
TASK_RUNNERS: dict[str, Runner] = {}  # task type -> runner; automation.py may add AUTOMATION


def pseudo_parameters(value: Any, ctx: RunContext) -> Any:
    """Replace the maintenance-window pseudo parameters ({{WINDOW_EXECUTION_ID}}, {{TARGET_ID}}, ...); a Run
    Command task can't use {{TARGET_ID}} or {{RESOURCE_ID}}, so they stay as written there."""
    if isinstance(value, dict):
        return {k: pseudo_parameters(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [pseudo_parameters(v, ctx) for v in value]
    if not isinstance(value, str):
        return value
    names = {
        "TARGET_TYPE": "INSTANCE" if ctx.target else "",
        "WINDOW_TARGET_ID": ctx.target.window_target_id if ctx.target else "",
        "WINDOW_ID": ctx.window.id,
        "WINDOW_EXECUTION_ID": ctx.window_execution_id,
        "TASK_EXECUTION_ID": ctx.task_execution_id,
        "WINDOW_TASK_ID": ctx.task.window_task_id,
        "INVOCATION_ID": ctx.invocation_id,
    }
    if ctx.task.task_type != "RUN_COMMAND" and ctx.target is not None:
        names["TARGET_ID"] = names["RESOURCE_ID"] = ctx.target.instance_id
    return re.sub(r"\{\{\s*([A-Z_]+)\s*\}\}", lambda m: names.get(m.group(1), m.group(0)), value)


def task_parameters(task: Any) -> dict[str, list[str]]:
    """The task's document parameters: TaskInvocationParameters.RunCommand.Parameters over legacy TaskParameters."""
    params: dict[str, list[str]] = {
        name: list((spec or {}).get("Values") or []) for name, spec in (task.task_parameters or {}).items()
    }
    run = ((task.task_invocation_parameters or {}).get("RunCommand")) or {}
    params.update({name: list(values) for name, values in (run.get("Parameters") or {}).items()})
    return params


_COMMAND_STATUS = {"Success": "SUCCESS", "Failed": "FAILED", "TimedOut": "TIMED_OUT", "Cancelled": "CANCELLED"}


def run_command_task(ctx: RunContext) -> TaskRun:
    """A RUN_COMMAND invocation: one Run Command command for the target node, replayed at ctx.at."""
    task = ctx.task
    run = (task.task_invocation_parameters or {}).get("RunCommand") or {}
    params = pseudo_parameters(task_parameters(task), ctx)
    if task.task_arn.split("/")[-1] == "AWS-RunPatchBaseline" and not params.get("SnapshotId"):
        params["SnapshotId"] = [ctx.window_execution_id]  # Patch Manager derives it from the window execution
    assert ctx.target is not None
    request = {
        "DocumentName": task.task_arn.split("/")[-1],
        "DocumentVersion": run.get("DocumentVersion"),
        "Comment": pseudo_parameters(run.get("Comment"), ctx),
        "InstanceIds": [ctx.target.instance_id],
        "Parameters": params,
        "TimeoutSeconds": run.get("TimeoutSeconds"),
        "MaxConcurrency": task.max_concurrency,
        "MaxErrors": task.max_errors,
        "OutputS3BucketName": run.get("OutputS3BucketName") or (task.logging_info or {}).get("S3BucketName"),
        "OutputS3KeyPrefix": run.get("OutputS3KeyPrefix") or (task.logging_info or {}).get("S3KeyPrefix"),
        "ServiceRoleArn": run.get("ServiceRoleArn"),
        "NotificationConfig": run.get("NotificationConfig"),
        "CloudWatchOutputConfig": run.get("CloudWatchOutputConfig"),
    }
    shown = {
        "comment": request["Comment"] or "",
        "documentName": request["DocumentName"],
        "instanceIds": request["InstanceIds"],
        "maxConcurrency": task.max_concurrency,
        "maxErrors": task.max_errors,
        "parameters": params,
        "timeoutSeconds": int(request["TimeoutSeconds"] or 3600),
    }
    timeline = rate_control.Timeline(ctx.at)
    try:
        command = run_command.send(ctx.fleet, request, replay=timeline)
    except run_command.InvalidTarget as error:
        return TaskRun("", "FAILED", f"{error.code}: {error.message}"[:250], 1.0, json.dumps(shown))
    invocation = next(iter(command.invocations.values()), None)
    status = _COMMAND_STATUS.get(invocation.status if invocation else command.status, "FAILED")
    details = invocation.status_details if invocation else command.status_details
    return TaskRun(
        command.command_id,
        status,
        details,
        max(timeline.elapsed, 0.001),
        json.dumps(shown),
        counts_as_error=details != "Delivery Timed Out",
    )


TASK_RUNNERS["RUN_COMMAND"] = run_command_task


# -- schedules ----------------------------------------------------------------------------------------------------
def zone(name: str | None) -> tzinfo:
    if not name or name in ("UTC", "Etc/UTC"):
        return UTC
    return ZoneInfo(name)


def _date(text: str | None, tz: tzinfo) -> datetime | None:
    if not text:
        return None
    from .api import parse_time

    return parse_time(text, "StartDate/EndDate", tz).astimezone(UTC)


def _extras(window: Any) -> dict[str, Any]:
    extras: dict[str, Any] | None = getattr(window, "_course", None)
    if extras is None:
        now = clock.now()
        extras = {"enabled": True, "allow_unassociated_targets": False, "created": now, "modified": now}
        window._course = extras
    return extras


def next_run(window: Any, after: datetime) -> datetime | None:
    """The window's first scheduled time strictly after `after` (None: it will not run again)."""
    parsed = schedule.parse(window.schedule)
    tz = zone(window.schedule_timezone)
    start, end = _date(window.start_date, tz), _date(window.end_date, tz)
    moment = max(after, start - timedelta(microseconds=1)) if start else after
    if parsed.every is not None:
        due = parsed.next_after(moment, start or _extras(window)["created"])
    elif parsed.once is not None:
        once = parsed.once.replace(tzinfo=tz).astimezone(UTC)
        due = once if once > moment else None
    else:
        offset = timedelta(days=int(window.schedule_offset or 0))
        local = parsed.next_after((moment - offset).astimezone(tz))
        due = local.astimezone(UTC) + offset if local else None
    if due is not None and end is not None and due > end:
        return None
    return due


def _job_key(window_id: str) -> str:
    return f"maintenance-window:{window_id}"


def _schedule(fleet: FleetBackend, window: Any) -> None:
    """(Re)plan the window's next run on the lab clock."""
    window_id = window.id

    def run(due: datetime) -> datetime | None:
        current = fleet.moto.windows.get(window_id)
        if current is None:
            return None
        if _extras(current)["enabled"]:
            execute(fleet, current, due)
        return next_run(current, due)

    schedule.add_job(fleet, schedule.Job(_job_key(window_id), next_run(window, clock.now()), run))


# -- running a window ---------------------------------------------------------------------------------------------
def _priority(task: Any) -> int:
    return DEFAULT_PRIORITY if task.priority is None else int(task.priority)


def _window_tasks(window: Any) -> list[Any]:
    order = list(window.tasks)
    return sorted(window.tasks.values(), key=lambda t: (_priority(t), order.index(t.window_task_id)))


def _instances_for(fleet: FleetBackend, targets: list[dict[str, Any]]) -> list[str]:
    ids = [i for t in targets if t.get("Key") == "InstanceIds" for i in t.get("Values", [])]
    if ids:
        return ids
    return [instance.id for instance, _, _ in run_command.select(fleet.managed_nodes(), targets)]


def resolve_targets(fleet: FleetBackend, window: Any, task: Any) -> list[Target]:
    """The nodes a task runs on, in order, each once (by registered window target or directly)."""
    found: dict[str, Target] = {}
    for spec in task.targets or []:
        if spec.get("Key") == "WindowTargetIds":
            for window_target_id in spec.get("Values", []):
                registered = window.targets.get(window_target_id)
                if registered is None:
                    continue
                for instance_id in _instances_for(fleet, registered.targets):
                    found.setdefault(
                        instance_id, Target(instance_id, window_target_id, registered.owner_information or "")
                    )
        else:
            for instance_id in _instances_for(fleet, [spec]):
                found.setdefault(instance_id, Target(instance_id))
    return list(found.values())


def execute(fleet: FleetBackend, window: Any, due: datetime) -> WindowExecution:
    """Run the window as it falls due at `due`: its tasks by priority, each under its rate controls."""
    with fleet.lock:
        previous = [e for e in fleet.window_executions.values() if e.window_id == window.id]
    execution = WindowExecution(window.id, str(uuid.uuid4()), "IN_PROGRESS", "", due)
    if previous and previous[-1].end is not None and previous[-1].end > due:
        execution.status = "SKIPPED_OVERLAPPING"
        execution.status_details = f"The previous execution {previous[-1].window_execution_id} was still running."
        execution.end = due
        with fleet.lock:
            fleet.window_executions[execution.window_execution_id] = execution
        return execution
    with fleet.lock:
        fleet.window_executions[execution.window_execution_id] = execution
    cutoff_at = due + timedelta(hours=int(window.duration or 1) - int(window.cutoff or 0))
    now = due
    not_started: list[str] = []
    for _, same_priority in groupby(_window_tasks(window), key=_priority):
        tasks = list(same_priority)
        if now > cutoff_at:
            not_started += [t.name or t.window_task_id for t in tasks]
            continue
        ends = [_run_task(fleet, window, execution, task, now, cutoff_at).end or now for task in tasks]
        now = max(ends)
    execution.end = now
    statuses = {t.status for t in execution.tasks.values()}
    if "FAILED" in statuses:
        execution.status, execution.status_details = "FAILED", FAILED_DETAILS
    elif "TIMED_OUT" in statuses or not_started:
        execution.status = "TIMED_OUT"
        execution.status_details = (
            f"Task(s) not started, the window's cutoff had passed: {', '.join(not_started)}."
            if not_started
            else "A task was stopped at the window's cutoff."
        )
    else:
        execution.status = "SUCCESS"
        execution.status_details = "" if execution.tasks else "No tasks to execute."
    return execution


def _run_task(
    fleet: FleetBackend, window: Any, execution: WindowExecution, task: Any, start: datetime, cutoff_at: datetime
) -> TaskExecution:
    record = TaskExecution(
        task_execution_id=str(uuid.uuid4()),
        window_task_id=task.window_task_id,
        task_arn=task.task_arn,
        task_type=task.task_type,
        service_role=task.service_role_arn
        or f"arn:aws:iam::{fleet.account_id}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM",
        task_parameters=[{name: {"Values": values}} for name, values in task_parameters(task).items()],
        priority=_priority(task),
        max_concurrency=task.max_concurrency or "1",
        max_errors=task.max_errors or "1",
        status="IN_PROGRESS",
        status_details="",
        start=start,
    )
    execution.tasks[record.task_execution_id] = record
    runner = TASK_RUNNERS.get(task.task_type)
    if runner is None:
        record.status = "FAILED"
        record.status_details = f"The course sandbox does not run {task.task_type} maintenance window tasks."
        record.end = start
        return record
    targets: list[Target | None] = list(resolve_targets(fleet, window, task)) if task.targets else [None]
    if not targets:
        record.status, record.status_details, record.end = "SUCCESS", "No invocations to execute", start
        return record
    timeline = rate_control.Timeline(start)
    cut_off: list[Target | None] = []
    by_key = {index: target for index, target in enumerate(targets)}
    started: dict[int, str] = {}  # target index -> invocation id

    def begin(index: int) -> rate_control.Outcome:
        target = by_key[index]
        at = timeline.now()
        if task.cutoff_behavior == "CANCEL_TASK" and at > cutoff_at:
            cut_off.append(target)
            return rate_control.Outcome(False, 0.0, counts_as_error=False)
        invocation_id = str(uuid.uuid4())
        ctx = RunContext(
            fleet, window, task, execution.window_execution_id, record.task_execution_id, invocation_id, target, at
        )
        result = runner(ctx)
        record.invocations[invocation_id] = TaskInvocation(
            invocation_id=invocation_id,
            execution_id=result.execution_id,
            task_type=task.task_type,
            parameters=result.parameters,
            status=result.status,
            status_details=result.status_details,
            start=at,
            owner_information=target.owner_information if target else "",
            window_target_id=target.window_target_id if target else "",
        )
        started[index] = invocation_id
        return rate_control.Outcome(result.status == "SUCCESS", result.lab_seconds, result.counts_as_error)

    def finish(index: int, outcome: rate_control.Outcome) -> None:
        invocation_id = started.get(index)
        if invocation_id is not None:
            record.invocations[invocation_id].end = timeline.now()

    def never_started(index: int, why: str) -> None:
        pass  # invocations that never started are not listed

    concurrency = rate_control.limit(record.max_concurrency, len(targets), "1", 1)
    max_errors = rate_control.limit(record.max_errors, len(targets), "1", 0)
    result = rate_control.run(
        list(by_key), concurrency, max_errors, begin, finish, threading.Event(), never_started, timeline
    )
    record.end = timeline.now()
    failed = [i for i in record.invocations.values() if i.status != "SUCCESS"]
    if cut_off:
        record.status = "TIMED_OUT"
        record.status_details = (
            f"{len(cut_off)} invocation(s) not started: the window's cutoff passed (CutoffBehavior CANCEL_TASK)."
        )
    elif result == "Failed":
        record.status = "FAILED"
        record.status_details = (
            f"{len(failed)} invocation(s) failed, more than MaxErrors ({record.max_errors}) allows: "
            f"{len(targets) - len(record.invocations)} target(s) not started."
        )
    elif failed:
        record.status = "FAILED"
        record.status_details = f"{len(failed)} of {len(record.invocations)} invocation(s) failed."
    else:
        record.status, record.status_details = "SUCCESS", ""
    return record


# -- API ----------------------------------------------------------------------------------------------------------
def _time_text(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%MZ") if tz is UTC else local.isoformat(timespec="minutes")


def _window_body(fleet: FleetBackend, window: Any, full: bool) -> dict[str, Any]:
    extras = _extras(window)
    body = {k: v for k, v in window.to_json().items() if v is not None}
    body["Enabled"] = extras["enabled"]
    job = getattr(fleet, "jobs", {}).get(_job_key(window.id))
    if extras["enabled"] and job is not None and job.next_due is not None:
        body["NextExecutionTime"] = _time_text(job.next_due, zone(window.schedule_timezone))
    if full:
        body["AllowUnassociatedTargets"] = extras["allow_unassociated_targets"]
        body["CreatedDate"] = extras["created"]
        body["ModifiedDate"] = extras["modified"]
    return body


def install() -> None:
    """Answer the maintenance-window actions moto lacks or does not run."""
    from . import api

    def not_found(kind: str, name: str) -> Exception:
        return api.SsmError("DoesNotExistException", f"{kind} {name} does not exist")  # wording ours

    def window_of(fleet: FleetBackend, window_id: str) -> Any:
        window = fleet.moto.windows.get(window_id)
        if window is None:
            raise not_found("Maintenance window", window_id)
        return window

    def validate_window(
        schedule_text: str | None, duration: int | None, cutoff: int | None, timezone: str | None, offset: int | None
    ) -> None:
        try:
            parsed = schedule.parse(schedule_text or "")
        except schedule.ScheduleError as error:
            raise api.SsmError("ValidationException", str(error)) from None
        if duration is not None and not 1 <= int(duration) <= 24:
            raise api.SsmError("ValidationException", "Duration must be between 1 and 24 hours.")
        if cutoff is not None and not 0 <= int(cutoff) <= 23:
            raise api.SsmError("ValidationException", "Cutoff must be between 0 and 23 hours.")
        if duration is not None and cutoff is not None and int(cutoff) >= int(duration):
            raise api.SsmError("ValidationException", "The cutoff must be less than the duration.")  # wording ours
        try:
            zone(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise api.SsmError("ValidationException", f"Invalid schedule timezone: {timezone}") from None  # ours
        if offset and (parsed.fields is None or not 1 <= int(offset) <= 6):
            raise api.SsmError("ValidationException", "ScheduleOffset (1-6 days) applies to cron schedules only.")

    def create_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        duration, cutoff = api.param(self, "Duration"), api.param(self, "Cutoff")
        timezone, offset = api.param(self, "ScheduleTimezone"), api.param(self, "ScheduleOffset")
        validate_window(api.param(self, "Schedule"), duration, cutoff, timezone, offset)
        for date_field in ("StartDate", "EndDate"):
            _date(api.param(self, date_field), UTC)  # refused before anything is created
        window_id = fleet.moto.create_maintenance_window(
            name=api.param(self, "Name"),
            description=api.param(self, "Description"),
            duration=duration,
            cutoff=cutoff,
            schedule=api.param(self, "Schedule"),
            schedule_timezone=timezone,
            schedule_offset=offset,
            start_date=api.param(self, "StartDate"),
            end_date=api.param(self, "EndDate"),
            tags=api.param(self, "Tags"),
        )
        window = fleet.moto.windows[window_id]
        _extras(window)["allow_unassociated_targets"] = bool(api.param(self, "AllowUnassociatedTargets", False))
        _schedule(fleet, window)
        return {"WindowId": window_id}

    def update_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window = window_of(fleet, api.param(self, "WindowId"))
        replace = bool(api.param(self, "Replace", False))
        attributes = {
            "Name": "name",
            "Description": "description",
            "StartDate": "start_date",
            "EndDate": "end_date",
            "Schedule": "schedule",
            "ScheduleTimezone": "schedule_timezone",
            "ScheduleOffset": "schedule_offset",
            "Duration": "duration",
            "Cutoff": "cutoff",
        }
        given = {key: api.param(self, key) for key in attributes}
        merged = {key: getattr(window, attr) if given[key] is None else given[key] for key, attr in attributes.items()}
        validate_window(
            merged["Schedule"],
            merged["Duration"],
            merged["Cutoff"],
            merged["ScheduleTimezone"],
            merged["ScheduleOffset"],
        )
        optional = ("Description", "StartDate", "EndDate", "ScheduleTimezone", "ScheduleOffset")
        for key, attr in attributes.items():
            if given[key] is not None:
                setattr(window, attr, given[key])
            elif replace and key in optional:
                setattr(window, attr, None)
        extras = _extras(window)
        for key, name in (("Enabled", "enabled"), ("AllowUnassociatedTargets", "allow_unassociated_targets")):
            if api.param(self, key) is not None:
                extras[name] = bool(api.param(self, key))
        extras["modified"] = clock.now()
        _schedule(fleet, window)
        body = _window_body(fleet, window, full=True)
        for key in ("NextExecutionTime", "CreatedDate", "ModifiedDate"):
            body.pop(key, None)
        return body

    def get_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        return _window_body(fleet, window_of(fleet, api.param(self, "WindowId")), full=True)

    def describe_maintenance_windows(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        found = []
        for window in list(fleet.moto.windows.values()):
            body = _window_body(fleet, window, full=False)
            keep = True
            for f in api.param(self, "Filters") or []:
                values = f.get("Values") or []
                if f["Key"] == "Name" and window.name not in values:
                    keep = False
                if f["Key"] == "Enabled" and str(body["Enabled"]).lower() not in [v.lower() for v in values]:
                    keep = False
            if keep:
                found.append(body)
        return api.page(found, self, "WindowIdentities", 10)

    def delete_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window_id = api.param(self, "WindowId")
        fleet.moto.windows.pop(window_id, None)
        schedule.remove_job(fleet, _job_key(window_id))
        return {"WindowId": window_id}

    def register_target_with_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window_id = api.param(self, "WindowId")
        window_of(fleet, window_id)
        resource_type = api.param(self, "ResourceType")
        targets = api.param(self, "Targets") or []
        if resource_type != "INSTANCE":
            raise api.SsmError(
                "ValidationException", f"The course sandbox supports ResourceType INSTANCE, not {resource_type}."
            )
        for target in targets:
            key = target.get("Key", "")
            if not (key.startswith("tag:") or key in ("tag-key", "InstanceIds")):
                raise api.SsmError(
                    "ValidationException", f"Target key {key} is not supported by the course sandbox."
                )  # wording ours
        target_id = fleet.moto.register_target_with_maintenance_window(
            window_id=window_id,
            resource_type=resource_type,
            targets=targets,
            owner_information=api.param(self, "OwnerInformation"),
            name=api.param(self, "Name"),
            description=api.param(self, "Description"),
        )
        return {"WindowTargetId": target_id}

    def describe_maintenance_window_targets(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window = window_of(fleet, api.param(self, "WindowId"))
        found = []
        for target in window.targets.values():
            body = {k: v for k, v in target.to_json().items() if v is not None}
            body["OwnerInformation"] = target.owner_information or ""
            found.append(body)
        return api.page(found, self, "Targets", 10)

    def validate_task(task_type: str, targets: list[dict[str, Any]] | None, concurrency: Any, errors: Any) -> None:
        if task_type not in TASK_TYPES:
            raise api.SsmError("ValidationException", f"TaskType {task_type} is not valid.")
        if task_type == "RUN_COMMAND" and not targets:
            raise api.SsmError("ValidationException", "A RUN_COMMAND task needs Targets.")  # wording ours
        if targets and (concurrency in (None, "") or errors in (None, "")):
            # "a value can be omitted only when you are registering or updating a targetless task"
            raise api.SsmError(
                "ValidationException", "MaxConcurrency and MaxErrors are required for a task with targets."
            )
        for spec in targets or []:
            key = spec.get("Key", "")
            if not (key in ("WindowTargetIds", "InstanceIds", "tag-key") or key.startswith("tag:")):
                raise api.SsmError("ValidationException", f"Target key {key} is not valid for a task.")  # wording ours
        for value in (concurrency, errors):
            if value not in (None, ""):
                try:
                    rate_control.limit(value, 1, "1", 0)
                except rate_control.RateError as error:
                    raise api.SsmError("ValidationException", str(error)) from None

    def register_task_with_maintenance_window(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window_id = api.param(self, "WindowId")
        window = window_of(fleet, window_id)
        task_type, targets = api.param(self, "TaskType"), api.param(self, "Targets")
        concurrency, errors = api.param(self, "MaxConcurrency"), api.param(self, "MaxErrors")
        validate_task(task_type, targets, concurrency, errors)
        for spec in targets or []:
            if spec.get("Key") == "WindowTargetIds":
                unknown = [t for t in spec.get("Values", []) if t not in window.targets]
                if unknown:
                    raise not_found("Window target", ", ".join(unknown))
        cutoff_behavior = api.param(self, "CutoffBehavior") or "CONTINUE_TASK"
        if cutoff_behavior not in ("CONTINUE_TASK", "CANCEL_TASK"):
            raise api.SsmError("ValidationException", f"CutoffBehavior {cutoff_behavior} is not valid.")
        task_id = fleet.moto.register_task_with_maintenance_window(
            window_id=window_id,
            targets=targets,
            task_arn=api.param(self, "TaskArn"),
            service_role_arn=api.param(self, "ServiceRoleArn"),
            task_type=task_type,
            task_parameters=api.param(self, "TaskParameters"),
            task_invocation_parameters=api.param(self, "TaskInvocationParameters"),
            priority=api.param(self, "Priority", DEFAULT_PRIORITY),
            max_concurrency=concurrency or ("1" if not targets else None),
            max_errors=errors or ("1" if not targets else None),
            logging_info=api.param(self, "LoggingInfo"),
            name=api.param(self, "Name"),
            description=api.param(self, "Description"),
            cutoff_behavior=cutoff_behavior,
            alarm_configurations=api.param(self, "AlarmConfiguration"),
        )
        return {"WindowTaskId": task_id}

    def task_of(fleet: FleetBackend, window_id: str, task_id: str) -> Any:
        task = window_of(fleet, window_id).tasks.get(task_id)
        if task is None:
            raise not_found("Maintenance window task", task_id)
        return task

    def task_body(task: Any) -> dict[str, Any]:
        body = {k: v for k, v in task.to_json().items() if v is not None}
        body["CutoffBehavior"] = task.cutoff_behavior or "CONTINUE_TASK"
        if task.alarm_configurations:
            body["AlarmConfiguration"] = task.alarm_configurations
        return body

    def get_maintenance_window_task(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        return task_body(task_of(fleet, api.param(self, "WindowId"), api.param(self, "WindowTaskId")))

    def describe_maintenance_window_tasks(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window = window_of(fleet, api.param(self, "WindowId"))
        # DescribeMaintenanceWindowTasks' MaintenanceWindowTask calls the task type "Type" (Get...Task: "TaskType")
        found = [
            {("Type" if k == "TaskType" else k): v for k, v in task_body(t).items()} for t in window.tasks.values()
        ]
        for f in api.param(self, "Filters") or []:
            key, values = f["Key"], f.get("Values") or []
            field_name = {"WindowTaskId": "WindowTaskId", "TaskArn": "TaskArn", "Priority": "Priority"}.get(key, key)
            found = [t for t in found if str(t.get(field_name)) in values]
        return api.page(found, self, "Tasks", 10)

    def update_maintenance_window_task(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        task = task_of(fleet, api.param(self, "WindowId"), api.param(self, "WindowTaskId"))
        replace = bool(api.param(self, "Replace", False))
        attributes = {
            "Targets": "targets",
            "TaskArn": "task_arn",
            "ServiceRoleArn": "service_role_arn",
            "TaskParameters": "task_parameters",
            "TaskInvocationParameters": "task_invocation_parameters",
            "Priority": "priority",
            "MaxConcurrency": "max_concurrency",
            "MaxErrors": "max_errors",
            "LoggingInfo": "logging_info",
            "Name": "name",
            "Description": "description",
            "CutoffBehavior": "cutoff_behavior",
            "AlarmConfiguration": "alarm_configurations",
        }
        given = {key: api.param(self, key) for key in attributes}
        validate_task(
            task.task_type,
            given["Targets"] if given["Targets"] is not None else task.targets,
            given["MaxConcurrency"] if given["MaxConcurrency"] is not None else task.max_concurrency,
            given["MaxErrors"] if given["MaxErrors"] is not None else task.max_errors,
        )
        for key, attr in attributes.items():
            if given[key] is not None:
                setattr(task, attr, given[key])
            elif replace and key not in ("Targets", "TaskArn", "MaxConcurrency", "MaxErrors", "Priority"):
                setattr(task, attr, None)
        return task_body(task)

    def execution_of(fleet: FleetBackend, execution_id: str) -> WindowExecution:
        with fleet.lock:
            execution = fleet.window_executions.get(execution_id)
        if execution is None:
            raise not_found("Maintenance window execution", execution_id)
        return execution

    def task_execution_of(fleet: FleetBackend, execution_id: str, task_id: str) -> TaskExecution:
        task = execution_of(fleet, execution_id).tasks.get(task_id)
        if task is None:
            raise not_found("Maintenance window execution task", task_id)
        return task

    def status_filter(self: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for f in api.param(self, "Filters") or []:
            if f["Key"] == "STATUS":
                items = [i for i in items if i["Status"] in (f.get("Values") or [])]
        return items

    def describe_maintenance_window_executions(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window_id = api.param(self, "WindowId")
        window_of(fleet, window_id)
        with fleet.lock:
            found = [e.to_api() for e in fleet.window_executions.values() if e.window_id == window_id]
        for f in api.param(self, "Filters") or []:
            moment = api.parse_time((f.get("Values") or [""])[0], f["Key"])
            if f["Key"] == "ExecutedBefore":
                found = [e for e in found if e["StartTime"] < moment]
            elif f["Key"] == "ExecutedAfter":
                found = [e for e in found if e["StartTime"] > moment]
        found.sort(key=lambda e: e["StartTime"], reverse=True)
        return api.page(found, self, "WindowExecutions", 10)

    def get_maintenance_window_execution(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        execution = execution_of(fleet, api.param(self, "WindowExecutionId"))
        body = execution.to_api()
        body.pop("WindowId")
        body["TaskIds"] = list(execution.tasks)
        return body

    def describe_maintenance_window_execution_tasks(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        execution = execution_of(fleet, api.param(self, "WindowExecutionId"))
        found = status_filter(self, [t.identity(execution.window_execution_id) for t in execution.tasks.values()])
        return api.page(found, self, "WindowExecutionTaskIdentities", 10)

    def get_maintenance_window_execution_task(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        execution_id, task_id = api.param(self, "WindowExecutionId"), api.param(self, "TaskId")
        task = task_execution_of(fleet, execution_id, task_id)
        body = task.identity(execution_id)
        body.update(
            {
                "ServiceRole": task.service_role,
                "Type": body.pop("TaskType"),
                "TaskParameters": task.task_parameters,
                "Priority": task.priority,
                "MaxConcurrency": task.max_concurrency,
                "MaxErrors": task.max_errors,
            }
        )
        return body

    def describe_maintenance_window_execution_task_invocations(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        execution_id, task_id = api.param(self, "WindowExecutionId"), api.param(self, "TaskId")
        task = task_execution_of(fleet, execution_id, task_id)
        found = status_filter(self, [i.to_api(execution_id, task_id) for i in task.invocations.values()])
        return api.page(found, self, "WindowExecutionTaskInvocationIdentities", 10)

    def get_maintenance_window_execution_task_invocation(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        execution_id, task_id = api.param(self, "WindowExecutionId"), api.param(self, "TaskId")
        invocation = task_execution_of(fleet, execution_id, task_id).invocations.get(api.param(self, "InvocationId"))
        if invocation is None:
            raise not_found("Maintenance window execution task invocation", api.param(self, "InvocationId"))
        return invocation.to_api(execution_id, task_id)

    def describe_maintenance_window_schedule(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        window_id = api.param(self, "WindowId")
        if not window_id:
            raise api.SsmError("ValidationException", "The course sandbox answers this call for a WindowId.")
        window = window_of(fleet, window_id)
        runs: list[dict[str, Any]] = []
        job = getattr(fleet, "jobs", {}).get(_job_key(window_id))
        due = job.next_due if job is not None and _extras(window)["enabled"] else None
        tz = zone(window.schedule_timezone)
        while due is not None and len(runs) < 100:
            runs.append({"WindowId": window_id, "Name": window.name, "ExecutionTime": _time_text(due, tz)})
            due = next_run(window, due)
        return api.page(runs, self, "ScheduledWindowExecutions", 50)

    for handler in (
        create_maintenance_window,
        update_maintenance_window,
        get_maintenance_window,
        describe_maintenance_windows,
        delete_maintenance_window,
        register_target_with_maintenance_window,
        describe_maintenance_window_targets,
        register_task_with_maintenance_window,
        get_maintenance_window_task,
        describe_maintenance_window_tasks,
        update_maintenance_window_task,
        describe_maintenance_window_executions,
        get_maintenance_window_execution,
        describe_maintenance_window_execution_tasks,
        get_maintenance_window_execution_task,
        describe_maintenance_window_execution_task_invocations,
        get_maintenance_window_execution_task_invocation,
        describe_maintenance_window_schedule,
    ):
        api.register(handler.__name__, handler)
