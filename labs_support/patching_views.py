"""Patching, pictured from the real Systems Manager API: a maintenance window run as a timeline, the fleet's patch
compliance as a table.

    ls.maintenance_window_timeline(ssm, window_execution_id)   # a bar per invocation, from its start to its end
    ls.maintenance_window_timeline(ssm, "mw-0123...")          # the same for the window's latest execution
    ls.patch_compliance(ssm)                                   # a row per managed node: its patch counts, its status

Everything comes from boto3 calls a script could make: describe_maintenance_windows and
describe_maintenance_window_executions (which window ran the execution), get_maintenance_window (its Duration and
Cutoff), describe_maintenance_window_execution_tasks, get_maintenance_window_execution_task,
describe_maintenance_window_execution_task_invocations and, for Run Command tasks, list_commands (the node each
invocation ran on); for compliance, describe_instance_information, describe_instance_patch_states,
list_resource_compliance_summaries and describe_patch_baselines. Given an EC2 client, both show instance names, and the
timeline also lists the targets a task never started: AWS does not list invocations that never started, so they are
the window's targets (resolved now, from its registered targets and their tags) that have no invocation.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from .errors import LabError
from .pictures import _text
from .show import _Html

STATUS_COLOURS = {
    "SUCCESS": "#3a9d5d",
    "FAILED": "#d0453b",
    "TIMED_OUT": "#c77d1a",
    "CANCELLED": "#8a8a8a",
    "CANCELLING": "#8a8a8a",
    "SKIPPED_OVERLAPPING": "#8a8a8a",
    "PENDING": "#8a8a8a",
    "IN_PROGRESS": "#4a7fc1",
}
NOT_STARTED = "#8a8a8a"
_TICKS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)  # axis steps, in seconds
COMPLIANCE_COLOURS = {"COMPLIANT": "#3a9d5d", "NON_COMPLIANT": "#d0453b"}
NO_REPORT = "no patch report"
_PATCH_COUNTS = (
    ("Installed", "InstalledCount"),
    ("Other", "InstalledOtherCount"),
    ("Missing", "MissingCount"),
    ("Failed", "FailedCount"),
    ("Pending reboot", "InstalledPendingRebootCount"),
    ("Rejected", "InstalledRejectedCount"),
    ("Not applicable", "NotApplicableCount"),
)


# -- reading ------------------------------------------------------------------------------------------------------
def all_pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated answer."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def task_target_specs(ssm: Any, window_id: str, task: dict[str, Any]) -> list[dict[str, Any]]:
    """A window task's targets, with registered window targets (WindowTargetIds) replaced by their own targets."""
    registered = {
        t["WindowTargetId"]: t["Targets"]
        for t in all_pages(ssm, "describe_maintenance_window_targets", "Targets", WindowId=window_id)
    }
    specs: list[dict[str, Any]] = []
    for spec in task.get("Targets") or []:
        if spec["Key"] == "WindowTargetIds":
            specs += [s for target_id in spec["Values"] for s in registered.get(target_id, [])]
        else:
            specs.append(spec)
    return specs


