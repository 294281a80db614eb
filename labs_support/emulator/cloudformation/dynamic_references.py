"""Dynamic references ({{resolve:ssm:...}}, {{resolve:ssm-secure:...}}, {{resolve:secretsmanager:...}}).

Two hooks the engine calls: `check_template` when the API receives a template (problems AWS rejects at
once), and `resolve_in_properties` when a resource's properties are resolved (the values are fetched then).
Not emulated yet: every dynamic reference is refused plainly.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import SandboxNotSupported


def check_template(resources: dict[str, Any]) -> None:
    """Refuse a template whose dynamic references the sandbox cannot resolve (called by the API)."""
    if "{{resolve:" in json.dumps(resources):
        raise SandboxNotSupported(
            "The course sandbox does not resolve dynamic references ({{resolve:...}}) yet; on AWS, "
            "CloudFormation resolves them when it creates or updates the stack."
        )


def resolve_in_properties(
    properties: dict[str, Any], *, account_id: str, region: str, resource_type: str, logical_id: str
) -> dict[str, Any]:
    """The properties with every dynamic reference replaced by its value."""
    return properties
