"""Reading a template as CloudFormation does: JSON or YAML with the short-form intrinsic tags.

Errors carry AWS's wording ("Template format error: YAML not well-formed. (line 4, column 3)"), so a
learner's typo is reported the way the real service reports it, with the place to look.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from .errors import template_format_error

# Short-form tags and the long form they stand for.
_FN_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in [
            "Base64",
            "Cidr",
            "FindInMap",
            "GetAtt",
            "GetAZs",
            "ImportValue",
            "Join",
            "Select",
            "Split",
            "Sub",
            "Transform",
            "And",
            "Equals",
            "If",
            "Not",
            "Or",
            "ToJsonString",
            "Length",
            "GetStackOutput",
        ]
    },
}


# libyaml's parser when PyYAML has it (about five times faster than the pure-Python one).
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader that keeps dates as strings and understands CloudFormation's tags."""


# CloudFormation keeps '2010-09-09' a string; PyYAML would make it a date.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_tag(loader: _TemplateLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _FN_TAGS.get(tag_suffix)
    if name is None:
        raise yaml.constructor.ConstructorError(None, None, f"unknown tag !{tag_suffix}", node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)  # !GetAtt Resource.Attribute.With.Dots splits on the first dot
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def parse_template(body: str) -> dict[str, Any]:
    """Parse a template body (JSON or YAML) into a dict, raising AWS-worded ValidationErrors."""
    if not isinstance(body, str) or not body.strip():
        raise template_format_error("Template format error: unsupported structure.")
    if _looks_like_json(body):
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as e:
            raise template_format_error(
                f"Template format error: JSON not well-formed. (line {e.lineno}, column {e.colno})"
            ) from None
    else:
        try:
            doc = yaml.load(body, Loader=_TemplateLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise template_format_error(f"Template format error: YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise template_format_error("Template format error: YAML not well-formed.") from None
    if not isinstance(doc, dict):
        raise template_format_error("Template format error: unsupported structure.")
    return doc


_SECTIONS = {
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
}


def check_sections(doc: dict[str, Any]) -> None:
    """Top-level checks CloudFormation makes before it looks inside the sections."""
    unknown = [k for k in doc if k not in _SECTIONS]
    if unknown:
        raise template_format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    resources = doc.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise template_format_error("Template format error: At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or "Type" not in resource:
            raise template_format_error(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            )
    for output in (doc.get("Outputs") or {}).values():
        if not isinstance(output, dict) or "Value" not in output:
            raise template_format_error("Template format error: Every Outputs member must contain a Value object")


LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
