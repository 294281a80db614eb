"""Pictures and tables of what the sandbox holds. They read through the real API calls the learner
would make (describe_stacks, describe_stack_events ...): showing, never hiding, the API.
"""

from __future__ import annotations

import html
from typing import Any

_STATUS_COLOURS = (
    ("ROLLBACK", "#c98a1b"),
    ("FAILED", "#d0453b"),
    ("SKIPPED", "#8a8a8a"),
    ("DELETE_COMPLETE", "#8a8a8a"),
    ("IN_PROGRESS", "#4a7fc1"),
    ("COMPLETE", "#3a9d5d"),
)


def status_colour(status: str) -> str:
    """The colour the course uses for a CloudFormation status."""
    for word, colour in _STATUS_COLOURS:
        if word in status:
            return colour
    return "#8a8a8a"


def _badge(status: str) -> str:
    colour = status_colour(status)
    return (
        f'<span style="color:{colour};border:1px solid {colour};border-radius:3px;padding:0 4px;'
        f'font-family:var(--jp-code-font-family,monospace);font-size:90%">{html.escape(status)}</span>'
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{html.escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="text-align:left;padding:2px 8px;vertical-align:top">{c}</td>' for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _code(value: Any) -> str:
    return f"<code>{html.escape(str(value))}</code>" if value not in (None, "") else ""


class _Html:
    """Something Jupyter shows as HTML and a terminal (or a handout's text view) as plain text."""

    def __init__(self, markup: str, text: str) -> None:
        self.markup, self.text = markup, text

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def stack_summary(cfn: Any, stack_name: str) -> _Html:
    """Status, reason, parameters, outputs and resources of a stack (describe_stacks + list_stack_resources)."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = cfn.list_stack_resources(StackName=stack["StackId"])["StackResourceSummaries"]
    parts = [f"<div><b>{html.escape(stack['StackName'])}</b> {_badge(stack['StackStatus'])}"]
    text = [f"{stack['StackName']}: {stack['StackStatus']}"]
    if stack.get("StackStatusReason"):
        parts.append(f"<br><i>{html.escape(stack['StackStatusReason'])}</i>")
        text.append(f"  reason: {stack['StackStatusReason']}")
    parts.append("</div>")
    params = stack.get("Parameters", [])
    if params:
        rows = [[_code(p["ParameterKey"]), _code(p["ParameterValue"]), _code(p.get("ResolvedValue"))] for p in params]
        parts.append("<b>Parameters</b>" + _table(["key", "value", "resolved value"], rows))
        text += [f"  parameter {p['ParameterKey']} = {p['ParameterValue']}" for p in params]
    outputs = stack.get("Outputs", [])
    if outputs:
        rows = [[_code(o["OutputKey"]), _code(o["OutputValue"]), _code(o.get("ExportName"))] for o in outputs]
        parts.append("<b>Outputs</b>" + _table(["key", "value", "export name"], rows))
        text += [f"  output {o['OutputKey']} = {o['OutputValue']}" for o in outputs]
    rows = [
        [
            _code(r["LogicalResourceId"]),
            html.escape(r["ResourceType"]),
            _badge(r["ResourceStatus"]),
            _code(r.get("PhysicalResourceId")),
        ]
        for r in resources
    ]
    if rows:
        parts.append("<b>Resources</b>" + _table(["logical id", "type", "status", "physical id"], rows))
        text += [f"  resource {r['LogicalResourceId']} {r['ResourceStatus']}" for r in resources]
    return _Html("".join(parts), "\n".join(text))


def stack_events(cfn: Any, stack_name: str, latest: bool = False) -> _Html:
    """A stack's events, oldest first, coloured by status (describe_stack_events).

    With latest=True only the last operation is shown: from its 'User Initiated' event on.
    """
    events = list(reversed(cfn.describe_stack_events(StackName=stack_name)["StackEvents"]))
    if latest:
        starts = [i for i, e in enumerate(events) if e.get("ResourceStatusReason") == "User Initiated"]
        events = events[starts[-1] :] if starts else events
    start = events[0]["Timestamp"] if events else None
    rows, text = [], []
    for e in events:
        offset = f"+{(e['Timestamp'] - start).total_seconds():.3f}s" if start else ""
        reason = e.get("ResourceStatusReason") or ""
        rows.append(
            [
                offset,
                _code(e["LogicalResourceId"]),
                html.escape(e["ResourceType"]),
                _badge(e["ResourceStatus"]),
                html.escape(reason),
            ]
        )
        text.append(f"{e['LogicalResourceId']:<22} {e['ResourceStatus']:<45} {reason}".rstrip())
    return _Html(_table(["time", "logical id", "type", "status", "reason"], rows), "\n".join(text))


_DRIFT_COLOURS = {
    "IN_SYNC": "#3a9d5d",
    "DRIFTED": "#d0453b",
    "MODIFIED": "#c98a1b",
    "DELETED": "#d0453b",
}


def _drift_badge(status: str) -> str:
    colour = _DRIFT_COLOURS.get(status, "#8a8a8a")
    return (
        f'<span style="color:{colour};border:1px solid {colour};border-radius:3px;padding:0 4px;'
        f'font-family:var(--jp-code-font-family,monospace);font-size:90%">{html.escape(status)}</span>'
    )


def drift_report(cfn: Any, stack_name: str) -> _Html:
    """The last drift check of a stack: each resource's drift status and property differences.

    Reads describe_stacks (the stack's DriftInformation), list_stack_resources (every resource, NOT_CHECKED
    included) and describe_stack_resource_drifts (the differences). It runs no detection itself.
    """
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    stack_status = stack.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED")
    resources = [
        r
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
        for r in page["StackResourceSummaries"]
    ]
    drifts: dict[str, dict[str, Any]] = {}
    if stack_status != "NOT_CHECKED":
        kwargs: dict[str, Any] = {"StackName": stack["StackId"]}
        while True:
            page = cfn.describe_stack_resource_drifts(**kwargs)
            drifts.update({d["LogicalResourceId"]: d for d in page["StackResourceDrifts"]})
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    drifted = sum(d["StackResourceDriftStatus"] in ("MODIFIED", "DELETED") for d in drifts.values())
    summary = f"{drifted} of {len(resources)} resources drifted" if stack_status != "NOT_CHECKED" else "never checked"
    parts = [f"<div><b>{html.escape(stack['StackName'])}</b> {_drift_badge(stack_status)} {html.escape(summary)}</div>"]
    text = [f"{stack['StackName']}: {stack_status} ({summary})"]
    rows = []
    for resource in resources:
        logical_id = resource["LogicalResourceId"]
        drift = drifts.get(logical_id, {})
        status = drift.get("StackResourceDriftStatus") or resource.get("DriftInformation", {}).get(
            "StackResourceDriftStatus", "NOT_CHECKED"
        )
        cells = [_code(logical_id), html.escape(resource["ResourceType"]), _drift_badge(status)]
        differences = drift.get("PropertyDifferences", [])
        if not differences:
            rows.append([*cells, "", "", "", ""])
            text.append(f"  {logical_id:<24} {status}")
        for i, d in enumerate(differences):
            rows.append(
                [
                    *(cells if i == 0 else ["", "", ""]),
                    html.escape(d["DifferenceType"]),
                    _code(d["PropertyPath"]),
                    _code(d.get("ExpectedValue")),
                    _code(d.get("ActualValue")),
                ]
            )
            text.append(
                f"  {logical_id if i == 0 else '':<24} {status if i == 0 else '':<9} {d['DifferenceType']:<9} "
                f"{d['PropertyPath']}  expected: {d.get('ExpectedValue', '-')}  actual: {d.get('ActualValue', '-')}"
            )
    headers = ["logical id", "type", "drift status", "difference", "property path", "expected", "actual"]
    parts.append(_table(headers, rows))
    return _Html("".join(parts), "\n".join(text))
