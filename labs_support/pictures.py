"""Pictures of stacks, drawn as SVG from the real API's answers: the tree of nested stacks and a timeline
of a stack's events (where rollbacks show up as the orange and red they are).

Plain SVG keeps them light (no plotting library in the kernel), crisp at any zoom, and readable in
JupyterLab's light and dark themes; each picture also has a text form for terminals and handouts.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .show import _Html, status_colour

_FONT = "font-family:var(--jp-ui-font-family,sans-serif);font-size:12px"


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal", colour: str = "") -> str:
    fill = f' fill="{colour}"' if colour else ' fill="currentColor"'
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-weight="{weight}"{fill} style="{_FONT}">'
        f"{html.escape(text)}</text>"
    )


# -- the stack tree -------------------------------------------------------------------------------------------
@dataclass
class _Node:
    name: str
    status: str
    resources: list[tuple[str, str, str]]  # logical id, type, status
    children: list[_Node] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0


def _read_tree(cfn: Any, stack: str) -> _Node:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    resources = cfn.list_stack_resources(StackName=described["StackId"])["StackResourceSummaries"]
    node = _Node(
        described["StackName"],
        described["StackStatus"],
        [(r["LogicalResourceId"], r["ResourceType"], r["ResourceStatus"]) for r in resources],
    )
    for r in resources:
        if r["ResourceType"] == "AWS::CloudFormation::Stack" and r.get("PhysicalResourceId"):
            node.children.append(_read_tree(cfn, r["PhysicalResourceId"]))
    return node


_BOX_W, _LINE, _GAP_X, _GAP_Y, _HEADER = 270, 16, 24, 46, 44


def _box_height(node: _Node) -> float:
    return _HEADER + _LINE * len(node.resources)


def _layout(node: _Node, depth: int, left: float, level_tops: list[float]) -> float:
    """Place a subtree from `left`; returns its width."""
    node.y = level_tops[depth]
    if not node.children:
        node.x = left
        return _BOX_W
    width, cursor = 0.0, left
    for child in node.children:
        w = _layout(child, depth + 1, cursor, level_tops)
        cursor += w + _GAP_X
        width += w + _GAP_X
    width -= _GAP_X
    node.x = left + (width - _BOX_W) / 2
    return max(width, _BOX_W)


def _levels(node: _Node, depth: int = 0, heights: list[float] | None = None) -> list[float]:
    heights = heights if heights is not None else []
    if len(heights) <= depth:
        heights.append(0.0)
    heights[depth] = max(heights[depth], _box_height(node))
    for child in node.children:
        _levels(child, depth + 1, heights)
    return heights


def _draw(node: _Node, parts: list[str], text: list[str], depth: int = 0) -> None:
    colour = status_colour(node.status)
    parts.append(
        f'<rect x="{node.x}" y="{node.y}" width="{_BOX_W}" height="{_box_height(node)}" rx="6" '
        f'fill="{colour}14" stroke="{colour}" stroke-width="1.5"/>'
    )
    parts.append(_text(node.x + 8, node.y + 16, node.name, weight="bold"))
    parts.append(_text(node.x + 8, node.y + 32, node.status, colour=colour))
    text.append("  " * depth + f"{node.name} [{node.status}]")
    for i, (logical, rtype, status) in enumerate(node.resources):
        y = node.y + _HEADER + 4 + i * _LINE
        short = rtype.removeprefix("AWS::")
        parts.append(_text(node.x + 10, y, f"{logical}  ({short})"))
        parts.append(f'<circle cx="{node.x + _BOX_W - 12}" cy="{y - 4}" r="4" fill="{status_colour(status)}"/>')
        if rtype != "AWS::CloudFormation::Stack":
            text.append("  " * depth + f"  - {logical} ({rtype}) {status}")
    for child in node.children:
        parts.append(
            f'<path d="M{node.x + _BOX_W / 2},{node.y + _box_height(node)} C{node.x + _BOX_W / 2},'
            f"{child.y - _GAP_Y / 2} {child.x + _BOX_W / 2},{node.y + _box_height(node) + _GAP_Y / 2} "
            f'{child.x + _BOX_W / 2},{child.y}" fill="none" stroke="#8a8a8a" stroke-width="1.2"/>'
        )
        _draw(child, parts, text, depth + 1)


def stack_tree(cfn: Any, stack_name: str) -> _Html:
    """A picture of a stack and its nested stacks, each with its resources and status."""
    root = _read_tree(cfn, stack_name)
    heights = _levels(root)
    tops, y = [], 4.0
    for h in heights:
        tops.append(y)
        y += h + _GAP_Y
    width = _layout(root, 0, 4.0, tops) + 8
    parts: list[str] = []
    text: list[str] = []
    _draw(root, parts, text)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{y - _GAP_Y + 8:.0f}" '
        f'role="img" aria-label="stack tree of {html.escape(stack_name)}">{"".join(parts)}</svg>'
    )
    return _Html(svg, "\n".join(text))


# -- the events timeline --------------------------------------------------------------------------------------
def stack_timeline(cfn: Any, stack_name: str, latest: bool = False) -> _Html:
    """A timeline of a stack's events: one row per resource, one column per event, coloured by status.

    Bars show how long each resource stayed in a status (in events, not seconds: sandbox operations take
    milliseconds); a gap marked on the axis is time that passed on the lab clock (a custom resource's hour).
    """
    events = list(reversed(cfn.describe_stack_events(StackName=stack_name)["StackEvents"]))
    if latest:
        starts = [i for i, e in enumerate(events) if e.get("ResourceStatusReason") == "User Initiated"]
        events = events[starts[-1] :] if starts else events
    rows: list[str] = []
    for e in events:
        if e["LogicalResourceId"] not in rows:
            rows.append(e["LogicalResourceId"])
    label_w, col_w, row_h, top = 150, 22, 22, 26
    width = label_w + col_w * (len(events) + 1) + 10
    height = top + row_h * len(rows) + 40
    parts = [_text(4, 14, f"events of {stack_name}", weight="bold")]
    for r, logical in enumerate(rows):
        y = top + r * row_h
        parts.append(_text(label_w - 8, y + 15, logical, anchor="end"))
        parts.append(f'<line x1="{label_w}" y1="{y + row_h}" x2="{width - 10}" y2="{y + row_h}" stroke="#8a8a8a33"/>')
    last: dict[str, tuple[int, str]] = {}
    text = []
    for i, e in enumerate(events):
        row = rows.index(e["LogicalResourceId"])
        status = e["ResourceStatus"]
        if e["LogicalResourceId"] in last:
            j, previous = last[e["LogicalResourceId"]]
            if previous.endswith("IN_PROGRESS"):
                x1, x2 = label_w + j * col_w + col_w / 2, label_w + i * col_w + col_w / 2
                y = top + row * row_h + row_h / 2
                parts.append(
                    f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{status_colour(previous)}" '
                    f'stroke-width="6" stroke-opacity="0.45" stroke-linecap="round"/>'
                )
        last[e["LogicalResourceId"]] = (i, status)
        cx, cy = label_w + i * col_w + col_w / 2, top + row * row_h + row_h / 2
        reason = e.get("ResourceStatusReason") or ""
        title = html.escape(f"{e['Timestamp']:%H:%M:%S} {e['LogicalResourceId']} {status} {reason}".strip())
        shape = (
            f'<path d="M{cx - 5},{cy - 5} L{cx + 5},{cy + 5} M{cx + 5},{cy - 5} L{cx - 5},{cy + 5}" '
            f'stroke="{status_colour(status)}" stroke-width="2.5"/>'
            if status.endswith("FAILED")
            else f'<circle cx="{cx}" cy="{cy}" r="5" fill="{status_colour(status)}"/>'
        )
        parts.append(f"<g><title>{title}</title>{shape}</g>")
        text.append(f"{i:>3} {e['LogicalResourceId']:<24} {status:<45} {reason}".rstrip())
    for i in range(1, len(events)):
        gap = (events[i]["Timestamp"] - events[i - 1]["Timestamp"]).total_seconds()
        if gap >= 60:
            x = label_w + i * col_w
            parts.append(
                f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + row_h * len(rows)}" '
                f'stroke="#c98a1b" stroke-dasharray="3,3"/>'
            )
            parts.append(
                _text(x, top + row_h * len(rows) + 14, f"+{gap / 60:.0f} min", anchor="middle", colour="#c98a1b")
            )
    legend = [
        ("IN_PROGRESS", "in progress"),
        ("COMPLETE", "complete"),
        ("ROLLBACK", "rollback"),
        ("FAILED", "failed"),
        ("DELETE_COMPLETE", "deleted"),
    ]
    x = label_w
    for status, label in legend:
        parts.append(f'<circle cx="{x}" cy="{height - 10}" r="5" fill="{status_colour(status)}"/>')
        parts.append(_text(x + 9, height - 6, label))
        x += 95
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="event timeline of {html.escape(stack_name)}">{"".join(parts)}</svg>'
    )
    return _Html(svg, "\n".join(text))
