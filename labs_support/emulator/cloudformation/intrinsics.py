"""Intrinsic functions and condition functions, evaluated as CloudFormation does.

`Evaluator.resolve` turns a template fragment into plain values; `scan` finds what a fragment refers to
(for validation and for the dependency order) without evaluating it.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """A template fragment that cannot be evaluated (AWS's 'Template error: ...' messages)."""


@dataclass
class References:
    """What a fragment refers to: Ref names, Fn::GetAtt (resource, attribute) pairs, condition names."""

    refs: set[str] = field(default_factory=set)
    getatts: set[tuple[str, str]] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)
    if_conditions: set[str] = field(default_factory=set)
    imports: int = 0

    def names(self) -> set[str]:
        """Every logical name referred to by Ref or Fn::GetAtt."""
        return self.refs | {r for r, _ in self.getatts}


def _sub_parts(template: str) -> list[str]:
    """The variable names in an Fn::Sub string (without ${!Literal} escapes)."""
    return [m.group(1) for m in _SUB_VAR.finditer(template) if not m.group(1).startswith("!")]


def scan(value: Any, found: References | None = None) -> References:
    """Collect references in a fragment (both branches of every Fn::If)."""
    found = found if found is not None else References()
    if isinstance(value, list):
        for item in value:
            scan(item, found)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                found.refs.add(arg)
                return found
            if key == "Fn::GetAtt":
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
                    attr = arg[1] if isinstance(arg[1], str) else "?"
                    found.getatts.add((arg[0], attr))
                    scan(arg[1], found)
                elif isinstance(arg, str) and "." in arg:
                    res, attr = arg.split(".", 1)
                    found.getatts.add((res, attr))
                return found
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
                if isinstance(variables, dict):
                    scan(list(variables.values()), found)
                for name in _sub_parts(text) if isinstance(text, str) else []:
                    if name in (variables or {}):
                        continue
                    if "." in name:
                        res, attr = name.split(".", 1)
                        found.getatts.add((res, attr))
                    else:
                        found.refs.add(name)
                return found
            if key == "Condition" and isinstance(arg, str):
                found.conditions.add(arg)
                return found
            if key == "Fn::If" and isinstance(arg, list) and arg and isinstance(arg[0], str):
                found.if_conditions.add(arg[0])
                scan(arg[1:], found)
                return found
            if key == "Fn::ImportValue":
                found.imports += 1
        for item in value.values():
            scan(item, found)
    return found