def _find_execution(ssm: Any, wanted: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the window, the execution) for an execution id, or for a window id ("mw-...": its latest execution)."""
    if wanted.startswith("mw-"):
        try:
            window = ssm.get_maintenance_window(WindowId=wanted)
        except ssm.exceptions.DoesNotExistException:
            raise LabError(
                f"There is no maintenance window {wanted} in this account and Region.",
                hint="describe_maintenance_windows() lists the windows.",
            ) from None
        executions = all_pages(ssm, "describe_maintenance_window_executions", "WindowExecutions", WindowId=wanted)
        if not executions:
            upcoming = window.get("NextExecutionTime")
            raise LabError(
                f"The maintenance window {window['Name']} has not run yet"
                + (f"; its next run is at {upcoming}." if upcoming else "."),
                hint="Windows run on the lab clock: ls.fast_forward(hours=...) lets lab time pass.",
            )
        return window, max(executions, key=lambda e: e["StartTime"])
    for identity in all_pages(ssm, "describe_maintenance_windows", "WindowIdentities"):
        executions = all_pages(
            ssm, "describe_maintenance_window_executions", "WindowExecutions", WindowId=identity["WindowId"]
        )
        for execution in executions:
            if execution["WindowExecutionId"] == wanted:
                return ssm.get_maintenance_window(WindowId=identity["WindowId"]), execution
    raise LabError(
        f"No maintenance window in this account and Region has an execution {wanted}.",
        hint="Take the id from describe_maintenance_window_executions(WindowId=...), or pass the window's id "
        "(mw-...) to see its latest execution.",
    )


def _command_target(ssm: Any, invocation: dict[str, Any]) -> str:
    """The node a Run Command invocation ran on: the command's InstanceIds (else its request as the window sent it)."""
    if invocation.get("ExecutionId"):
        commands = ssm.list_commands(CommandId=invocation["ExecutionId"])["Commands"]
        if commands and commands[0].get("InstanceIds"):
            return commands[0]["InstanceIds"][0]
    try:
        return json.loads(invocation.get("Parameters") or "{}")["instanceIds"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return invocation["InvocationId"][:8]


def _resolve_targets(ssm: Any, ec2: Any, window_id: str, task: dict[str, Any]) -> list[str]:
    """The running instances a window task targets now (registered window targets, tags, instance ids), in order."""
    found: list[str] = []
    for spec in task_target_specs(ssm, window_id, task):
        key, values = spec["Key"], spec["Values"]
        if key == "InstanceIds":
            found += values
            continue
        if key.startswith("tag:"):
            filters = [{"Name": key, "Values": values}]
        elif key == "tag-key":
            filters = [{"Name": "tag-key", "Values": values}]
        else:
            continue
        filters.append({"Name": "instance-state-name", "Values": ["running"]})
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
            found += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    return list(dict.fromkeys(found))


def _names(ec2: Any, instance_ids: list[str], with_group: bool = True) -> dict[str, str]:
    """instance id -> "Name (Patch Group)" from its tags, for the instances that still exist."""
    labels: dict[str, str] = {}
    ids = [i for i in dict.fromkeys(instance_ids) if i.startswith("i-")]
    for start in range(0, len(ids), 100):
        try:
            reservations = ec2.describe_instances(InstanceIds=ids[start : start + 100])["Reservations"]
        except ec2.exceptions.ClientError:  # an id that no longer exists: fall back to one call each
            reservations = []
            for instance_id in ids[start : start + 100]:
                try:
                    reservations += ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
                except ec2.exceptions.ClientError:
                    continue
        for reservation in reservations:
            for instance in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                group = tags.get("Patch Group") or tags.get("PatchGroup")
                parts = [tags.get("Name", ""), f"({group})" if group and with_group else ""]
                labels[instance["InstanceId"]] = " ".join(p for p in parts if p)
    return labels


# -- the timeline -------------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    """+m:ss (or +h:mm:ss) after the execution started."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{hours}:{minutes:02d}:{secs:02d}" if hours else f"+{minutes}:{secs:02d}"


def maintenance_window_timeline(ssm: Any, window_execution_id: str, ec2: Any = None) -> _Html:
    """One maintenance window execution as a timeline: a row per task invocation (per target node), a bar from its
    start to its end coloured by its status (SUCCESS green, FAILED red, TIMED_OUT orange, CANCELLED grey), and the
    window's cutoff, after which no task may start. Pass a window id (mw-...) for its latest execution.

    With `ec2` given, rows are labelled with the instances' names and patch groups, and the targets a task never
    started (which AWS does not list) are added, resolved from the window's targets as they are now.
    """
    window, execution = _find_execution(ssm, window_execution_id)
    started: datetime = execution["StartTime"]
    cutoff_at = (int(window["Duration"]) - int(window.get("Cutoff") or 0)) * 3600.0
    window_tasks = all_pages(ssm, "describe_maintenance_window_tasks", "Tasks", WindowId=window["WindowId"])
    execution_id = execution["WindowExecutionId"]
    tasks = sorted(
        all_pages(ssm, "describe_maintenance_window_execution_tasks", "WindowExecutionTaskIdentities",
             WindowExecutionId=execution_id),
        key=lambda t: t["StartTime"],
    )  # fmt: skip
    # rows: (kind, label, status, start offset, end offset, tooltip); kind is "task", "run" or "never"
    rows: list[tuple[str, str, str, float | None, float | None, str]] = []
    ids: list[str] = []
    for task in tasks:
        detail = ssm.get_maintenance_window_execution_task(
            WindowExecutionId=execution_id, TaskId=task["TaskExecutionId"]
        )
        header = (
            f"task {task['TaskArn']} ({task['TaskType']}, priority {detail.get('Priority')}, MaxConcurrency "
            f"{detail.get('MaxConcurrency')}, MaxErrors {detail.get('MaxErrors')}): {task['Status']}"
        )
        rows.append(("task", header, task["Status"], None, None, task.get("StatusDetails", "")))
        invocations = sorted(
            all_pages(ssm, "describe_maintenance_window_execution_task_invocations",
                 "WindowExecutionTaskInvocationIdentities", WindowExecutionId=execution_id,
                 TaskId=task["TaskExecutionId"]),
            key=lambda i: i["StartTime"],
        )  # fmt: skip
        invoked = []
        for invocation in invocations:
            target = (
                _command_target(ssm, invocation)
                if invocation["TaskType"] == "RUN_COMMAND"
                else invocation["InvocationId"][:8]
            )
            invoked.append(target)
            begin = (invocation["StartTime"] - started).total_seconds()
            ended = invocation.get("EndTime") or execution.get("EndTime") or invocation["StartTime"]
            end = (ended - started).total_seconds()
            tip = f"{invocation['Status']} ({invocation.get('StatusDetails', '')}) {_clock(begin)} to {_clock(end)}"
            rows.append(("run", target, invocation["Status"], begin, end, tip))
        ids += invoked
        if ec2 is not None:
            matching = [
                t
                for t in window_tasks
                if t["TaskArn"] == task["TaskArn"]
                and t.get("Type", task["TaskType"]) == task["TaskType"]
                and str(t.get("Priority")) == str(detail.get("Priority"))
            ]
            if len(matching) == 1:
                never = [i for i in _resolve_targets(ssm, ec2, window["WindowId"], matching[0]) if i not in invoked]
                rows += [("never", i, "NOT_STARTED", None, None, "never started") for i in never]
                ids += never
    names = _names(ec2, ids) if ec2 is not None else {}
    return _draw(window, execution, rows, names, cutoff_at)


def _draw(
    window: dict[str, Any],
    execution: dict[str, Any],
    rows: list[tuple[str, str, str, float | None, float | None, str]],
    names: dict[str, str],
    cutoff_at: float,
) -> _Html:
    ends = [r[4] for r in rows if r[4] is not None]
    run_span = max(ends, default=0.0)
    span = max(60.0, run_span)
    cutoff_drawn = cutoff_at <= span * 1.25  # worth stretching the axis a little to show it
    if cutoff_drawn:
        span = max(span, cutoff_at)
    label_w, plot_w, row_h, top = 300, 520, 18, 48
    never_w = 86
    height = top + row_h * len(rows) + 64
    width = label_w + plot_w + never_w + 16
    title = f"{window['Name']}: execution {execution['WindowExecutionId'][:8]}… {execution['Status']}" + (
        f" ({execution['StatusDetails']})" if execution.get("StatusDetails") else ""
    )
    rule = (
        f"Duration {window['Duration']} h, Cutoff {window.get('Cutoff', 0)} h: no task may start after "
        f"{_clock(cutoff_at)} (it started {execution['StartTime'].astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    parts = [_text(4, 16, title, weight="bold"), _text(4, 34, rule)]
    text = [title, "  " + rule]
    for n, (kind, label, status, begin, end, tip) in enumerate(rows):
        y = top + n * row_h
        if kind == "task":
            parts.append(_text(4, y + 13, label, weight="bold"))
            text.append("  " + label + (f" ({tip})" if tip else ""))
            continue
        shown = f"{label} {names[label]}" if names.get(label) else label
        parts.append(_text(label_w - 8, y + 13, shown, anchor="end"))
        if kind == "never":
            x = label_w + plot_w + 8
            parts.append(
                f'<g class="not-started"><title>{html.escape(label)}: never started</title>'
                f'<rect x="{x}" y="{y + 3}" width="{never_w - 8}" height="{row_h - 6}" rx="3" fill="none" '
                f'stroke="{NOT_STARTED}" stroke-dasharray="3,2"/></g>'
            )
            parts.append(_text(x + (never_w - 8) / 2, y + 13, "not started", anchor="middle", colour=NOT_STARTED))
            text.append(f"    {shown:<40} never started")
            continue
        assert begin is not None and end is not None
        x1 = label_w + plot_w * begin / span
        x2 = label_w + plot_w * end / span
        colour = STATUS_COLOURS.get(status, NOT_STARTED)
        parts.append(
            f'<g class="invocation" data-status="{html.escape(status)}"><title>{html.escape(f"{label}: {tip}")}'
            f'</title><rect x="{x1:.1f}" y="{y + 3}" width="{max(3.0, x2 - x1):.1f}" height="{row_h - 6}" rx="3" '
            f'fill="{colour}"/></g>'
        )
        text.append(f"    {shown:<40} {_clock(begin):>8} to {_clock(end):>8}  {status}")
    axis_y = top + row_h * len(rows) + 4
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#8a8a8a"/>')
    step = next((s for s in _TICKS if span / s <= 6), _TICKS[-1])
    for k in range(int(span // step) + 1):
        x = label_w + plot_w * k * step / span
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#8a8a8a"/>')
        parts.append(_text(x, axis_y + 16, _clock(k * step), anchor="middle"))
    if cutoff_drawn:
        x = label_w + plot_w * cutoff_at / span
        parts.append(
            f'<line class="cutoff" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y}" stroke="#c77d1a" '
            'stroke-width="2" stroke-dasharray="6,3"/>'
        )
        parts.append(_text(x - 4, top - 6, "cutoff", anchor="end", colour="#c77d1a"))
        axis_note = "lab-clock time since the window started"
    else:
        axis_note = f"lab-clock time since the window started (the cutoff, {_clock(cutoff_at)}, is off the chart)"
    parts.append(_text(label_w, axis_y + 32, axis_note))
    x = 4.0
    legend_y = axis_y + 52
    for status, colour in (
        ("success", STATUS_COLOURS["SUCCESS"]),
        ("failed", STATUS_COLOURS["FAILED"]),
        ("timed out", STATUS_COLOURS["TIMED_OUT"]),
        ("cancelled", STATUS_COLOURS["CANCELLED"]),
    ):
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, legend_y, status))
        x += 90
    parts.append(
        f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="none" stroke="{NOT_STARTED}" '
        'stroke-dasharray="2,1"/>'
    )
    parts.append(_text(x + 14, legend_y, "not started"))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="timeline of a run of the maintenance window {html.escape(window["Name"])}">'
        f"{''.join(parts)}</svg>"
    )
    counts: dict[str, int] = {}
    for kind, _, status, *_ in rows:
        if kind != "task":
            counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{k.lower().replace('_', ' ')}: {v}" for k, v in counts.items())
    text.append(f"  invocations: {summary or 'none'}" + ("" if cutoff_drawn else f"; cutoff at {_clock(cutoff_at)}"))
    return _Html(f"<div>{svg}</div>", "\n".join(text))


# -- compliance ---------------------------------------------------------------------------------------------------
def _cells(values: list[str], header: bool = False) -> str:
    tag = "th" if header else "td"
    style = "text-align:left;padding:1px 6px;white-space:nowrap;vertical-align:top"
    return "<tr>" + "".join(f'<{tag} style="{style}">{v}</{tag}>' for v in values) + "</tr>"


def patch_compliance(ssm: Any, instance_ids: list[str] | None = None, ec2: Any = None) -> _Html:
    """A row per managed node (or per instance id given): its patch group, the baseline and operation of its latest
    patch report, its patch counts (describe_instance_patch_states) and its Patch compliance status
    (list_resource_compliance_summaries). Nodes with no report yet say so: they were never scanned, or every
    patching operation on them failed before it could report."""
    if instance_ids is None:
        instance_ids = [
            n["InstanceId"] for n in all_pages(ssm, "describe_instance_information", "InstanceInformationList")
        ]
    states: dict[str, dict[str, Any]] = {}
    for start in range(0, len(instance_ids), 50):
        chunk = instance_ids[start : start + 50]
        for state in all_pages(ssm, "describe_instance_patch_states", "InstancePatchStates", InstanceIds=chunk):
            states[state["InstanceId"]] = state
    status = {
        s["ResourceId"]: s["Status"]
        for s in all_pages(
            ssm,
            "list_resource_compliance_summaries",
            "ResourceComplianceSummaryItems",
            Filters=[{"Key": "ComplianceType", "Values": ["Patch"], "Type": "EQUAL"}],
        )
    }
    identities = all_pages(ssm, "describe_patch_baselines", "BaselineIdentities")
    baselines = {b["BaselineId"]: b["BaselineName"] for b in identities}
    names = _names(ec2, instance_ids, with_group=False) if ec2 is not None else {}
    headers = ["node", "group", "baseline", "last operation"] + [h.lower() for h, _ in _PATCH_COUNTS] + ["compliance"]
    rows = [_cells([html.escape(h).replace(" ", "<br>", 1) for h in headers], header=True)]
    text = []
    tally: dict[str, int] = {}
    for instance_id in instance_ids:
        state = states.get(instance_id)
        verdict = status.get(instance_id, NO_REPORT) if state else NO_REPORT
        tally[verdict] = tally.get(verdict, 0) + 1
        node = f"{instance_id} {names[instance_id]}" if names.get(instance_id) else instance_id
        colour = COMPLIANCE_COLOURS.get(verdict, "#8a8a8a")
        badge = f'<span style="color:{colour};font-weight:bold">{html.escape(verdict)}</span>'
        node_cell = f"<code>{html.escape(instance_id)}</code> {html.escape(names.get(instance_id, ''))}"
        if state is None:
            rows.append(_cells([node_cell, "", "", ""] + [""] * len(_PATCH_COUNTS) + [badge]))
            text.append(f"{node:<40} {NO_REPORT}")
            continue
        baseline = baselines.get(state["BaselineId"], state["BaselineId"])
        operation = state["Operation"]
        if operation == "Install" and state.get("RebootOption"):
            operation += f" ({state['RebootOption']})"
        counts = [int(state.get(key, 0)) for _, key in _PATCH_COUNTS]
        shown = []
        for (heading, _), count in zip(_PATCH_COUNTS, counts, strict=True):
            bad = count and heading in ("Missing", "Failed", "Pending reboot", "Rejected")
            shown.append(f'<span style="color:#d0453b;font-weight:bold">{count}</span>' if bad else str(count or "·"))
        cells = [node_cell, html.escape(state["PatchGroup"]), html.escape(baseline), html.escape(operation)]
        rows.append(_cells(cells + shown + [badge]))
        figures = ", ".join(f"{h.lower()} {c}" for (h, _), c in zip(_PATCH_COUNTS, counts, strict=True) if c)
        text.append(f"{node:<40} {state['PatchGroup'] or '-':<6} {baseline:<40} {operation:<24} {figures}: {verdict}")
    summary = ", ".join(f"{v} {k}" for k, v in sorted(tally.items()))
    title = f"Patch compliance of {len(instance_ids)} node(s): {summary}"
    markup = f'<div><b>{html.escape(title)}</b><table style="font-size:12px">{"".join(rows)}</table></div>'
    return _Html(markup, "\n".join([title, *text]))
