"""Static analysis of a template: what CloudFormation checks before it creates anything.

`TemplateModel` validates references, types and attributes, works out the dependency order, and
answers the questions validate_template and get_template_summary ask. Every problem is a
ValidationError worded as AWS words it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from .errors import ValidationError, template_format_error
from .intrinsics import References, scan
from .parameters import SSM_VALUE_TYPE
from .resources import valid_getatt
from .schema import is_known_type
from .template import check_sections

PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}

_AWS_PARAMETER_TYPES = {
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::Volume::Id",
    "AWS::EC2::VPC::Id",
    "AWS::Route53::HostedZone::Id",
}
_PLAIN_PARAMETER_TYPES = {
    "String",
    "Number",
    "List<Number>",
    "CommaDelimitedList",
    "AWS::SSM::Parameter::Name",
}

# IAM resources need CAPABILITY_IAM; with an explicit name, CAPABILITY_NAMED_IAM.
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
_IAM_TYPES = set(_IAM_NAME_PROPERTIES) | {
    "AWS::IAM::AccessKey",
    "AWS::IAM::Policy",
    "AWS::IAM::UserToGroupAddition",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
}


def valid_parameter_type(ptype: str) -> bool:
    """True for every parameter type CloudFormation accepts."""
    if ptype in _PLAIN_PARAMETER_TYPES or ptype in _AWS_PARAMETER_TYPES:
        return True
    inner = re.fullmatch(r"List<(.+)>", ptype)
    if inner and inner.group(1) in _AWS_PARAMETER_TYPES:
        return True
    ssm = SSM_VALUE_TYPE.match(ptype)
    if ssm:
        value_type = ssm.group(1)
        return value_type in ("String", "List<String>", "CommaDelimitedList") or (
            value_type not in _PLAIN_PARAMETER_TYPES and valid_parameter_type(value_type)
        )
    return False


@dataclass
class TemplateModel:
    """A parsed template, checked and ordered."""

    doc: dict[str, Any]
    region: str
    order: list[str] = field(default_factory=list)
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.doc["Resources"]

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("Parameters") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.doc.get("Conditions") or {}

    @property
    def mappings(self) -> dict[str, Any]:
        return self.doc.get("Mappings") or {}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("Outputs") or {}

    @classmethod
    def build(cls, doc: dict[str, Any], region: str) -> TemplateModel:
        """Validate a parsed template and compute its dependency order (ValidationError if invalid)."""
        check_sections(doc)
        model = cls(doc, region)
        model._check_parameters()
        model._check_types()
        model._check_conditions()
        model._check_resources()
        model._check_outputs()
        model._order()
        return model

    # -- checks ----------------------------------------------------------------------------------
    def _check_parameters(self) -> None:
        for key, spec in self.parameters.items():
            ptype = spec.get("Type") if isinstance(spec, dict) else None
            if ptype is None:
                raise template_format_error(
                    f"Template format error: Every Parameters object must contain a Type member. ({key})"
                )
            if not valid_parameter_type(str(ptype)):
                raise template_format_error(f"Template format error: Unrecognized parameter type: {ptype}")

    def _check_types(self) -> None:
        unknown = sorted(
            {str(r["Type"]) for r in self.resources.values() if not is_known_type(str(r["Type"]), self.region)}
        )
        if unknown:
            raise template_format_error(f"Template format error: Unrecognized resource types: [{', '.join(unknown)}]")

    def _check_conditions(self) -> None:
        for name, expression in self.conditions.items():
            found = scan(expression)
            resources = sorted(found.refs & set(self.resources))
            if resources:
                raise template_format_error(
                    f"Template format error: Unresolved dependencies [{', '.join(resources)}]. "
                    "Cannot reference "
                    "resources in the Conditions block of the template"
                )
            for condition in sorted(found.conditions - set(self.conditions)):
                raise template_format_error(f"Template format error: Condition {condition} is not defined.")
            del name

    def _check_refs(self, found: References, block: str) -> None:
        known = set(self.parameters) | set(self.resources) | PSEUDO_PARAMETERS
        missing = sorted(found.refs - known)
        if missing:
            prefix = "Template format error: " if block == "Resources" else ""
            raise template_format_error(
                f"{prefix}Unresolved resource dependencies [{', '.join(missing)}] in the {block} block of the template"
            )
        for resource, attribute in sorted(found.getatts):
            if resource not in self.resources:
                raise template_format_error(
                    f"Template error: instance of Fn::GetAtt references undefined resource {resource}"
                )
            if attribute != "?" and not valid_getatt(str(self.resources[resource]["Type"]), self.region, attribute):
                raise template_format_error(
                    f"Template error: resource {resource} does not support attribute type {attribute} in Fn::GetAtt"
                )
        for condition in sorted(found.if_conditions - set(self.conditions)):
            raise template_format_error(f"Template error: unresolved condition dependency {condition} in Fn::If")

    def _check_resources(self) -> None:
        for logical_id, resource in self.resources.items():
            condition = resource.get("Condition")
            if condition is not None and condition not in self.conditions:
                raise template_format_error(f"Template format error: Condition {condition} is not defined.")
            found = scan({k: v for k, v in resource.items() if k in ("Properties", "Metadata")})
            self._check_refs(found, "Resources")
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else list(depends)
            missing = sorted(d for d in depends if d not in self.resources)
            if missing:
                raise template_format_error(
                    "Template format error: Unresolved resource dependencies "
                    f"[{', '.join(missing)}] in the Resources block of the template"
                )
            self.dependencies[logical_id] = (found.names() & set(self.resources)) | set(depends)

    def _check_outputs(self) -> None:
        for output in self.outputs.values():
            condition = output.get("Condition")
            if condition is not None and condition not in self.conditions:
                raise template_format_error(f"Template format error: Condition {condition} is not defined.")
            self._check_refs(scan(output), "Outputs")

    def _order(self) -> None:
        sorter = TopologicalSorter({k: self.dependencies[k] for k in self.resources})
        try:
            ordered = list(sorter.static_order())
        except CycleError as e:
            cycle = sorted(set(e.args[1]))
            raise ValidationError(f"Circular dependency between resources: [{', '.join(cycle)}]") from None
        # keep template order among independent resources, so events read like the template
        position = {k: i for i, k in enumerate(self.resources)}
        done: list[str] = []
        remaining = set(ordered)
        while remaining:
            ready = [k for k in remaining if self.dependencies[k] <= set(done)]
            nxt = min(ready, key=position.__getitem__)
            done.append(nxt)
            remaining.remove(nxt)
        self.order = done

    # -- what the template needs ------------------------------------------------------------------
    def required_capabilities(self) -> tuple[list[str], list[str]]:
        """(capabilities, resources needing them) for the template's IAM resources."""
        iam = [k for k, r in self.resources.items() if r["Type"] in _IAM_TYPES]
        named = [
            k
            for k in iam
            if _IAM_NAME_PROPERTIES.get(self.resources[k]["Type"]) in (self.resources[k].get("Properties") or {})
        ]
        if named:
            return ["CAPABILITY_NAMED_IAM"], named
        if iam:
            return ["CAPABILITY_IAM"], iam
        return [], []

    def parameter_summaries(self) -> list[dict[str, Any]]:
        """Parameters as ValidateTemplate and GetTemplateSummary describe them."""
        out = []
        for key, spec in self.parameters.items():
            item: dict[str, Any] = {
                "ParameterKey": key,
                "NoEcho": str(spec.get("NoEcho", False)).lower() == "true",
                "ParameterType": spec["Type"],
            }
            if "Default" in spec:
                default = spec["Default"]
                item["DefaultValue"] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            if "Description" in spec:
                item["Description"] = spec["Description"]
            if "AllowedValues" in spec:
                item["ParameterConstraints"] = {"AllowedValues": [str(v) for v in spec["AllowedValues"]]}
            out.append(item)
        return out
