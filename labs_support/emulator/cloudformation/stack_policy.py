"""Stack policies: which update actions on which resources a stack's policy allows.

The engine calls `denial` before it modifies, replaces or deletes a resource during an update. Not
enforced yet: every action is allowed.
"""

from __future__ import annotations


def denial(policy_body: str | None, action: str, logical_id: str, resource_type: str) -> str | None:
    """None if the policy allows `action` (Update:Modify, Update:Replace or Update:Delete) on the resource,
    else the reason AWS gives for refusing it."""
    return None
