"""Template parameters: types, constraints and Systems Manager parameter types, checked as AWS checks them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .intrinsics import as_string

SSM_VALUE_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")
_LIST_TYPE = re.compile(r"^List<(.+)>$")


@dataclass(frozen=True)
class ResolvedParameter:
    """A parameter's value for a stack; `resolved` differs from `value` for SSM parameter types."""

    key: str
    value: str
    resolved: Any
    no_echo: bool
    ssm: bool

    def described_value(self) -> str:
        """What DescribeStacks shows as ParameterValue (NoEcho values are masked)."""
        return "****" if self.no_echo else self.value


def _fail(message: str) -> ValidationError:
    return ValidationError(message)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _check_constraints(key: str, spec: dict[str, Any], value: str) -> None:
    """AllowedValues, AllowedPattern, Min/MaxLength, Min/MaxValue, with AWS's wording."""
    described = spec.get("ConstraintDescription")

    def violated(default_message: str) -> ValidationError:
        if described:
            return _fail(f"Parameter {key} failed to satisfy constraint: {described}")
        return _fail(default_message)

    ptype = spec.get("Type", "String")
    values = [v.strip() for v in value.split(",")] if ptype in ("CommaDelimitedList", "List<Number>") else [value]
    if ptype in ("Number", "List<Number>"):
        for v in values:
            if not _is_number(v):
                raise _fail(f"Parameter '{key}' must be a number.")
            if "MinValue" in spec and float(v) < float(spec["MinValue"]):
                raise violated(f"Parameter '{key}' must be a number not less than {as_string(spec['MinValue'])}")
            if "MaxValue" in spec and float(v) > float(spec["MaxValue"]):
                raise violated(f"Parameter '{key}' must be a number not greater than {as_string(spec['MaxValue'])}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and any(v not in [as_string(a) for a in allowed] for v in values):
        raise violated(f"Parameter '{key}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and ptype == "String" and not re.fullmatch(pattern, value):
        raise violated(f"Parameter '{key}' must match pattern {pattern}")
    if ptype == "String":
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            raise violated(f"Parameter '{key}' must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            raise violated(f"Parameter '{key}' must contain at most {spec['MaxLength']} characters")


def _typed(ptype: str, value: str) -> Any:
    """The value Ref returns: a list for list types, else the string."""
    if ptype == "CommaDelimitedList" or _LIST_TYPE.match(ptype):
        return [v.strip() for v in value.split(",")] if value != "" else []
    return value


def resolve_parameters(
    declared: dict[str, dict[str, Any]],
    given: dict[str, str],
    previous: dict[str, str] | None,
    use_previous: set[str],
    ssm_lookup: Callable[[str], str | None],
) -> dict[str, ResolvedParameter]:
    """Check the given values against the template's Parameters and resolve SSM parameter types.

    `previous` and `use_previous` serve UpdateStack's UsePreviousValue. Raises ValidationError with
    AWS's messages.
    """
    if not declared and (given or use_previous):
        raise _fail("Parameter values specified for a template which does not require them.")
    unknown = [k for k in given if k not in declared]
    unknown += [k for k in use_previous if k not in declared and k not in unknown]
    if unknown:
        raise _fail(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    missing = []
    for key, spec in declared.items():
        if key in use_previous and previous is not None and key in previous:
            values[key] = previous[key]
        elif key in given:
            values[key] = as_string(given[key])
        elif "Default" in spec:
            default = spec["Default"]
            values[key] = ",".join(as_string(d) for d in default) if isinstance(default, list) else as_string(default)
        else:
            missing.append(key)
    if missing:
        raise _fail(f"Parameters: [{', '.join(missing)}] must have values")

    resolved: dict[str, ResolvedParameter] = {}
    unfetched = []
    for key, spec in declared.items():
        ptype = spec.get("Type", "String")
        value = values[key]
        no_echo = as_string(spec.get("NoEcho", False)).lower() == "true"
        ssm_type = SSM_VALUE_TYPE.match(ptype)
        if ssm_type:
            fetched = ssm_lookup(value)
            if fetched is None:
                unfetched.append(value)
                continue
            _check_constraints(key, {**spec, "Type": "String"}, value)
            resolved[key] = ResolvedParameter(key, value, _typed(ssm_type.group(1), fetched), no_echo, True)
            continue
        _check_constraints(key, spec, value)
        resolved[key] = ResolvedParameter(key, value, _typed(ptype, value), no_echo, False)
    if unfetched:
        raise _fail(f"Unable to fetch parameters [{','.join(unfetched)}] from parameter store for this account.")
    return resolved
