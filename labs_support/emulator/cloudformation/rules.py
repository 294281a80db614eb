"""The template's Rules section: parameter assertions checked before a stack is created or updated.

AWS evaluates each rule's RuleCondition and, when it holds (or there is none), every Assertion; a failed
assertion rejects the request with its AssertDescription (the CDK's CheckBootstrapVersion rule relies on it).
Rule functions: Fn::And, Fn::Or, Fn::Not, Fn::Equals, Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn,
and Ref to parameters. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
"""

from __future__ import annotations

from typing import Any

from .errors import SandboxNotSupported, ValidationError
from .parameters import ResolvedParameter


def _value(node: Any, params: dict[str, ResolvedParameter]) -> Any:
    if isinstance(node, dict) and len(node) == 1:
        ((function, args),) = node.items()
        if function == "Ref":
            if args not in params:
                raise ValidationError(f"Template error: rule references unknown parameter {args}")  # wording ours
            return params[args].resolved
        if function == "Fn::Equals":
            return str(_value(args[0], params)) == str(_value(args[1], params))
        if function == "Fn::Not":
            return not _value(args[0], params)
        if function == "Fn::And":
            return all(_value(a, params) for a in args)
        if function == "Fn::Or":
            return any(_value(a, params) for a in args)
        if function == "Fn::Contains":
            return str(_value(args[1], params)) in [str(v) for v in _list(_value(args[0], params))]
        if function == "Fn::EachMemberEquals":
            return all(str(v) == str(_value(args[1], params)) for v in _list(_value(args[0], params)))
        if function == "Fn::EachMemberIn":
            allowed = [str(v) for v in _list(_value(args[1], params))]
            return all(str(v) in allowed for v in _list(_value(args[0], params)))
        raise SandboxNotSupported(f"The course sandbox does not evaluate {function} in template rules.")
    if isinstance(node, list):
        return [_value(v, params) for v in node]
    return node


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [v.strip() for v in str(value).split(",")] if isinstance(value, str) and "," in value else [value]


def check_rules(template: dict[str, Any], params: dict[str, ResolvedParameter]) -> None:
    """Raise a ValidationError with the AssertDescription of the first assertion that fails."""
    for name, rule in (template.get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _value(condition, params):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _value(assertion.get("Assert"), params):
                raise ValidationError(assertion.get("AssertDescription") or f"Assertion failed for rule {name}")
