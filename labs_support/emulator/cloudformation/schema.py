"""What CloudFormation knows about each resource type, read from cfn-lint's copy of the AWS registry.

The CloudFormation registry publishes a JSON schema per resource type: its properties, which are
required, which can only be set at creation (changing them means replacement), and what Fn::GetAtt
can return. cfn-lint ships those schemas per Region; we use them to answer as AWS would.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from functools import cache
from typing import Any

import jsonschema

from .intrinsics import as_string

_FALLBACK_REGION = "us-east-1"


@cache
def _manager():  # type: ignore[no-untyped-def]
    """cfn-lint's registry of resource schemas, imported without the rest of cfn-lint.

    `import cfnlint` runs the package's __init__, which loads the whole linter (its rules, sympy, networkx):
    about 50 MB of a kernel and 0.6 s, for schemas that need none of it. Unless cfnlint is imported already, a
    bare package module stands in for it while the schema modules load; then they are all taken out of
    sys.modules again (the manager keeps what it uses), so a later `import cfnlint` (a learner's or a test's)
    loads the real package, whole.
    """
    if "cfnlint" in sys.modules:
        from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

        return PROVIDER_SCHEMA_MANAGER
    spec = importlib.util.find_spec("cfnlint")
    assert spec is not None and spec.submodule_search_locations is not None
    stand_in = types.ModuleType("cfnlint")
    stand_in.__path__ = list(spec.submodule_search_locations)
    stand_in.__spec__ = spec
    sys.modules["cfnlint"] = stand_in
    try:
        from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER
    finally:
        for name in [n for n in sys.modules if n == "cfnlint" or n.startswith("cfnlint.")]:
            del sys.modules[name]
    return PROVIDER_SCHEMA_MANAGER


def _schema_region(region: str) -> str:
    try:
        _manager().get_resource_types(region)
        return region
    except Exception:
        return _FALLBACK_REGION


def is_custom_type(resource_type: str) -> bool:
    """Custom::Name and AWS::CloudFormation::CustomResource are custom resources."""
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


@cache
def known_types(region: str) -> frozenset[str]:
    """Every resource type the CloudFormation registry lists for a Region."""
    return frozenset(_manager().get_resource_types(_schema_region(region)))


def is_known_type(resource_type: str, region: str) -> bool:
    """True if CloudFormation in this Region accepts the type."""
    return is_custom_type(resource_type) or resource_type in known_types(region)


@cache
def resource_schema(resource_type: str, region: str) -> dict[str, Any]:
    """The registry schema of a type ({} for custom resources)."""
    if is_custom_type(resource_type):
        return {}
    return _manager().get_resource_schema(_schema_region(region), resource_type).schema


@cache
def getatt_names(resource_type: str, region: str) -> frozenset[str]:
    """Attribute names Fn::GetAtt accepts for the type (any name for custom resources)."""
    return frozenset(_manager().get_type_getatts(resource_type, _schema_region(region)).keys())


def _pointer_names(pointers: list[str] | None) -> frozenset[str]:
    return frozenset(p.removeprefix("/properties/").split("/")[0] for p in pointers or [])


@cache
def create_only_properties(resource_type: str, region: str) -> frozenset[str]:
    """Top-level properties that cannot change without replacing the resource."""
    return _pointer_names(resource_schema(resource_type, region).get("createOnlyProperties"))


@cache
def read_only_properties(resource_type: str, region: str) -> frozenset[str]:
    """Properties the service sets (they may not appear in a template)."""
    return _pointer_names(resource_schema(resource_type, region).get("readOnlyProperties"))


def _relax_pattern_objects(node: Any) -> Any:
    """Objects whose keys are checked by patternProperties (skipped below) may hold any key."""
    if isinstance(node, dict):
        relaxed = {k: _relax_pattern_objects(v) for k, v in node.items()}
        if "patternProperties" in relaxed:
            relaxed.pop("additionalProperties", None)
        return relaxed
    if isinstance(node, list):
        return [_relax_pattern_objects(v) for v in node]
    return node


def _skip(*_args: Any) -> Any:
    return iter(())


# The registry writes regular expressions in the ECMAScript dialect (\p{L} and friends), which Python's
# re cannot compile; patterns and formats are left to the services, as moto does.
_SchemaValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"pattern": _skip, "patternProperties": _skip, "format": _skip}
)


@cache
def _validator(resource_type: str, region: str) -> Any:
    schema = resource_schema(resource_type, region)
    if not schema:
        return None
    writable = dict(schema)
    # Read-only properties describe what the service returns; a template may not set them, but the
    # registry schemas do not mark that in a way a validator enforces, so drop them from the check.
    props = {
        k: v for k, v in schema.get("properties", {}).items() if k not in read_only_properties(resource_type, region)
    }
    writable["properties"] = props
    for key in ("oneOf", "anyOf", "allOf", "dependencies", "dependentRequired", "dependentSchemas"):
        writable.pop(key, None)  # combinators are where AWS and the published schemas disagree most
    return _SchemaValidator(_relax_pattern_objects(writable))


def property_errors(resource_type: str, region: str, properties: dict[str, Any]) -> list[str]:
    """The registry's own validation messages for a resource's properties ([] when valid).

    Worded as CloudFormation's resource handlers word them: '#: required key [Value] not found',
    '#: extraneous key [Nmae] is not permitted', '#/DelaySeconds: expected type: Integer, found: String'.
    """
    return [message for _pointer, message in property_findings(resource_type, region, properties)]


def _unknown(value: Any) -> bool:
    """A value known only once resources exist (a marker) or once a dynamic reference is resolved."""
    if isinstance(value, str):
        return "\x00" in value or "{{resolve:" in value
    if isinstance(value, list):
        return any(_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(_unknown(v) for v in value.values())
    return False


def property_findings(resource_type: str, region: str, properties: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON pointer '#/a/0', message) for each way the properties break the type's schema.

    A value that is not known yet (see `_unknown`) is not judged: its type or enum cannot be checked.
    Results are remembered: pre-deployment validation and provisioning check the same properties, and labs
    deploy the same templates again and again.
    """
    try:
        key = (resource_type, region, json.dumps(properties, sort_keys=True))
    except (TypeError, ValueError):
        return _property_findings(resource_type, region, properties)
    found = _FINDINGS.get(key)
    if found is None:
        if len(_FINDINGS) >= _FINDINGS_KEPT:
            _FINDINGS.pop(next(iter(_FINDINGS)))
        found = _FINDINGS[key] = _property_findings(resource_type, region, properties)
    return list(found)


