"""How CloudFormation compares a resource's expected properties with its actual ones during drift detection.

AWS's rules, from "Detect unmanaged configuration changes to stacks and resources with drift detection"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html) and the resource
type schemas (which cfn-lint ships):

* only properties set explicitly in the template (or through parameters) are checked, never defaults;
* write-only properties (the schema's writeOnlyProperties: a Lambda function's Code, an SSM parameter's
  Description) cannot be read back, so they are never compared; neither is any KMS key id;
* arrays whose schema says ``insertionOrder: false`` (security group rules, tags) are compared as sets;
* a difference is reported per property path (``/SecurityGroupIngress/1``, ``/RedrivePolicy/maxReceiveCount``)
  as NOT_EQUAL (the value changed), REMOVE (the property or array item is gone) or ADD (an item was added).

JSON policy documents are compared the way IAM reads them: key order, statement order, and a one-item list
against its scalar make no difference.
"""

from __future__ import annotations

import json
from typing import Any

from .intrinsics import as_string
from .schema import is_custom_type, resource_schema

POLICY_KEYS = frozenset({"PolicyDocument", "AssumeRolePolicyDocument"})
_KMS_KEYS = frozenset({"kmskeyid", "kmsmasterkeyid"})
_SET_KEYS = frozenset({"Action", "NotAction", "Resource", "NotResource"})
_RULE_LISTS = frozenset({"SecurityGroupIngress", "SecurityGroupEgress"})
_PROTOCOLS = {"1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6", "all": "-1"}


def compact(value: Any) -> str:
    """JSON as CloudFormation prints it in drift results (no spaces)."""
    return json.dumps(value, separators=(",", ":"), default=str)


def _schema(resource_type: str, region: str) -> dict[str, Any]:
    if is_custom_type(resource_type):
        return {}
    try:
        return resource_schema(resource_type, region)
    except Exception:
        return {}


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 10:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    return node if isinstance(node, dict) else {}


def _child(node: dict[str, Any], key: str | int, root: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, root)
    if isinstance(key, int):
        return _resolve(node.get("items", {}), root)
    return _resolve(node.get("properties", {}).get(key, {}), root)


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    return kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []


def _coerce(value: Any, node: dict[str, Any], root: dict[str, Any]) -> Any:
    """Template scalars in the type the schema declares ("20" -> 20), JSON strings of objects parsed."""
    node = _resolve(node, root)
    kinds = _types(node)
    if isinstance(value, dict):
        return {k: _coerce(v, _child(node, k, root), root) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v, _child(node, i, root), root) for i, v in enumerate(value)]
    if isinstance(value, str) and "object" in kinds and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, str) and kinds[:1] in (["integer"], ["number"]):
        try:
            return int(value) if kinds[0] == "integer" else float(value)
        except ValueError:
            return value
    if isinstance(value, str) and kinds[:1] == ["boolean"] and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _drop_pointer(value: Any, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, list) and head == "*":
        for item in value:
            _drop_pointer(item, rest)
    elif isinstance(value, dict) and head in value:
        if rest:
            _drop_pointer(value[head], rest)
            if isinstance(value[head], dict) and not value[head]:
                del value[head]  # nothing readable is left of it (a Lambda function's Code)
        else:
            del value[head]


def _drop_kms(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_kms(v) for k, v in value.items() if k.lower() not in _KMS_KEYS}
    if isinstance(value, list):
        return [_drop_kms(v) for v in value]
    return value


def comparable(resource_type: str, region: str, properties: dict[str, Any], readable: frozenset[str]) -> dict[str, Any]:
    """The expected properties drift detection checks: set in the template, readable, in the schema's types."""
    schema = _schema(resource_type, region)
    expected = json.loads(json.dumps({k: v for k, v in properties.items() if k in readable}, default=str))
    for pointer in schema.get("writeOnlyProperties", []):
        _drop_pointer(expected, pointer.removeprefix("/properties/").split("/"))
    expected = _drop_kms(expected)
    return _coerce(expected, {"properties": schema.get("properties", {})}, schema)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _as_set(value: Any) -> Any:
    if isinstance(value, list):
        items = sorted({_canon(v): v for v in value}.items())
        return items[0][1] if len(items) == 1 else [v for _, v in items]
    return value


def _statement(statement: Any) -> Any:
    if not isinstance(statement, dict):
        return statement
    out: dict[str, Any] = {}
    for key, value in statement.items():
        if key in _SET_KEYS:
            out[key] = _as_set(value)
        elif key in ("Principal", "NotPrincipal") and isinstance(value, dict):
            out[key] = {k: _as_set(v) for k, v in value.items()}
        elif key == "Condition" and isinstance(value, dict):
            out[key] = {
                op: {k: _as_set(v) for k, v in body.items()} if isinstance(body, dict) else body
                for op, body in value.items()
            }
        else:
            out[key] = value
    return out


