"""Watching a StackSet operation: wait for it like a waiter would, and picture its rollout.

The statuses come from the real API (describe_stack_set_operation, list_stack_set_operation_results). The
rollout picture also needs when each account and Region started and ended, which the API does not return:
it reads those times from the sandbox's own record of the operation (on the lab clock).
"""

from __future__ import annotations

import html
import time
from typing import Any

from .errors import LabError
from .pictures import _text
from .show import _Html

RESULT_COLOURS = {
    "SUCCEEDED": "#3a9d5d",
    "FAILED": "#d0453b",
    "CANCELLED": "#8a8a8a",
    "RUNNING": "#4a7fc1",
    "PENDING": "#8a8a8a",
}
_ACTIVE = ("QUEUED", "RUNNING", "STOPPING")


def wait_for_stack_set_operation(
    cfn: Any, stack_set_name: str, operation_id: str, timeout: float = 120.0, call_as: str | None = None
) -> dict[str, Any]:
    """Poll describe_stack_set_operation until the operation ends; return its description.

    boto3 has no waiter for StackSet operations; this is the loop a script would write.
    """
    extra = {"CallAs": call_as} if call_as else {}
    deadline = time.monotonic() + timeout
    while True:
        operation = cfn.describe_stack_set_operation(StackSetName=stack_set_name, OperationId=operation_id, **extra)[
            "StackSetOperation"
        ]
        if operation["Status"] not in _ACTIVE:
            return operation
        if time.monotonic() > deadline:
            raise LabError(
                f"The operation {operation_id} is still {operation['Status']} after {timeout:.0f} s.",
                hint="Look at list_stack_set_operation_results to see which accounts and Regions are still running.",
            )
        time.sleep(0.02)


def _record(cfn: Any, stack_set_name: str, operation_id: str) -> Any:
    from .emulator.cloudformation.stacksets import service_for
    from .sandbox import current_sandbox

    sb = current_sandbox()
    region = cfn.meta.region_name
    stack_set = None
    for account in sb.accounts.values():  # the management account first, then a delegated administrator
        stack_set = service_for(account, region).find(stack_set_name)
        if stack_set is not None and operation_id in stack_set.operations:
            break
    if stack_set is None or operation_id not in stack_set.operations:
        raise LabError(f"No operation {operation_id} on the stack set {stack_set_name} in this sandbox.")
    return stack_set.operations[operation_id]


def stack_set_rollout(cfn: Any, stack_set_name: str, operation_id: str, names: dict[str, str] | None = None) -> _Html:
    """A picture of one operation: a row per account and Region, a block per wave on the lab clock,
    coloured by each account's result (green succeeded, red failed, grey cancelled, never started)."""
    operation = _record(cfn, stack_set_name, operation_id)
    results = cfn.list_stack_set_operation_results(StackSetName=stack_set_name, OperationId=operation_id)["Summaries"]
    label_of = {v: f"{k} ({v})" for k, v in (names or {}).items()}
    rows = sorted(results, key=lambda r: (_region_rank(operation, r["Region"]), r["Region"]))
    timing = {(r.account, r.region): (r.started, r.ended) for r in operation.results.values()}
    start = operation.created
    ends = [e for _, e in timing.values() if e] or [start]
    span = max(60.0, (max(ends) - start).total_seconds())
    label_w, plot_w, row_h, top = 230, 520, 20, 30
    height = top + row_h * len(rows) + 46
    width = label_w + plot_w + 120
    parts = [_text(4, 16, f"{operation.action} operation {operation_id[:8]}… on {stack_set_name}", weight="bold")]
    text = []
    for i, r in enumerate(rows):
        y = top + i * row_h
        label = f"{r['Region']}  {label_of.get(r['Account'], r['Account'])}"
        parts.append(_text(label_w - 8, y + 14, label, anchor="end"))
        begun, ended = timing.get((r["Account"], r["Region"]), (None, None))
        colour = RESULT_COLOURS.get(r["Status"], "#8a8a8a")
        tip = html.escape(f"{label}: {r['Status']} {r.get('StatusReason', '')}".strip())
        if begun is None:  # never started
            x = label_w + plot_w + 8
            parts.append(
                f'<g><title>{tip}</title><rect x="{x}" y="{y + 4}" width="90" height="{row_h - 8}" rx="3" '
                f'fill="none" stroke="{colour}" stroke-dasharray="3,2"/></g>'
            )
            parts.append(_text(x + 45, y + 14, "not started", anchor="middle", colour=colour))
        else:
            x1 = label_w + plot_w * (begun - start).total_seconds() / span
            x2 = label_w + plot_w * ((ended or begun) - start).total_seconds() / span
            parts.append(
                f'<g><title>{tip}</title><rect x="{x1:.1f}" y="{y + 4}" width="{max(4.0, x2 - x1):.1f}" '
                f'height="{row_h - 8}" rx="3" fill="{colour}"/></g>'
            )
        when = f"+{(begun - start).total_seconds():>5.0f} s" if begun else "   never"
        text.append(f"{r['Region']:<14} {label_of.get(r['Account'], r['Account']):<26} {when}  {r['Status']}")
    axis_y = top + row_h * len(rows) + 4
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#8a8a8a"/>')
    for k in range(5):
        x = label_w + plot_w * k / 4
        parts.append(_text(x, axis_y + 14, f"{span * k / 4 / 60:.1f} min", anchor="middle"))
    parts.append(_text(label_w, axis_y + 32, "lab-clock time since the operation started"))
    x = label_w + 260
    for status in ("SUCCEEDED", "FAILED", "CANCELLED"):
        parts.append(f'<rect x="{x}" y="{axis_y + 23}" width="10" height="10" fill="{RESULT_COLOURS[status]}"/>')
        parts.append(_text(x + 14, axis_y + 32, status.lower()))
        x += 90
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="rollout of {html.escape(stack_set_name)}">{"".join(parts)}</svg>'
    )
    return _Html(svg, "\n".join(text))


def _region_rank(operation: Any, region: str) -> int:
    order = list(operation.preferences.region_order)
    return order.index(region) if region in order else len(order)