_FINDINGS: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
_FINDINGS_KEPT = 1024


def _property_findings(resource_type: str, region: str, properties: dict[str, Any]) -> list[tuple[str, str]]:
    validator = _validator(resource_type, region)
    if validator is None:
        return []
    schema = validator.schema
    properties = _coerce(properties, schema, schema)
    found = []
    for error in sorted(validator.iter_errors(properties), key=lambda e: list(e.absolute_path)):
        path = "#" + "".join(f"/{p}" for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            found.append((path, f"{path}: required key [{missing}] not found"))
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            found.extend((f"{path}", f"{path}: extraneous key [{name}] is not permitted") for name in extra)
        elif _unknown(error.instance):
            continue
        elif error.validator == "type":
            expected = error.validator_value
            expected = expected[0] if isinstance(expected, list) else expected
            found.append((path, f"{path}: expected type: {_type_name(expected)}, found: {_type_of(error.instance)}"))
        elif error.validator == "enum":
            found.append((path, f"{path}: {error.instance} is not a valid enum value"))
        else:
            found.append((path, f"{path}: {error.message}"))
    return found


def _resolve_ref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        for part in ref[2:].split("/"):
            root = root.get(part, {})
        return root
    return node


def _coerce(value: Any, node: dict[str, Any], root: dict[str, Any]) -> Any:
    """Convert scalars the way CloudFormation does before a handler validates them.

    Template values are often strings (every parameter is one): "5" is a fine Integer and 5 a fine
    String to CloudFormation, so only what stays wrong after conversion is reported.
    """
    node = _resolve_ref(node, root)
    kind = node.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if isinstance(value, dict):
        props = node.get("properties", {})
        return {k: _coerce(v, props.get(k, {}), root) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v, node.get("items", {}), root) for v in value]
    if kind == "string" and isinstance(value, (int, float, bool)):
        return as_string(value)
    if kind in ("integer", "number") and isinstance(value, str):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _type_name(json_type: str) -> str:
    return {
        "integer": "Integer",
        "number": "Number",
        "string": "String",
        "boolean": "Boolean",
        "array": "JSONArray",
        "object": "JSONObject",
    }.get(json_type, json_type)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    return "JSONObject"