def policy(document: Any) -> Any:
    """A policy document in the canonical form IAM's semantics allow (order and one-item lists do not matter)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return document
    if not isinstance(document, dict):
        return document
    out = dict(document)
    statements = out.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if isinstance(statements, list):
        out["Statement"] = sorted((_statement(s) for s in statements), key=_canon)
    return out


def _rule(rule: Any) -> Any:
    """The schema's propertyTransform for security group rules: protocol names, no ports for all traffic."""
    if not isinstance(rule, dict) or "IpProtocol" not in rule:
        return rule
    out = dict(rule)
    protocol = str(out["IpProtocol"]).lower()
    out["IpProtocol"] = _PROTOCOLS.get(protocol, protocol)
    if out["IpProtocol"] == "-1":
        out["FromPort"], out["ToPort"] = -1, -1
    return out


def normalize(value: Any, key: str | None = None) -> Any:
    """Put both sides in the same canonical form before they are compared."""
    if key in POLICY_KEYS:
        return policy(value)
    if key in _RULE_LISTS and isinstance(value, list):
        return [_rule(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def _scalar(value: Any) -> str:
    return compact(value) if isinstance(value, (dict, list)) else as_string(value)


def _difference(path: str, kind: str, expected: Any = None, actual: Any = None) -> dict[str, Any]:
    diff: dict[str, Any] = {"PropertyPath": path, "DifferenceType": kind}
    if expected is not None:
        diff["ExpectedValue"] = _scalar(expected)
    if actual is not None:
        diff["ActualValue"] = _scalar(actual)
    return diff


class Comparison:
    """Compares one resource's expected and actual properties with its type's schema at hand."""

    def __init__(self, resource_type: str, region: str) -> None:
        self.root = _schema(resource_type, region)

    def differences(self, expected: dict[str, Any], actual: dict[str, Any]) -> list[dict[str, Any]]:
        """PropertyDifferences, in the order of the expected properties."""
        node = {"properties": self.root.get("properties", {})}
        return self._diff("", normalize(expected), normalize(actual), node, free_form=False)

    def _diff(self, path: str, expected: Any, actual: Any, node: dict[str, Any], free_form: bool) -> list:
        node = _resolve(node, self.root)
        if isinstance(expected, dict) and isinstance(actual, dict):
            return self._diff_objects(path, expected, actual, node, free_form)
        if isinstance(expected, list) and isinstance(actual, list):
            if node.get("insertionOrder") is False or path.endswith(("/Statement", "/Tags")):
                return self._diff_sets(path, expected, actual, node, free_form)
            return self._diff_lists(path, expected, actual, node)
        if isinstance(expected, (dict, list)) or isinstance(actual, (dict, list)):
            return [] if expected == actual else [_difference(path, "NOT_EQUAL", expected, actual)]
        if _scalar(expected) == _scalar(actual):
            return []
        return [_difference(path, "NOT_EQUAL", expected, actual)]

    def _diff_objects(self, path: str, expected: dict, actual: dict, node: dict, free_form: bool) -> list:
        diffs: list[dict[str, Any]] = []
        declared = "properties" in node
        for key, value in expected.items():
            child_path = f"{path}/{key}"
            if actual.get(key) is None:
                if value is not None:
                    diffs.append(_difference(child_path, "REMOVE", value))
                continue
            child_free = free_form or not declared or key in POLICY_KEYS
            diffs += self._diff(child_path, value, actual[key], _child(node, key, self.root), child_free)
        if free_form or not declared:
            # A JSON document (a policy, a redrive policy, a tag map): whatever was added is drift too.
            diffs += [_difference(f"{path}/{k}", "ADD", actual=v) for k, v in actual.items() if k not in expected]
        return diffs

    def _diff_lists(self, path: str, expected: list, actual: list, node: dict) -> list:
        diffs: list[dict[str, Any]] = []
        item = _child(node, 0, self.root)
        for i in range(max(len(expected), len(actual))):
            if i >= len(actual):
                diffs.append(_difference(f"{path}/{i}", "REMOVE", expected[i]))
            elif i >= len(expected):
                diffs.append(_difference(f"{path}/{i}", "ADD", actual=actual[i]))
            else:
                diffs += self._diff(f"{path}/{i}", expected[i], actual[i], item, free_form=False)
        return diffs

    def _diff_sets(self, path: str, expected: list, actual: list, node: dict, free_form: bool) -> list:
        item = _child(node, 0, self.root)
        unmatched = list(range(len(actual)))
        missing: list[int] = []
        for i, value in enumerate(expected):
            match = next((j for j in unmatched if not self._diff("", value, actual[j], item, free_form)), None)
            if match is None:
                missing.append(i)
            else:
                unmatched.remove(match)
        if free_form and len(missing) == len(unmatched) == 1:
            # one statement of a policy changed: say where inside it
            return self._diff(f"{path}/{missing[0]}", expected[missing[0]], actual[unmatched[0]], item, free_form)
        diffs = [_difference(f"{path}/{i}", "REMOVE", expected[i]) for i in missing]
        return diffs + [_difference(f"{path}/{j}", "ADD", actual=actual[j]) for j in unmatched]
