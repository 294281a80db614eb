"""Stack policies: which update actions on which resources a stack's policy allows.

The engine calls `denial` before it modifies, replaces or deletes a resource during an update; `validate`
checks a policy body the way SetStackPolicy, CreateStack and UpdateStack do.

Evaluation follows "Prevent updates to stack resources"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html): with no
policy every update is allowed; once a policy is set, an update not explicitly allowed is denied; a Deny
statement always overrides an Allow statement. Statements match on Action/NotAction (Update:Modify,
Update:Replace, Update:Delete, Update:*), Resource/NotResource ("*" or "LogicalResourceId/Name", with
wildcards) and a Condition on ResourceType (StringEquals, or StringLike for wildcards).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import ValidationError

ACTIONS = ("Update:Modify", "Update:Replace", "Update:Delete")
INVALID = "Error validating stack policy: Invalid stack policy"
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Principal", "Resource", "NotResource", "Condition"}
# StringEquals and StringLike are the documented operators; the negated forms behave as in IAM.
_OPERATORS = {"StringEquals", "StringLike", "StringNotEquals", "StringNotLike"}


@dataclass(frozen=True)
class _Statement:
    number: int  # 1-based among the policy's Deny (or Allow) statements, as AWS numbers them in its messages
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[tuple[str, tuple[str, ...]], ...]

    def matches(self, action: str, resource: str, resource_type: str) -> bool:
        if any(_like(p, action, case=False) for p in self.actions) == self.not_action:
            return False
        if any(_like(p, resource) for p in self.resources) == self.not_resource:
            return False
        return all(_condition(operator, values, resource_type) for operator, values in self.conditions)

    def describe(self) -> str:
        """The clause AWS writes for a denying statement: its own Action and Resource values."""
        return (
            f"Statement [#{self.number}] does not allow [{', '.join(self.actions)}] "
            f"for resource [{', '.join(self.resources)}];"
        )


def _like(pattern: str, text: str, case: bool = True) -> bool:
    """IAM-style match: * is any run of characters, ? is one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _condition(operator: str, values: tuple[str, ...], resource_type: str) -> bool:
    if operator in ("StringEquals", "StringNotEquals"):
        hit = resource_type in values
    else:
        hit = any(_like(v, resource_type) for v in values)
    return hit if not operator.startswith("StringNot") else not hit


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _statement(raw: Any, number: int) -> _Statement:
    """One statement, checked; ValueError if CloudFormation would refuse it."""
    if not isinstance(raw, dict) or set(raw) - _STATEMENT_KEYS:
        raise ValueError
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny") or raw.get("Principal") != "*":
        raise ValueError
    if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
        raise ValueError
    actions = _strings(raw.get("Action", raw.get("NotAction")))
    resources = _strings(raw.get("Resource", raw.get("NotResource")))
    if actions is None or resources is None:
        raise ValueError
    if not all(any(_like(a, known, case=False) for known in ACTIONS) for a in actions):
        raise ValueError  # "Delete:*" and other non-update actions are refused
    if not all(r == "*" or r.startswith("LogicalResourceId/") for r in resources):
        raise ValueError
    conditions: list[tuple[str, tuple[str, ...]]] = []
    condition = raw.get("Condition", {})
    if not isinstance(condition, dict):
        raise ValueError
    for operator, keys in condition.items():
        if operator not in _OPERATORS or not isinstance(keys, dict) or set(keys) != {"ResourceType"}:
            raise ValueError
        types = _strings(keys["ResourceType"])
        if types is None:
            raise ValueError
        conditions.append((operator, types))
    return _Statement(
        number,
        effect,
        actions,
        "NotAction" in raw,
        resources,
        "NotResource" in raw,
        tuple(conditions),
    )


@lru_cache(maxsize=64)
def _parse(policy_body: str) -> tuple[_Statement, ...]:
    """The policy's statements; ValueError if the body is not a valid stack policy."""
    try:
        doc = json.loads(policy_body)
    except (TypeError, ValueError):
        raise ValueError from None
    if not isinstance(doc, dict) or set(doc) - {"Statement", "Version"}:
        raise ValueError
    raw = doc.get("Statement", [])
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list):
        raise ValueError
    counters = {"Allow": 0, "Deny": 0}
    statements = []
    for item in raw:
        effect = item.get("Effect") if isinstance(item, dict) else None
        if effect in counters:
            counters[effect] += 1
        statements.append(_statement(item, counters.get(effect, 0)))
    return tuple(statements)


def validate(policy_body: str | None) -> None:
    """Raise AWS's ValidationError if a StackPolicyBody is not a valid stack policy."""
    if policy_body is None:
        return
    try:
        _parse(policy_body)
    except ValueError:
        raise ValidationError(INVALID) from None


def denial(policy_body: str | None, action: str, logical_id: str, resource_type: str) -> str | None:
    """None if the policy allows `action` (Update:Modify, Update:Replace or Update:Delete) on the resource,
    else the reason AWS gives for refusing it."""
    if not policy_body:
        return None
    try:
        statements = _parse(policy_body)
    except ValueError:
        return None  # SetStackPolicy refuses such a body on AWS; nothing to enforce
    if not statements:
        return None  # an empty policy ({}) restricts nothing
    resource = f"LogicalResourceId/{logical_id}"
    matching = [s for s in statements if s.matches(action, resource, resource_type)]
    denying = [s for s in matching if s.effect == "Deny"]
    if denying:
        return "Action denied by stack policy: " + " ".join(s.describe() for s in denying)
    if any(s.effect == "Allow" for s in matching):
        return None
    # wording ours after the first words: AWS starts this reason with "Action not allowed by stack policy"
    # and does not document the rest, which follows the Deny wording.
    return f"Action not allowed by stack policy: No statement allows [{action}] for resource [{resource}];"
