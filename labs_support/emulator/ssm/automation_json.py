"""JSON helpers of Automation: JSONPath selection, runbook values as an API's types, responses as JSON values.

JSONPath is the subset runbooks (Selector, PropertySelector) and EventBridge input paths use: $, .key, ['key'],
[n], [*], .* and ..key (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from typing import Any

from .automation_model import StepFailure

_TOKEN = re.compile(
    r"\.\.(?P<deep>[^.\[\]]+)"
    r"|(?P<wild>\.\*|\[\*\])"
    r"|\.(?P<key>[^.\[\]]+)"
    r"|\[(?P<index>-?\d+)\]"
    r"|\[\s*(?P<quote>['\"])(?P<qkey>.*?)(?P=quote)\s*\]"
)


def json_path(document: Any, path: str) -> list[Any]:
    """Every value a JSONPath selects ($, .key, ['key'], [n], [*], .*, ..key): the subset runbooks and
    EventBridge input paths use."""
    text = path.strip()
    if not text.startswith("$"):
        raise StepFailure("Executing", f"{path} is not a JSONPath (it must start with $)")
    nodes, position = [document], 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise StepFailure("Executing", f"The course sandbox cannot read the JSONPath {path}")
        position = match.end()
        if match.group("deep"):
            nodes = [found for node in nodes for found in _descend(node, match.group("deep"))]
        elif match.group("wild"):
            nodes = [
                v for n in nodes for v in (n.values() if isinstance(n, dict) else n if isinstance(n, list) else [])
            ]
        elif match.group("index") is not None:
            i = int(match.group("index"))
            nodes = [n[i] for n in nodes if isinstance(n, list) and -len(n) <= i < len(n)]
        else:
            key = match.group("key") if match.group("key") is not None else match.group("qkey")
            nodes = [n[key] for n in nodes if isinstance(n, dict) and key in n]
    return nodes


def _descend(node: Any, key: str) -> list[Any]:
    found = []
    if isinstance(node, dict):
        if key in node:
            found.append(node[key])
        for value in node.values():
            found.extend(_descend(value, key))
    elif isinstance(node, list):
        for value in node:
            found.extend(_descend(value, key))
    return found


def coerce(shape: Any, value: Any) -> Any:
    """Runbook values (often strings after {{ }}) as the types the API operation's model declares."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: coerce(shape.members.get(k), v) for k, v in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [coerce(shape.member, v) for v in items]
    if kind == "map" and isinstance(value, dict):
        return {k: coerce(shape.value, v) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "string" and isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def plain(value: Any) -> Any:
    """A boto3 response as JSON values (times as ISO 8601 text, bytes as base64)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "read"):
        raise StepFailure("Executing", "Streaming API operations (such as S3 GetObject) are not supported")
    return value