@dataclass
class Evaluator:
    """Evaluates fragments against a stack's parameters, conditions, mappings and resources."""

    ref: Callable[[str], Any]
    getatt: Callable[[str, str], Any]
    conditions: Mapping[str, bool]
    mappings: Mapping[str, Any]
    import_value: Callable[[str], Any]
    availability_zones: Callable[[str], list[str]]
    region: str

    def resolve(self, value: Any) -> Any:
        """Evaluate every intrinsic function in a fragment; AWS::NoValue removes the key or item."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                handler = _FUNCTIONS.get(key)
                if handler is not None:
                    return handler(self, arg)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        return value

    def condition(self, value: Any) -> bool:
        """Evaluate a condition expression (Fn::Equals/And/Or/Not, Condition)."""
        result = self.resolve(value)
        if not isinstance(result, bool):
            raise TemplateError("Template error: every Condition must evaluate to true or false")
        return result

    # -- the functions ----------------------------------------------------------------------------
    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        return self.ref(name)

    def _getatt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        resource, attribute = arg[0], self.resolve(arg[1])
        return self.getatt(resource, attribute)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self.resolve(arg[1]) if len(arg) > 1 else {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _as_string(variables[name])
            if "." in name:
                resource, attribute = name.split(".", 1)
                return _as_string(self.getatt(resource, attribute))
            return _as_string(self._ref(name))

        return _SUB_VAR.sub(replace, text)

    def _join(self, arg: Any) -> str:
        delimiter, items = arg[0], self.resolve(arg[1])
        if not isinstance(items, list):
            raise TemplateError(
                "Template error: every Fn::Join object requires two parameters, "
                "(1) a string delimiter and (2) a list of strings to be joined"
            )
        return delimiter.join(_as_string(i) for i in items if i is not NO_VALUE)

    def _select(self, arg: Any) -> Any:
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        try:
            position = int(index)
            if position < 0:
                raise IndexError
            return items[position]
        except (IndexError, ValueError, TypeError):
            raise TemplateError(
                f"Template error: Fn::Select cannot select nonexistent value at index {index}"
            ) from None

    def _split(self, arg: Any) -> list[str]:
        delimiter, text = arg[0], self.resolve(arg[1])
        return _as_string(text).split(delimiter)

    def _find_in_map(self, arg: Any) -> Any:
        name, first, second = (self.resolve(a) for a in arg[:3])
        try:
            return self.mappings[name][first][second]
        except (KeyError, TypeError):
            raise TemplateError(f"Template error: Unable to get mapping for {name}::{first}::{second}") from None

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        if name not in self.conditions:
            raise TemplateError(f"Template error: unresolved condition dependency {name} in Fn::If")
        return self.resolve(when_true if self.conditions[name] else when_false)

    def _equals(self, arg: Any) -> bool:
        left, right = (self.resolve(a) for a in arg)
        return _as_string(left) == _as_string(right)

    def _and(self, arg: Any) -> bool:
        return all(self.condition(a) for a in arg)

    def _or(self, arg: Any) -> bool:
        return any(self.condition(a) for a in arg)

    def _not(self, arg: Any) -> bool:
        return not self.condition(arg[0])

    def _condition(self, name: Any) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"Template format error: Condition {name} is not defined.")
        return self.conditions[name]

    def _import_value(self, arg: Any) -> Any:
        return self.import_value(_as_string(self.resolve(arg)))

    def _base64(self, arg: Any) -> str:
        return base64.b64encode(_as_string(self.resolve(arg)).encode()).decode()

    def _get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return self.availability_zones(region)

    def _cidr(self, arg: Any) -> list[str]:
        block, count, bits = (self.resolve(a) for a in arg)
        network = ipaddress.ip_network(block, strict=False)
        prefix = network.max_prefixlen - int(bits)
        subnets = network.subnets(new_prefix=prefix)
        return [str(next(subnets)) for _ in range(int(count))]

    def _not_emulated(self, arg: Any) -> Any:
        raise TemplateError("The course sandbox does not emulate Fn::GetStackOutput yet.")

    def _needs_language_extensions(self, arg: Any) -> Any:
        raise TemplateError(
            "Template format error: this function needs the AWS::LanguageExtensions transform, "
            "which the course sandbox does not run"
        )


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_FUNCTIONS: dict[str, Callable[[Evaluator, Any], Any]] = {
    "Ref": Evaluator._ref,
    "Fn::GetAtt": Evaluator._getatt,
    "Fn::Sub": Evaluator._sub,
    "Fn::Join": Evaluator._join,
    "Fn::Select": Evaluator._select,
    "Fn::Split": Evaluator._split,
    "Fn::FindInMap": Evaluator._find_in_map,
    "Fn::If": Evaluator._if,
    "Fn::Equals": Evaluator._equals,
    "Fn::And": Evaluator._and,
    "Fn::Or": Evaluator._or,
    "Fn::Not": Evaluator._not,
    "Condition": Evaluator._condition,
    "Fn::ImportValue": Evaluator._import_value,
    "Fn::Base64": Evaluator._base64,
    "Fn::GetAZs": Evaluator._get_azs,
    "Fn::Cidr": Evaluator._cidr,
    "Fn::GetStackOutput": Evaluator._not_emulated,
    "Fn::ToJsonString": Evaluator._needs_language_extensions,
    "Fn::Length": Evaluator._needs_language_extensions,
}


def as_string(value: Any) -> str:
    """How CloudFormation turns a scalar into a string (true/false, integers without .0)."""
    return _as_string(value)
