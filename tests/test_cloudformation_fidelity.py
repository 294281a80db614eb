"""Fidelity tests for the CloudFormation emulator: each test proves one documented AWS behaviour.

Every test is named after the behaviour it proves and cites the AWS documentation it rests on. Message texts
the documentation does not print word for word come from AWS's own output, collected with their sources in
.research/cfn-error-messages.md and cfn-error-messages-2.md.

The module shares one sandbox (start_sandbox resets it once, ~1 s); every test uses stack and export names of
its own, so tests never see each other's stacks.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import textwrap
from typing import Any

import moto
import pytest
from aws_errors import api_error
from botocore.exceptions import ClientError

from labs_support.emulator import PINNED_MOTO, MotoVersionMismatch, check_moto_version
from labs_support.sandbox import Sandbox

# moto has no botocore error shape for the sandbox's own SandboxNotSupported code and warns when it sends one
pytestmark = pytest.mark.filterwarnings(r"ignore:Exception\(SandboxNotSupported\):UserWarning")

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"
_names = itertools.count(1)


# -- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    """A stack or export name that no other test uses."""
    return f"{prefix}-{next(_names)}"


def template(text: str) -> str:
    """A YAML template body written indented inside a test."""
    return textwrap.dedent(text).strip() + "\n"


def json_template(doc: dict[str, Any]) -> str:
    return json.dumps(doc)


TOPIC_ONLY = template(
    """
    Resources:
      Topic:
        Type: AWS::SNS::Topic
    """
)


def create(cfn: Any, body: str, prefix: str = "stack", **kwargs: Any) -> str:
    """Create a stack under a fresh name and return the name (the engine finishes before returning)."""
    name = unique(prefix)
    cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
    return name


def describe(cfn: Any, name: str) -> dict[str, Any]:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def status(cfn: Any, name: str) -> str:
    return describe(cfn, name)["StackStatus"]


def outputs(cfn: Any, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in describe(cfn, name).get("Outputs", [])}


def events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The stack's events, oldest first (DescribeStackEvents returns newest first)."""
    return list(reversed(cfn.describe_stack_events(StackName=name)["StackEvents"]))


def stack_events(cfn: Any, name: str) -> list[tuple[str, str | None]]:
    """(status, reason) of the stack's own events, oldest first."""
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, name)
        if e["ResourceType"] == "AWS::CloudFormation::Stack"
    ]


def resource_events(cfn: Any, name: str, logical_id: str) -> list[tuple[str, str | None]]:
    """(status, reason) of one resource's events, oldest first."""
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, name)
        if e["LogicalResourceId"] == logical_id and e["ResourceType"] != "AWS::CloudFormation::Stack"
    ]


def physical_id(cfn: Any, name: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def assert_no_stack(cfn: Any, name: str) -> None:
    """A rejected request leaves no stack behind."""
    assert api_error(cfn.describe_stacks, StackName=name) == ("ValidationError", f"Stack with id {name} does not exist")


def bracketed(message: str) -> set[str]:
    """The comma-separated names inside the first [...] of a message (AWS does not sort them)."""
    match = re.search(r"\[([^\]]*)\]", message)
    assert match, message
    return {part.strip() for part in match.group(1).split(",")}


def vpc_ids(sb: Sandbox) -> set[str]:
    return {v["VpcId"] for v in sb.client("ec2").describe_vpcs()["Vpcs"]}


# -- the emulator itself ---------------------------------------------------------------------------------
def test_installed_moto_is_the_version_the_fidelity_layer_patches() -> None:
    """The fidelity layer is written against one moto; any other version must fail loudly.

    The behaviour it protects is every other test in this module, each resting on its AWS page, e.g.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    assert moto.__version__ == PINNED_MOTO, f"moto {moto.__version__} installed, the emulator patches {PINNED_MOTO}"
    check_moto_version()


def test_a_different_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_moto_version refuses an unpinned moto instead of teaching behaviour AWS does not have.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    monkeypatch.setattr(moto, "__version__", "0.0.1")
    with pytest.raises(MotoVersionMismatch, match=re.escape(PINNED_MOTO)):
        check_moto_version()


def test_start_sandbox_routes_the_cloudformation_api_to_the_engine(sb: Sandbox) -> None:
    """After start_sandbox, moto's CloudFormation actions are the engine's (AWS's lifecycle, not moto's).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Operations.html
    """
    from moto.cloudformation.responses import CloudFormationResponse

    from labs_support.emulator.cloudformation import api

    assert CloudFormationResponse.create_stack is api.create_stack
    for name, function in api.ACTIONS.items():
        assert getattr(CloudFormationResponse, name) is function, name


def test_dynamic_references_in_resource_metadata_are_refused_plainly(cfn: Any) -> None:
    """Resource properties get their {{resolve:...}} values (tests/test_dynamic_references.py); Metadata does not.

    On AWS an ssm reference in Metadata (what cfn-init reads) is resolved and a secret reference is not allowed
    there; the sandbox hands Metadata back as written, so it refuses the template plainly and creates nothing.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    body = template(
        """
        Resources:
          Param:
            Type: AWS::SSM::Parameter
            Metadata:
              AWS::CloudFormation::Init:
                config:
                  files:
                    /etc/app.conf:
                      content: 'colour={{resolve:ssm:/course/some-parameter}}'
            Properties:
              Type: String
              Value: plain
        """
    )
    name = unique("dynref")
    code, message = api_error(cfn.create_stack, StackName=name, TemplateBody=body)
    assert code == "SandboxNotSupported"
    assert "dynamic references in resource Metadata" in message
    assert_no_stack(cfn, name)


# -- template format -------------------------------------------------------------------------------------
def test_yaml_syntax_error_is_reported_with_its_1_based_line_and_column(cfn: Any) -> None:
    """A YAML template that does not parse is rejected with where the parser stopped.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
    """
    body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n   Properties: {}\n"  # line 4 is mis-indented
    name = unique("yaml")
    for call, kwargs in ((cfn.validate_template, {}), (cfn.create_stack, {"StackName": name})):
        code, message = api_error(call, TemplateBody=body, **kwargs)
        assert code == "ValidationError"
        assert re.fullmatch(r"Template format error: YAML not well-formed\. \(line 4, column \d+\)", message), message
    assert_no_stack(cfn, name)


def test_json_syntax_error_is_reported_with_its_1_based_line_and_column(cfn: Any) -> None:
    """CloudFormation reads a body that starts as JSON as JSON, and reports a JSON syntax error.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
    """
    body = '{\n  "Resources": {\n    "Topic": {"Type": "AWS::SNS::Topic",}\n  }\n}\n'  # trailing comma on line 3
    code, message = api_error(cfn.validate_template, TemplateBody=body)
    assert code == "ValidationError"
    assert re.fullmatch(r"Template format error: JSON not well-formed\. \(line 3, column \d+\)", message), message


def test_template_without_resources_is_rejected(cfn: Any) -> None:
    """Resources is the one required section of a template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html
    """
    body = template(
        """
        Description: nothing to create
        Outputs:
          Hello:
            Value: world
        """
    )
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: At least one Resources member must be defined.",
    )


def test_resource_without_type_is_rejected_with_its_json_pointer(cfn: Any) -> None:
    """Every resource must declare its Type.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html
    """
    body = template(
        """
        Resources:
          Topic:
            Properties:
              TopicName: no-type
        """
    )
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: [/Resources/Topic] Every Resources object must contain a Type member.",
    )


def test_unknown_top_level_section_is_rejected_without_a_format_error_prefix(cfn: Any) -> None:
    """Only the documented sections may appear at the top level of a template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html
    """
    body = TOPIC_ONLY + "Outputz:\n  A:\n    Value: b\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Invalid template property or properties [Outputz]",
    )


def test_unrecognized_resource_types_are_listed_in_one_message(cfn: Any) -> None:
    """A resource type the Region's registry does not know is rejected before anything is created.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html
    """
    body = template(
        """
        Resources:
          A:
            Type: AWS::Foo::Bar
          B:
            Type: AWS::Timestream::Tabel
          C:
            Type: AWS::SNS::Topic
        """
    )
    name = unique("types")
    code, message = api_error(cfn.create_stack, StackName=name, TemplateBody=body)
    assert code == "ValidationError"
    assert message.startswith("Template format error: Unrecognized resource types: [")
    assert bracketed(message) == {"AWS::Foo::Bar", "AWS::Timestream::Tabel"}
    assert_no_stack(cfn, name)


def test_ref_to_an_undefined_name_in_resources_is_a_template_format_error(cfn: Any) -> None:
    """Ref must name a parameter, a resource or a pseudo parameter.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-ref.html
    """
    body = template(
        """
        Resources:
          Param:
            Type: AWS::SSM::Parameter
            Properties:
              Type: String
              Value: !Ref Missing
        """
    )
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template",
    )


def test_ref_to_an_undefined_name_in_outputs_has_no_format_error_prefix(cfn: Any) -> None:
    """The same check for Outputs, which AWS words without the 'Template format error:' prefix.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html
    """
    body = TOPIC_ONLY + "Outputs:\n  Out:\n    Value: !Ref Missing\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Unresolved resource dependencies [Missing] in the Outputs block of the template",
    )


def test_getatt_of_an_undefined_resource_is_rejected(cfn: Any) -> None:
    """Fn::GetAtt must name a resource of the template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getatt.html
    """
    body = TOPIC_ONLY + "Outputs:\n  Out:\n    Value: !GetAtt Ghost.Arn\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template error: instance of Fn::GetAtt references undefined resource Ghost",
    )


def test_getatt_of_an_attribute_the_type_does_not_have_is_rejected(cfn: Any) -> None:
    """Fn::GetAtt may only ask for the attributes the resource type returns.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getatt.html
    """
    body = TOPIC_ONLY + "Outputs:\n  Out:\n    Value: !GetAtt Topic.QueueUrl\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template error: resource Topic does not support attribute type QueueUrl in Fn::GetAtt",
    )


def test_condition_on_a_resource_must_be_defined(cfn: Any) -> None:
    """A resource's Condition must name a condition of the Conditions section.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html
    """
    body = template(
        """
        Resources:
          Topic:
            Type: AWS::SNS::Topic
            Condition: IsProd
        """
    )
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: Condition IsProd is not defined.",
    )


def test_condition_in_fn_if_must_be_defined(cfn: Any) -> None:
    """Fn::If must name a condition of the Conditions section.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
    """
    body = template(
        """
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              DelaySeconds: !If [IsSlow, 5, 0]
        """
    )
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template error: unresolved condition dependency IsSlow in Fn::If",
    )


def test_conditions_cannot_reference_resources(cfn: Any) -> None:
    """Conditions are evaluated from parameters before any resource exists.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html
    """
    body = TOPIC_ONLY + "Conditions:\n  HasTopic: !Equals [!Ref Topic, x]\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: Unresolved dependencies [Topic]. "
        "Cannot reference resources in the Conditions block of the template",
    )


def test_circular_dependency_is_rejected_when_the_stack_is_created(cfn: Any) -> None:
    """Resources that depend on each other cannot be ordered, so CreateStack refuses the template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html
    """
    body = template(
        """
        Resources:
          First:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: !Ref Second}
          Second:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: !Ref First}
          Bystander:
            Type: AWS::SNS::Topic
        """
    )
    name = unique("cycle")
    code, message = api_error(cfn.create_stack, StackName=name, TemplateBody=body)
    assert code == "ValidationError"
    assert message.startswith("Circular dependency between resources: [")
    assert bracketed(message) == {"First", "Second"}
    assert_no_stack(cfn, name)


def test_output_without_a_value_is_rejected(cfn: Any) -> None:
    """Every output must have a Value.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html
    """
    body = TOPIC_ONLY + "Outputs:\n  Out:\n    Description: no value\n"
    assert api_error(cfn.validate_template, TemplateBody=body) == (
        "ValidationError",
        "Template format error: Every Outputs member must contain a Value object",
    )


def test_find_in_map_with_a_missing_key_is_rejected_before_the_stack_starts(cfn: Any) -> None:
    """A mapping lookup whose keys are known from the request fails the request itself.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap.html
    """
    body = template(
        """
        Parameters:
          Size:
            Type: String
            Default: huge
        Mappings:
          Sizes:
            small: {Delay: 1}
            large: {Delay: 9}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              DelaySeconds: !FindInMap [Sizes, !Ref Size, Delay]
        """
    )
    name = unique("fim")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        "Template error: Unable to get mapping for Sizes::huge::Delay",
    )
    assert_no_stack(cfn, name)


# -- parameters ------------------------------------------------------------------------------------------
def parameter_template(**parameters: dict[str, Any]) -> str:
    """A template with the given parameters, a topic, and an output echoing each parameter."""
    return json_template(
        {
            "Parameters": parameters,
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": {"Ref": key}} for key in parameters},
        }
    )


def rejected_parameter(cfn: Any, spec: dict[str, Any], value: str) -> tuple[str, str]:
    """The API error for creating a stack whose parameter P gets `value`; also checks no stack is left."""
    name = unique("param")
    error = api_error(
        cfn.create_stack,
        StackName=name,
        TemplateBody=parameter_template(P=spec),
        Parameters=[{"ParameterKey": "P", "ParameterValue": value}],
    )
    assert_no_stack(cfn, name)
    return error


def test_parameters_without_default_or_value_must_have_values(cfn: Any) -> None:
    """A parameter with no Default needs a value in the request.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    body = parameter_template(Env={"Type": "String"}, Owner={"Type": "String"}, Team={"Type": "String", "Default": "x"})
    assert api_error(cfn.create_stack, StackName=unique("param"), TemplateBody=body) == (
        "ValidationError",
        "Parameters: [Env, Owner] must have values",
    )


def test_parameter_default_is_used_when_no_value_is_given(cfn: Any) -> None:
    """A parameter's Default is its value when the request gives none.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    name = create(cfn, parameter_template(Env={"Type": "String", "Default": "dev"}))
    assert describe(cfn, name)["Parameters"] == [{"ParameterKey": "Env", "ParameterValue": "dev"}]
    assert outputs(cfn, name) == {"Env": "dev"}


def test_parameter_not_declared_in_the_template_is_rejected(cfn: Any) -> None:
    """Values may only be given for parameters the template declares.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    body = parameter_template(Env={"Type": "String", "Default": "dev"})
    assert api_error(
        cfn.create_stack,
        StackName=unique("param"),
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Enviroment", "ParameterValue": "prod"}],
    ) == ("ValidationError", "Parameters: [Enviroment] do not exist in the template")


def test_parameter_values_for_a_template_without_parameters_are_rejected(cfn: Any) -> None:
    """A template with no Parameters section takes no parameter values at all.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    assert api_error(
        cfn.create_stack,
        StackName=unique("param"),
        TemplateBody=TOPIC_ONLY,
        Parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}],
    ) == ("ValidationError", "Parameter values specified for a template which does not require them.")


def test_value_outside_allowed_values_is_rejected(cfn: Any) -> None:
    """AllowedValues lists every value the parameter accepts.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    spec = {"Type": "String", "AllowedValues": ["dev", "prod"]}
    assert rejected_parameter(cfn, spec, "test") == ("ValidationError", "Parameter 'P' must be one of AllowedValues")


def test_value_not_matching_allowed_pattern_is_rejected_with_the_pattern(cfn: Any) -> None:
    """AllowedPattern is a regular expression the whole value must match.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    spec = {"Type": "String", "AllowedPattern": "^[a-z]+$"}
    assert rejected_parameter(cfn, spec, "Web01") == ("ValidationError", "Parameter 'P' must match pattern ^[a-z]+$")


def test_constraint_description_replaces_the_constraint_message(cfn: Any) -> None:
    """ConstraintDescription is what CloudFormation shows when a constraint is violated.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    spec = {"Type": "String", "AllowedPattern": "^[a-z]+$", "ConstraintDescription": "lower-case letters only."}
    assert rejected_parameter(cfn, spec, "Web01") == (
        "ValidationError",
        "Parameter P failed to satisfy constraint: lower-case letters only.",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ab", "Parameter 'P' must contain at least 3 characters"),
        ("abcdef", "Parameter 'P' must contain at most 5 characters"),
    ],
)
def test_string_length_outside_min_and_max_length_is_rejected(cfn: Any, value: str, message: str) -> None:
    """MinLength and MaxLength bound a String parameter's length.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    spec = {"Type": "String", "MinLength": 3, "MaxLength": 5}
    assert rejected_parameter(cfn, spec, value) == ("ValidationError", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Parameter 'P' must be a number not less than 1"),
        ("11", "Parameter 'P' must be a number not greater than 10"),
    ],
)
def test_number_outside_min_and_max_value_is_rejected(cfn: Any, value: str, message: str) -> None:
    """MinValue and MaxValue bound a Number parameter.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    spec = {"Type": "Number", "MinValue": 1, "MaxValue": 10}
    assert rejected_parameter(cfn, spec, value) == ("ValidationError", message)


def test_number_parameter_rejects_a_value_that_is_not_a_number(cfn: Any) -> None:
    """A Number parameter accepts integers and floats only.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    assert rejected_parameter(cfn, {"Type": "Number"}, "three") == (
        "ValidationError",
        "Parameter 'P' must be a number.",
    )


def test_no_echo_parameter_is_masked_in_describe_stacks_but_not_in_outputs(cfn: Any) -> None:
    """NoEcho masks the value in DescribeStacks; it does not mask what the template itself puts in Outputs.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    body = parameter_template(Secret={"Type": "String", "NoEcho": True})
    name = create(cfn, body, Parameters=[{"ParameterKey": "Secret", "ParameterValue": "hunter2"}])
    assert describe(cfn, name)["Parameters"] == [{"ParameterKey": "Secret", "ParameterValue": "****"}]
    assert outputs(cfn, name) == {"Secret": "hunter2"}


def test_comma_delimited_list_parameter_refs_to_a_list(cfn: Any) -> None:
    """Ref of a CommaDelimitedList is a list of strings, usable with Fn::Select and Fn::Join.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    body = template(
        """
        Parameters:
          Names:
            Type: CommaDelimitedList
        Resources:
          Topic:
            Type: AWS::SNS::Topic
        Outputs:
          Second:
            Value: !Select [1, !Ref Names]
          Joined:
            Value: !Join ['+', !Ref Names]
        """
    )
    name = create(cfn, body, Parameters=[{"ParameterKey": "Names", "ParameterValue": "web,api, db"}])
    assert outputs(cfn, name) == {"Second": "api", "Joined": "web+api+db"}


# -- Systems Manager and AWS-specific parameter types --------------------------------------------------------
def test_ssm_parameter_type_resolves_the_public_ami_parameter(sb: Sandbox, cfn: Any) -> None:
    """An AWS::SSM::Parameter::Value<> parameter takes a Parameter Store name; Ref gives the stored value.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html (ResolvedValue)
    """
    ami = sb.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    assert ami.startswith("ami-")
    body = parameter_template(Ami={"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": AMI_PARAMETER})
    name = create(cfn, body)
    assert describe(cfn, name)["Parameters"] == [
        {"ParameterKey": "Ami", "ParameterValue": AMI_PARAMETER, "ResolvedValue": ami}
    ]
    assert outputs(cfn, name) == {"Ami": ami}


def test_ssm_parameter_type_with_a_missing_parameter_is_rejected(cfn: Any) -> None:
    """The Parameter Store key must exist when the stack is created.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
    """
    spec = {"Type": "AWS::SSM::Parameter::Value<String>"}
    assert rejected_parameter(cfn, spec, "/course/no-such-parameter") == (
        "ValidationError",
        "Unable to fetch parameters [/course/no-such-parameter] from parameter store for this account.",
    )


def test_ssm_parameter_type_reads_only_the_stacks_own_account(sb: Sandbox) -> None:
    """The Parameter Store key is looked up in the account (and Region) of the stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
    """
    sb.client("ssm").put_parameter(Name="/course/management-only", Value="secret-sauce", Type="String")
    dev = sb.client("cloudformation", account="dev")
    body = parameter_template(P={"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/course/management-only"})
    assert api_error(dev.create_stack, StackName=unique("ssm"), TemplateBody=body) == (
        "ValidationError",
        "Unable to fetch parameters [/course/management-only] from parameter store for this account.",
    )


def test_aws_specific_parameter_with_a_nonexistent_vpc_rolls_the_stack_back(cfn: Any) -> None:
    """AWS-specific parameter types must name resources that exist in the account and Region.

    CreateStack succeeds; the stack then rolls back before creating any resource.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
    """
    body = parameter_template(VpcId={"Type": "AWS::EC2::VPC::Id"})
    name = create(cfn, body, Parameters=[{"ParameterKey": "VpcId", "ParameterValue": "vpc-0123456789abcdef0"}])
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    assert stack_events(cfn, name) == [
        ("CREATE_IN_PROGRESS", "User Initiated"),
        (
            "ROLLBACK_IN_PROGRESS",
            "Parameter validation failed: parameter value vpc-0123456789abcdef0 for parameter name VpcId "
            "does not exist. Rollback requested by user.",
        ),
        ("ROLLBACK_COMPLETE", None),
    ]
    assert cfn.list_stack_resources(StackName=name)["StackResourceSummaries"] == []


def test_aws_specific_parameter_accepts_an_existing_vpc(sb: Sandbox, cfn: Any) -> None:
    """The same parameter type with a VPC that exists creates the stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
    """
    vpc = sb.client("ec2").create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    body = parameter_template(VpcId={"Type": "AWS::EC2::VPC::Id"})
    name = create(cfn, body, Parameters=[{"ParameterKey": "VpcId", "ParameterValue": vpc}])
    assert status(cfn, name) == "CREATE_COMPLETE"
    assert outputs(cfn, name) == {"VpcId": vpc}


# -- pseudo parameters and intrinsic functions ------------------------------------------------------------
def test_pseudo_parameters_describe_the_stacks_account_region_and_identity(sb: Sandbox) -> None:
    """AWS::AccountId, Region, StackName, StackId, Partition and URLSuffix, in a member account and Region.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
    """
    dev = sb.client("cloudformation", region="eu-west-1", account="dev")
    body = TOPIC_ONLY + template(
        """
        Outputs:
          AccountId: {Value: !Ref AWS::AccountId}
          Region: {Value: !Ref AWS::Region}
          StackName: {Value: !Ref AWS::StackName}
          StackId: {Value: !Ref AWS::StackId}
          Partition: {Value: !Ref AWS::Partition}
          URLSuffix: {Value: !Ref AWS::URLSuffix}
          TopicArn: {Value: !Ref Topic}
        """
    )
    name = unique("pseudo")
    stack_id = dev.create_stack(StackName=name, TemplateBody=body)["StackId"]
    account = sb.accounts["dev"]
    assert account != sb.accounts["management"]
    assert stack_id.startswith(f"arn:aws:cloudformation:eu-west-1:{account}:stack/{name}/")
    out = outputs(dev, name)
    assert out.pop("TopicArn").startswith(f"arn:aws:sns:eu-west-1:{account}:{name}-Topic-")
    assert out == {
        "AccountId": account,
        "Region": "eu-west-1",
        "StackName": name,
        "StackId": stack_id,
        "Partition": "aws",
        "URLSuffix": "amazonaws.com",
    }


def test_find_in_map_looks_up_the_value_for_the_stacks_region(sb: Sandbox) -> None:
    """Fn::FindInMap with AWS::Region as the top-level key picks the Region's entry.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/mappings-section-structure.html
    """
    body = TOPIC_ONLY + template(
        """
        Mappings:
          RegionMap:
            us-east-1: {Bucket: course-virginia}
            eu-west-1: {Bucket: course-ireland}
        Outputs:
          Bucket:
            Value: !FindInMap [RegionMap, !Ref AWS::Region, Bucket]
        """
    )
    for region, expected in (("us-east-1", "course-virginia"), ("eu-west-1", "course-ireland")):
        regional = sb.client("cloudformation", region=region)
        assert outputs(regional, create(regional, body, "fim")) == {"Bucket": expected}


CONDITIONAL = template(
    """
    Parameters:
      Env:
        Type: String
        AllowedValues: [dev, prod]
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
    Resources:
      Always:
        Type: AWS::SNS::Topic
      ProdOnly:
        Type: AWS::SQS::Queue
        Condition: IsProd
    Outputs:
      Env:
        Value: !Ref Env
      ProdQueue:
        Condition: IsProd
        Value: !GetAtt ProdOnly.QueueName
    """
)


@pytest.mark.parametrize(("env", "created"), [("dev", {"Always"}), ("prod", {"Always", "ProdOnly"})])
def test_condition_decides_whether_a_resource_and_an_output_exist(cfn: Any, env: str, created: set[str]) -> None:
    """A resource or output whose condition is false is not created.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html
    """
    name = create(cfn, CONDITIONAL, Parameters=[{"ParameterKey": "Env", "ParameterValue": env}])
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"] for r in resources} == created
    expected = {"Env": env}
    if env == "prod":
        expected["ProdQueue"] = physical_id(cfn, name, "ProdOnly").rsplit("/", 1)[1]
    assert outputs(cfn, name) == expected


@pytest.mark.parametrize(("slow", "delay"), [("true", "7"), ("false", "0")])
def test_fn_if_with_aws_novalue_removes_the_property(sb: Sandbox, cfn: Any, slow: str, delay: str) -> None:
    """AWS::NoValue in the taken branch of Fn::If removes the property, so the service default applies.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
    """
    body = template(
        """
        Parameters:
          Slow: {Type: String}
        Conditions:
          IsSlow: !Equals [!Ref Slow, 'true']
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              DelaySeconds: !If [IsSlow, 7, !Ref AWS::NoValue]
        """
    )
    name = create(cfn, body, Parameters=[{"ParameterKey": "Slow", "ParameterValue": slow}])
    url = physical_id(cfn, name, "Queue")
    attributes = sb.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
    assert attributes["DelaySeconds"] == delay
    created = [
        e for e in events(cfn, name) if e["LogicalResourceId"] == "Queue" and e["ResourceStatus"] == "CREATE_COMPLETE"
    ]
    assert ("DelaySeconds" in json.loads(created[0]["ResourceProperties"])) is (slow == "true")


def test_select_split_and_join_transform_strings_and_lists(cfn: Any) -> None:
    """Fn::Split makes a list, Fn::Select picks an item, Fn::Join concatenates.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-split.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-select.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-join.html
    """
    body = TOPIC_ONLY + template(
        """
        Outputs:
          Third:
            Value: !Select [2, !Split ['/', 'a/b/c/d']]
          Path:
            Value: !Join ['', ['arn:', !Ref AWS::Partition, ':s3:::', 'bucket']]
          TopicName:
            Value: !Select [5, !Split [':', !Ref Topic]]
        """
    )
    name = create(cfn, body)
    assert outputs(cfn, name) == {
        "Third": "c",
        "Path": "arn:aws:s3:::bucket",
        "TopicName": physical_id(cfn, name, "Topic").split(":")[5],
    }
    assert outputs(cfn, name)["TopicName"].startswith(f"{name}-Topic-")


def test_sub_replaces_variables_from_its_map_and_keeps_escaped_literals(cfn: Any) -> None:
    """Fn::Sub substitutes ${Name} from its variable map, parameters and resources; ${!Literal} stays literal.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-sub.html
    """
    body = TOPIC_ONLY + template(
        """
        Outputs:
          Mapped:
            Value: !Sub
              - '${App}-${AWS::Region}-${!Literal}'
              - App: web
          Attribute:
            Value: !Sub '${Topic.TopicName} in ${AWS::AccountId}'
        """
    )
    name = create(cfn, body)
    topic_name = physical_id(cfn, name, "Topic").rsplit(":", 1)[1]
    assert outputs(cfn, name) == {
        "Mapped": "web-us-east-1-${Literal}",
        "Attribute": f"{topic_name} in 123456789012",
    }


def test_getazs_lists_the_availability_zones_of_the_region(sb: Sandbox) -> None:
    """Fn::GetAZs '' returns the Availability Zones of the stack's Region, in order.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html
    """
    body = TOPIC_ONLY + template(
        """
        Outputs:
          First:
            Value: !Select [0, !GetAZs '']
          All:
            Value: !Join [',', !GetAZs '']
        """
    )
    cfn = sb.client("cloudformation", region="eu-west-1")
    zones = [
        z["ZoneName"] for z in sb.client("ec2", region="eu-west-1").describe_availability_zones()["AvailabilityZones"]
    ]
    assert outputs(cfn, create(cfn, body, "azs")) == {"First": "eu-west-1a", "All": ",".join(zones)}


def test_cidr_splits_a_block_into_subnet_ranges(cfn: Any) -> None:
    """Fn::Cidr [block, count, cidrBits] returns `count` ranges with `cidrBits` host bits each.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-cidr.html
    """
    body = TOPIC_ONLY + template(
        """
        Outputs:
          Subnets:
            Value: !Join [',', !Cidr ['10.0.0.0/16', 3, 8]]
        """
    )
    assert outputs(cfn, create(cfn, body)) == {"Subnets": "10.0.0.0/24,10.0.1.0/24,10.0.2.0/24"}


def test_base64_encodes_its_string(cfn: Any) -> None:
    """Fn::Base64 returns the Base64 representation of the string (as UserData needs).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-base64.html
    """
    body = TOPIC_ONLY + template(
        """
        Outputs:
          Data:
            Value: !Base64 "#!/bin/bash\\necho hello"
        """
    )
    assert outputs(cfn, create(cfn, body)) == {"Data": base64.b64encode(b"#!/bin/bash\necho hello").decode()}


def test_ref_and_getatt_return_what_each_resource_type_documents(sb: Sandbox, cfn: Any) -> None:
    """Ref of an SQS queue is its URL and GetAtt Arn its ARN; Ref of an SNS topic is its ARN.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html
    """
    body = template(
        """
        Resources:
          Queue:
            Type: AWS::SQS::Queue
          Topic:
            Type: AWS::SNS::Topic
        Outputs:
          QueueRef: {Value: !Ref Queue}
          QueueArn: {Value: !GetAtt Queue.Arn}
          TopicRef: {Value: !Ref Topic}
        """
    )
    name = create(cfn, body)
    out = outputs(cfn, name)
    queue_name = out["QueueRef"].rsplit("/", 1)[1]
    assert out["QueueRef"] == sb.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
    assert out["QueueArn"] == f"arn:aws:sqs:us-east-1:123456789012:{queue_name}"
    assert out["TopicRef"] in {t["TopicArn"] for t in sb.client("sns").list_topics()["Topics"]}


# -- events ------------------------------------------------------------------------------------------------
DEPENDENT = template(
    """
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties:
          Type: String
          Value: !Ref Topic
      Topic:
        Type: AWS::SNS::Topic
    """
)


def test_create_events_follow_the_dependency_order_with_aws_reasons(cfn: Any) -> None:
    """Each resource goes CREATE_IN_PROGRESS, CREATE_IN_PROGRESS 'Resource creation Initiated', CREATE_COMPLETE,
    a resource only after those it depends on; the stack starts 'User Initiated'.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-resource-configuration-complete.html
    """
    name = create(cfn, DEPENDENT)
    topic, param = physical_id(cfn, name, "Topic"), physical_id(cfn, name, "Param")
    rows = [
        (e["LogicalResourceId"], e["PhysicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, name)
    ]
    stack_id = describe(cfn, name)["StackId"]
    assert rows == [
        (name, stack_id, "CREATE_IN_PROGRESS", "User Initiated"),
        ("Topic", "", "CREATE_IN_PROGRESS", None),
        ("Topic", topic, "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Topic", topic, "CREATE_COMPLETE", None),
        ("Param", "", "CREATE_IN_PROGRESS", None),
        ("Param", param, "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Param", param, "CREATE_COMPLETE", None),
        (name, stack_id, "CREATE_COMPLETE", None),
    ]


def test_describe_stack_events_returns_the_newest_event_first(cfn: Any) -> None:
    """DescribeStackEvents lists events in reverse chronological order.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html
    """
    name = create(cfn, DEPENDENT)
    listed = cfn.describe_stack_events(StackName=name)["StackEvents"]
    assert (listed[0]["LogicalResourceId"], listed[0]["ResourceStatus"]) == (name, "CREATE_COMPLETE")
    assert (listed[-1]["LogicalResourceId"], listed[-1]["ResourceStatusReason"]) == (name, "User Initiated")
    stamps = [e["Timestamp"] for e in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_resource_event_ids_name_the_resource_status_and_time(cfn: Any) -> None:
    """A resource event's EventId is LogicalId-STATUS-timestamp, as in the API reference's sample response.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html
    """
    name = create(cfn, DEPENDENT)
    topic_events = [e for e in events(cfn, name) if e["LogicalResourceId"] == "Topic"]
    assert all(
        re.fullmatch(r"Topic-CREATE_(IN_PROGRESS|COMPLETE)-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["EventId"])
        for e in topic_events
    )
    assert len({e["EventId"] for e in events(cfn, name)}) == len(events(cfn, name))


# -- failures and rollback -------------------------------------------------------------------------------------
# A queue, then a topic whose property is misspelled. AWS::SNS::Topic is a type pre-deployment validation does
# not check, so the typo fails the topic while it is provisioned, after the queue was created.
MISSPELLED = template(
    """
    Resources:
      Queue:
        Type: AWS::SQS::Queue
      Topic:
        Type: AWS::SNS::Topic
        DependsOn: Queue
        Properties:
          TopicNmae: typo
    """
)


def queue_exists(sb: Sandbox, url: str) -> bool:
    try:
        sb.client("sqs").get_queue_attributes(QueueUrl=url)
    except ClientError as e:
        assert "NonExistentQueue" in e.response["Error"]["Code"], e.response
        return False
    return True


def created_physical_id(cfn: Any, name: str, logical_id: str) -> str:
    """The physical id a resource was created with (from its CREATE_COMPLETE event; works after deletion)."""
    for e in events(cfn, name):
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == "CREATE_COMPLETE":
            return e["PhysicalResourceId"]
    raise AssertionError(f"{logical_id} was never created")


def test_a_property_error_in_a_type_not_validated_before_deployment_fails_while_provisioning(cfn: Any) -> None:
    """Types outside pre-deployment validation have their properties checked when they are provisioned: the
    resource fails with DetailedStatus VALIDATION_FAILED and the stack rolls back.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html (VALIDATION_FAILED)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html
    """
    name = create(cfn, MISSPELLED)
    assert resource_events(cfn, name, "Topic")[:2] == [
        ("CREATE_IN_PROGRESS", None),
        (
            "CREATE_FAILED",
            "Properties validation failed for resource Topic with message:\n"
            "[#: extraneous key [TopicNmae] is not permitted]",
        ),
    ]
    failed = [e for e in events(cfn, name) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["DetailedStatus"] == "VALIDATION_FAILED"
    assert stack_events(cfn, name) == [
        ("CREATE_IN_PROGRESS", "User Initiated"),
        ("ROLLBACK_IN_PROGRESS", "Validation failed for following resources: [Topic]. Rollback requested by user."),
        ("ROLLBACK_COMPLETE", None),
    ]


def test_a_resource_whose_update_is_refused_is_put_back_by_the_rollback(cfn: Any) -> None:
    """An update a resource's handler refuses starts (UPDATE_IN_PROGRESS), fails, and the rollback updates the
    resource back, so every resource is UPDATE_COMPLETE once the stack is UPDATE_ROLLBACK_COMPLETE.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html
    """
    body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: x}\n"
    name = create(cfn, body)
    cfn.update_stack(StackName=name, TemplateBody=body.replace("DisplayName", "DisplayNmae"))
    assert [s for s, _ in resource_events(cfn, name, "Topic")][-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_FAILED",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    failed = [e for e in events(cfn, name) if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["DetailedStatus"] == "VALIDATION_FAILED"
    summary = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"][0]
    assert (status(cfn, name), summary["ResourceStatus"]) == ("UPDATE_ROLLBACK_COMPLETE", "UPDATE_COMPLETE")


def test_rollback_deletes_the_resources_already_created(sb: Sandbox, cfn: Any) -> None:
    """On rollback CloudFormation deletes every resource the failed creation made.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html
    """
    name = create(cfn, MISSPELLED)
    url = created_physical_id(cfn, name, "Queue")
    assert resource_events(cfn, name, "Queue")[-2:] == [("DELETE_IN_PROGRESS", None), ("DELETE_COMPLETE", None)]
    assert not queue_exists(sb, url)
    assert status(cfn, name) == "ROLLBACK_COMPLETE"


def test_rolled_back_stack_shows_no_reason_and_a_deletion_time(cfn: Any) -> None:
    """A ROLLBACK_COMPLETE stack keeps its failure in the events; DescribeStacks shows when its resources went.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    """
    stack = describe(cfn, create(cfn, MISSPELLED))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "StackStatusReason" not in stack
    assert stack["DeletionTime"] >= stack["CreationTime"]


@pytest.mark.parametrize("arguments", [{"OnFailure": "DO_NOTHING"}, {"DisableRollback": True}])
def test_failed_creation_without_rollback_keeps_the_created_resources(
    sb: Sandbox, cfn: Any, arguments: dict[str, Any]
) -> None:
    """OnFailure=DO_NOTHING (or DisableRollback) leaves the stack CREATE_FAILED with its resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = create(cfn, MISSPELLED, **arguments)
    stack = describe(cfn, name)
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["StackStatusReason"].startswith("Validation failed for following resources: [Topic].")
    assert stack["DisableRollback"] is True
    assert resource_events(cfn, name, "Topic")[-1][0] == "CREATE_FAILED"
    assert queue_exists(sb, physical_id(cfn, name, "Queue"))


def test_on_failure_delete_deletes_the_stack_after_rolling_back(sb: Sandbox, cfn: Any) -> None:
    """OnFailure=DELETE deletes the stack once the rollback has removed its resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = unique("ondelete")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=MISSPELLED, OnFailure="DELETE")["StackId"]
    assert_no_stack(cfn, name)
    assert status(cfn, stack_id) == "DELETE_COMPLETE"
    assert [s for s, _ in stack_events(cfn, stack_id)] == [
        "CREATE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert not queue_exists(sb, created_physical_id(cfn, stack_id, "Queue"))


# -- exports and cross-stack references ----------------------------------------------------------------------
def exporter(export: str, cidr: str = "10.10.0.0/16", exported: bool = True) -> str:
    """A VPC whose id is exported under `export` (when `exported`)."""
    body = template(
        f"""
        Resources:
          Vpc:
            Type: AWS::EC2::VPC
            Properties:
              CidrBlock: {cidr}
        Outputs:
          VpcId:
            Value: !Ref Vpc
        """
    )
    return body + (f"    Export:\n      Name: {export}\n" if exported else "")


def importer(export: str) -> str:
    """A parameter whose value is imported from `export`."""
    return template(
        f"""
        Resources:
          Imported:
            Type: AWS::SSM::Parameter
            Properties:
              Type: String
              Value: !ImportValue {export}
        """
    )


def test_list_exports_shows_each_export_with_its_value_and_stack(cfn: Any) -> None:
    """Outputs with an Export appear in ListExports with the exporting stack's id.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html
    """
    export = unique("vpc-export")
    name = create(cfn, exporter(export), "exporter")
    listed = [e for e in cfn.list_exports()["Exports"] if e["Name"] == export]
    assert listed == [
        {"ExportingStackId": describe(cfn, name)["StackId"], "Name": export, "Value": physical_id(cfn, name, "Vpc")}
    ]
    assert describe(cfn, name)["Outputs"][0]["ExportName"] == export


def test_import_value_reads_the_exported_value(sb: Sandbox, cfn: Any) -> None:
    """Fn::ImportValue returns the value another stack exported.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("vpc-export")
    vpc = physical_id(cfn, create(cfn, exporter(export), "exporter"), "Vpc")
    parameter = physical_id(cfn, create(cfn, importer(export), "importer"), "Imported")
    assert sb.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == vpc


def test_duplicate_export_name_rolls_back_the_second_stack(sb: Sandbox, cfn: Any) -> None:
    """Export names are unique per account and Region; the second stack fails and rolls back.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html
    """
    export = unique("dup-export")
    first = create(cfn, exporter(export), "exporter")
    before = vpc_ids(sb)
    second = create(cfn, exporter(export, "10.11.0.0/16"), "exporter")
    assert status(cfn, second) == "ROLLBACK_COMPLETE"
    assert stack_events(cfn, second)[1] == (
        "ROLLBACK_IN_PROGRESS",
        f"Export with name {export} is already exported by stack {first}. Rollback requested by user.",
    )
    assert vpc_ids(sb) == before  # the second stack's VPC was deleted again
    assert [e["ExportingStackId"] for e in cfn.list_exports()["Exports"] if e["Name"] == export] == [
        describe(cfn, first)["StackId"]
    ]


def test_import_of_a_missing_export_rolls_the_stack_back(cfn: Any) -> None:
    """Fn::ImportValue of a name nobody exports fails the stack, which rolls back.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("never-exported")
    name = create(cfn, importer(export), "importer")
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    assert stack_events(cfn, name)[1] == (
        "ROLLBACK_IN_PROGRESS",
        f"No export named {export} found. Rollback requested by user.",
    )


def test_exports_are_visible_only_in_their_own_account_and_region(sb: Sandbox, cfn: Any) -> None:
    """Cross-stack references work within one account and Region only.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("local-export")
    create(cfn, exporter(export), "exporter")
    for other in (sb.client("cloudformation", region="eu-west-1"), sb.client("cloudformation", account="dev")):
        assert export not in {e["Name"] for e in other.list_exports()["Exports"]}
        name = create(other, importer(export), "importer")
        assert status(other, name) == "ROLLBACK_COMPLETE"
        assert stack_events(other, name)[1][1] == f"No export named {export} found. Rollback requested by user."


def test_list_imports_names_the_importing_stacks(cfn: Any) -> None:
    """ListImports lists the stacks that import an export.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListImports.html
    """
    export = unique("shared")
    create(cfn, exporter(export), "exporter")
    users = {create(cfn, importer(export), "importer") for _ in range(2)}
    assert set(cfn.list_imports(ExportName=export)["Imports"]) == users


def test_list_imports_of_an_export_nobody_imports_is_an_error(cfn: Any) -> None:
    """ListImports of an unused export is a ValidationError, not an empty list.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListImports.html
    """
    export = unique("unused")
    create(cfn, exporter(export), "exporter")
    assert api_error(cfn.list_imports, ExportName=export) == (
        "ValidationError",
        f"Export '{export}' is not imported by any stack.",
    )


def test_delete_of_a_stack_whose_export_is_imported_returns_to_previous_status_with_reason(
    sb: Sandbox, cfn: Any
) -> None:
    """DeleteStack succeeds, but the stack cannot go while another stack imports its export.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("in-use")
    name = create(cfn, exporter(export), "exporter")
    user = create(cfn, importer(export), "importer")
    vpc = physical_id(cfn, name, "Vpc")
    cfn.delete_stack(StackName=name)
    reason = f"Export {export} cannot be deleted as it is in use by {user}"
    stack = describe(cfn, name)
    assert (stack["StackStatus"], stack["StackStatusReason"]) == ("CREATE_COMPLETE", reason)
    assert stack_events(cfn, name)[-2:] == [("DELETE_IN_PROGRESS", "User Initiated"), ("CREATE_COMPLETE", reason)]
    assert vpc in vpc_ids(sb)
    assert export in {e["Name"] for e in cfn.list_exports()["Exports"]}


def test_export_in_use_by_two_stacks_names_both_importers(cfn: Any) -> None:
    """With two importers, the reason names both, joined with 'and'.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html
    """
    export = unique("in-use")
    name = create(cfn, exporter(export), "exporter")
    first, second = create(cfn, importer(export), "importer"), create(cfn, importer(export), "importer")
    cfn.delete_stack(StackName=name)
    assert describe(cfn, name)["StackStatusReason"] in {
        f"Export {export} cannot be deleted as it is in use by {first} and {second}",
        f"Export {export} cannot be deleted as it is in use by {second} and {first}",
    }


def test_exporting_stack_can_be_deleted_once_its_importers_are_gone(sb: Sandbox, cfn: Any) -> None:
    """All imports must be removed before the exporting stack can be deleted.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("released")
    name = create(cfn, exporter(export), "exporter")
    vpc = physical_id(cfn, name, "Vpc")
    cfn.delete_stack(StackName=create(cfn, importer(export), "importer"))
    cfn.delete_stack(StackName=name)
    assert_no_stack(cfn, name)
    assert vpc not in vpc_ids(sb)
    assert export not in {e["Name"] for e in cfn.list_exports()["Exports"]}


def test_update_that_removes_an_imported_export_rolls_back(cfn: Any) -> None:
    """An update may not remove an export another stack imports: UPDATE_ROLLBACK_COMPLETE, export kept.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("kept")
    name = create(cfn, exporter(export), "exporter")
    user = create(cfn, importer(export), "importer")
    cfn.update_stack(StackName=name, TemplateBody=exporter(export, exported=False))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_events(cfn, name)[-4:] == [
        ("UPDATE_IN_PROGRESS", "User Initiated"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", f"Export {export} cannot be deleted as it is in use by {user}"),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
        ("UPDATE_ROLLBACK_COMPLETE", None),
    ]
    assert describe(cfn, name)["Outputs"][0]["ExportName"] == export


def test_update_that_changes_an_imported_export_rolls_back_and_restores_the_resources(sb: Sandbox, cfn: Any) -> None:
    """Replacing the exported VPC would change the export's value: the update rolls back, the original VPC stays
    and the replacement VPC is deleted.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-importvalue.html
    """
    export = unique("pinned")
    name = create(cfn, exporter(export), "exporter")
    user = create(cfn, importer(export), "importer")
    vpc = physical_id(cfn, name, "Vpc")
    before = vpc_ids(sb)
    cfn.update_stack(StackName=name, TemplateBody=exporter(export, cidr="10.99.0.0/16"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert ("UPDATE_ROLLBACK_IN_PROGRESS", f"Export {export} cannot be updated as it is in use by {user}") in (
        stack_events(cfn, name)
    )
    assert physical_id(cfn, name, "Vpc") == vpc
    assert vpc_ids(sb) == before
    assert outputs(cfn, name) == {"VpcId": vpc}


# -- deletion ----------------------------------------------------------------------------------------------
def ssm_parameter_exists(sb: Sandbox, name: str, account: str | None = None) -> bool:
    try:
        sb.client("ssm", account=account).get_parameter(Name=name)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ParameterNotFound", e.response
        return False
    return True


def test_delete_stack_deletes_the_resources_from_their_services(sb: Sandbox, cfn: Any) -> None:
    """Without a DeletionPolicy, deleting the stack deletes its resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
    """
    body = template(
        """
        Resources:
          Bucket:
            Type: AWS::S3::Bucket
          Param:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: v}
        """
    )
    name = create(cfn, body)
    bucket, parameter = physical_id(cfn, name, "Bucket"), physical_id(cfn, name, "Param")
    s3 = sb.client("s3")
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert ssm_parameter_exists(sb, parameter)
    cfn.delete_stack(StackName=name)
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not ssm_parameter_exists(sb, parameter)


def test_deletion_policy_retain_skips_the_delete_and_keeps_the_resource(sb: Sandbox, cfn: Any) -> None:
    """DeletionPolicy: Retain keeps the resource when the stack is deleted; its event is DELETE_SKIPPED.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
    """
    body = template(
        """
        Resources:
          Kept:
            Type: AWS::SSM::Parameter
            DeletionPolicy: Retain
            Properties: {Type: String, Value: keep-me}
          Gone:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: delete-me}
        """
    )
    name = create(cfn, body)
    stack_id = describe(cfn, name)["StackId"]
    kept, gone = physical_id(cfn, name, "Kept"), physical_id(cfn, name, "Gone")
    cfn.delete_stack(StackName=name)
    assert status(cfn, stack_id) == "DELETE_COMPLETE"
    assert resource_events(cfn, stack_id, "Kept")[-1] == ("DELETE_SKIPPED", None)
    assert resource_events(cfn, stack_id, "Gone")[-1] == ("DELETE_COMPLETE", None)
    assert ssm_parameter_exists(sb, kept)
    assert not ssm_parameter_exists(sb, gone)


def test_update_replace_policy_retain_keeps_the_replaced_resource(sb: Sandbox, cfn: Any) -> None:
    """UpdateReplacePolicy: Retain keeps the old physical resource when an update replaces it.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
    """

    def body(cidr: str) -> str:
        return template(
            f"""
            Resources:
              Vpc:
                Type: AWS::EC2::VPC
                UpdateReplacePolicy: Retain
                Properties: {{CidrBlock: {cidr}}}
            """
        )

    name = create(cfn, body("10.20.0.0/16"))
    old = physical_id(cfn, name, "Vpc")
    cfn.update_stack(StackName=name, TemplateBody=body("10.21.0.0/16"))
    new = physical_id(cfn, name, "Vpc")
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert new != old
    assert {old, new} <= vpc_ids(sb)
    skipped = [e for e in events(cfn, name) if e["ResourceStatus"] == "DELETE_SKIPPED"]
    assert [(e["LogicalResourceId"], e["PhysicalResourceId"]) for e in skipped] == [("Vpc", old)]


def test_resource_removed_from_the_template_is_deleted_during_cleanup(sb: Sandbox, cfn: Any) -> None:
    """An update that drops a resource deletes it after the update, in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    """
    body = template(
        """
        Resources:
          Topic:
            Type: AWS::SNS::Topic
          Param:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: v}
        """
    )
    name = create(cfn, body)
    parameter = physical_id(cfn, name, "Param")
    cfn.update_stack(StackName=name, TemplateBody=TOPIC_ONLY)
    rows = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events(cfn, name)]
    cleanup = rows.index((name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
    assert rows[cleanup:] == [
        (name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("Param", "DELETE_IN_PROGRESS"),
        ("Param", "DELETE_COMPLETE"),
        (name, "UPDATE_COMPLETE"),
    ]
    assert not ssm_parameter_exists(sb, parameter)
    assert [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]] == [
        "Topic"
    ]


def test_delete_stack_of_a_stack_that_does_not_exist_succeeds(cfn: Any) -> None:
    """DeleteStack answers success for a name that is not (or no longer) a stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    response = cfn.delete_stack(StackName=unique("never-created"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_termination_protection_refuses_delete_stack_and_leaves_the_stack_unchanged(cfn: Any) -> None:
    """With termination protection enabled, DeleteStack fails and the stack, status included, is unchanged.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
    """
    name = create(cfn, TOPIC_ONLY)
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)
    assert describe(cfn, name)["EnableTerminationProtection"] is True
    history = events(cfn, name)
    assert api_error(cfn.delete_stack, StackName=name) == (
        "ValidationError",
        f"Stack [{name}] cannot be deleted while TerminationProtection is enabled",
    )
    assert (status(cfn, name), events(cfn, name)) == ("CREATE_COMPLETE", history)
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=name)
    assert_no_stack(cfn, name)


def test_termination_protection_can_be_enabled_at_creation(cfn: Any) -> None:
    """EnableTerminationProtection on CreateStack protects the stack from the start.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = create(cfn, TOPIC_ONLY, EnableTerminationProtection=True)
    assert api_error(cfn.delete_stack, StackName=name)[1].endswith(
        "cannot be deleted while TerminationProtection is enabled"
    )


# -- updates -----------------------------------------------------------------------------------------------
def parameter_body(value: str) -> str:
    return template(
        f"""
        Resources:
          Param:
            Type: AWS::SSM::Parameter
            Properties: {{Type: String, Value: {value}}}
        """
    )


def test_update_without_changes_is_refused(cfn: Any) -> None:
    """An update that changes nothing is rejected.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    """
    name = create(cfn, parameter_body("same"))
    assert api_error(cfn.update_stack, StackName=name, TemplateBody=parameter_body("same")) == (
        "ValidationError",
        "No updates are to be performed.",
    )
    assert status(cfn, name) == "CREATE_COMPLETE"


def test_update_of_a_mutable_property_keeps_the_physical_resource(sb: Sandbox, cfn: Any) -> None:
    """'Update with no interruption': the resource keeps its physical id and takes the new value.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    """
    name = create(cfn, parameter_body("before"))
    parameter = physical_id(cfn, name, "Param")
    cfn.update_stack(StackName=name, TemplateBody=parameter_body("after"))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert physical_id(cfn, name, "Param") == parameter
    assert sb.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == "after"
    assert resource_events(cfn, name, "Param")[-2:] == [("UPDATE_IN_PROGRESS", None), ("UPDATE_COMPLETE", None)]
    assert [s for s, _ in stack_events(cfn, name)][-3:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]


def test_update_of_a_create_only_property_replaces_the_resource(sb: Sandbox, cfn: Any) -> None:
    """'Replacement': a new physical resource is created, the old one deleted during cleanup.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    """
    name = create(cfn, exporter("unused", cidr="10.30.0.0/16", exported=False))
    old = physical_id(cfn, name, "Vpc")
    cfn.update_stack(StackName=name, TemplateBody=exporter("unused", cidr="10.31.0.0/16", exported=False))
    new = physical_id(cfn, name, "Vpc")
    assert new != old
    assert new in vpc_ids(sb) and old not in vpc_ids(sb)
    assert outputs(cfn, name) == {"VpcId": new}
    rows = [
        (e["LogicalResourceId"], e["PhysicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, name)
    ]
    update = rows.index((name, describe(cfn, name)["StackId"], "UPDATE_IN_PROGRESS", "User Initiated"))
    assert rows[update + 1 :] == [
        (
            "Vpc",
            old,
            "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one.",
        ),
        ("Vpc", new, "UPDATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Vpc", new, "UPDATE_COMPLETE", None),
        (name, describe(cfn, name)["StackId"], "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
        ("Vpc", old, "DELETE_IN_PROGRESS", None),
        ("Vpc", old, "DELETE_COMPLETE", None),
        (name, describe(cfn, name)["StackId"], "UPDATE_COMPLETE", None),
    ]


def test_custom_named_resource_that_needs_replacement_fails_the_update(sb: Sandbox, cfn: Any) -> None:
    """A resource with a custom name cannot be replaced: UPDATE_FAILED, then UPDATE_ROLLBACK_COMPLETE.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html
    """
    group = unique("web-sg")

    def body(description: str) -> str:
        return template(
            f"""
            Resources:
              Group:
                Type: AWS::EC2::SecurityGroup
                Properties:
                  GroupName: {group}
                  GroupDescription: {description}
            """
        )

    name = create(cfn, body("first"))
    group_id = physical_id(cfn, name, "Group")
    cfn.update_stack(StackName=name, TemplateBody=body("second"))
    assert resource_events(cfn, name, "Group")[-1] == (
        "UPDATE_FAILED",
        f"CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        f"Rename {group} and update the stack again.",
    )
    assert stack_events(cfn, name)[-4:] == [
        ("UPDATE_IN_PROGRESS", "User Initiated"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [Group]. "),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
        ("UPDATE_ROLLBACK_COMPLETE", None),
    ]
    assert physical_id(cfn, name, "Group") == group_id
    groups = sb.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert groups[0]["Description"] == "first"


def test_update_of_a_stack_in_rollback_complete_is_refused(cfn: Any) -> None:
    """A ROLLBACK_COMPLETE stack can only be deleted; UpdateStack names its full stack id.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
    """
    name = create(cfn, MISSPELLED)
    stack_id = describe(cfn, name)["StackId"]
    assert api_error(cfn.update_stack, StackName=name, TemplateBody=TOPIC_ONLY) == (
        "ValidationError",
        f"Stack:{stack_id} is in ROLLBACK_COMPLETE state and can not be updated.",
    )


PARAMETERISED = template(
    """
    Parameters:
      Value: {Type: String}
      Other: {Type: String, Default: one}
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties: {Type: String, Value: !Sub '${Value}/${Other}'}
    """
)


def test_use_previous_value_keeps_a_parameter_through_an_update(sb: Sandbox, cfn: Any) -> None:
    """UsePreviousValue keeps the value the stack already has.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html
    """
    name = create(cfn, PARAMETERISED, Parameters=[{"ParameterKey": "Value", "ParameterValue": "kept"}])
    cfn.update_stack(
        StackName=name,
        TemplateBody=PARAMETERISED,
        Parameters=[
            {"ParameterKey": "Value", "UsePreviousValue": True},
            {"ParameterKey": "Other", "ParameterValue": "two"},
        ],
    )
    assert describe(cfn, name)["Parameters"] == [
        {"ParameterKey": "Value", "ParameterValue": "kept"},
        {"ParameterKey": "Other", "ParameterValue": "two"},
    ]
    assert sb.client("ssm").get_parameter(Name=physical_id(cfn, name, "Param"))["Parameter"]["Value"] == "kept/two"


def test_use_previous_template_updates_only_the_parameters(sb: Sandbox, cfn: Any) -> None:
    """UsePreviousTemplate reuses the stack's template with the new parameter values.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    """
    name = create(cfn, PARAMETERISED, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v1"}])
    cfn.update_stack(
        StackName=name, UsePreviousTemplate=True, Parameters=[{"ParameterKey": "Value", "ParameterValue": "v2"}]
    )
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert cfn.get_template(StackName=name)["TemplateBody"] == PARAMETERISED
    assert sb.client("ssm").get_parameter(Name=physical_id(cfn, name, "Param"))["Parameter"]["Value"] == "v2/one"


# -- deleted stacks --------------------------------------------------------------------------------------------
def test_deleted_stack_is_found_by_its_stack_id_but_not_by_its_name(cfn: Any) -> None:
    """Running stacks are found by name or id; deleted stacks only by their unique stack id.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    """
    name = create(cfn, TOPIC_ONLY)
    stack_id = describe(cfn, name)["StackId"]
    cfn.delete_stack(StackName=name)
    assert_no_stack(cfn, name)
    deleted = describe(cfn, stack_id)
    assert (deleted["StackName"], deleted["StackStatus"]) == (name, "DELETE_COMPLETE")
    assert "DeletionTime" in deleted
    assert name not in {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}


def test_list_stacks_includes_deleted_stacks(cfn: Any) -> None:
    """ListStacks returns deleted stacks too (for 90 days), filterable by status.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStacks.html
    """
    name = create(cfn, TOPIC_ONLY)
    stack_id = describe(cfn, name)["StackId"]
    cfn.delete_stack(StackName=name)
    deleted = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert [(s["StackName"], s["StackStatus"]) for s in deleted if s["StackId"] == stack_id] == [
        (name, "DELETE_COMPLETE")
    ]
    live = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert stack_id not in {s["StackId"] for s in live}


def test_stack_name_can_be_reused_after_the_stack_is_deleted(cfn: Any) -> None:
    """A new stack may take a deleted stack's name; it gets a new stack id.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = create(cfn, TOPIC_ONLY)
    first = describe(cfn, name)["StackId"]
    cfn.delete_stack(StackName=name)
    second = cfn.create_stack(StackName=name, TemplateBody=TOPIC_ONLY)["StackId"]
    assert second != first
    assert describe(cfn, name)["StackId"] == second
    assert status(cfn, first) == "DELETE_COMPLETE"


def test_describe_stack_events_of_an_unknown_stack_is_an_error(cfn: Any) -> None:
    """DescribeStackEvents of a stack that does not exist is a ValidationError.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html
    """
    name = unique("ghost")
    assert api_error(cfn.describe_stack_events, StackName=name) == ("ValidationError", f"Stack [{name}] does not exist")


# -- capabilities -------------------------------------------------------------------------------------------
ROLE = template(
    """
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Principal: {Service: ec2.amazonaws.com}
                Action: sts:AssumeRole
    """
)


def named_role(role_name: str) -> str:
    return ROLE + f"      RoleName: {role_name}\n"


def test_iam_resource_without_capability_iam_is_refused(cfn: Any) -> None:
    """A template with IAM resources needs CAPABILITY_IAM.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = unique("iam")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=ROLE) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_IAM]",
    )
    assert_no_stack(cfn, name)


def test_named_iam_resource_needs_capability_named_iam(cfn: Any) -> None:
    """An IAM resource with a custom name needs CAPABILITY_NAMED_IAM; CAPABILITY_IAM is not enough.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    assert api_error(
        cfn.create_stack,
        StackName=unique("iam"),
        TemplateBody=named_role(unique("course-role")),
        Capabilities=["CAPABILITY_IAM"],
    ) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")


@pytest.mark.parametrize("capability", ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
def test_acknowledged_iam_template_creates_the_role(sb: Sandbox, cfn: Any, capability: str) -> None:
    """With the capability acknowledged, the role is created in IAM under a generated name.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = create(cfn, ROLE, "iam", Capabilities=[capability])
    role = physical_id(cfn, name, "Role")
    assert role.startswith(f"{name}-Role-")
    assert sb.client("iam").get_role(RoleName=role)["Role"]["RoleName"] == role
    assert describe(cfn, name)["Capabilities"] == [capability]


def test_validate_template_reports_the_capabilities_and_why(cfn: Any) -> None:
    """ValidateTemplate lists the capabilities a template needs and the resource types that need them.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
    """
    plain = cfn.validate_template(TemplateBody=ROLE)
    assert (plain["Capabilities"], plain["CapabilitiesReason"]) == (
        ["CAPABILITY_IAM"],
        "The following resource(s) require capabilities: [AWS::IAM::Role]",
    )
    named = cfn.validate_template(TemplateBody=named_role("course-role"))
    assert named["Capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_validate_template_without_iam_resources_reports_no_capabilities(cfn: Any) -> None:
    """A template without IAM resources needs no capabilities: an empty list and no reason.

    https://docs.aws.amazon.com/code-library/latest/ug/cloudformation_example_cloudformation_ValidateTemplate_section.html
    """
    result = cfn.validate_template(TemplateBody=TOPIC_ONLY)
    assert (result["Parameters"], result["Capabilities"], "CapabilitiesReason" in result) == ([], [], False)


# -- stack names and physical names ---------------------------------------------------------------------------
def test_existing_stack_name_is_refused_with_already_exists(cfn: Any) -> None:
    """Stack names are unique among the live stacks of an account and Region.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    name = create(cfn, TOPIC_ONLY)
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=TOPIC_ONLY) == (
        "AlreadyExistsException",
        f"Stack [{name}] already exists",
    )


@pytest.mark.parametrize("name", ["1st-stack", "my_stack", "x" * 129])
def test_invalid_stack_name_is_refused(cfn: Any, name: str) -> None:
    """A stack name starts with a letter, holds only letters, digits and hyphens, and has at most 128 characters.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    code, message = api_error(cfn.create_stack, StackName=name, TemplateBody=TOPIC_ONLY)
    assert code == "ValidationError"
    assert message.startswith(
        f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint"
    )


def test_resources_without_a_name_get_a_generated_physical_name(sb: Sandbox, cfn: Any) -> None:
    """CloudFormation names unnamed resources stackName-LogicalId-SUFFIX (S3 in lower case, SSM with a CFN- prefix).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html
    """
    body = template(
        """
        Resources:
          Queue:
            Type: AWS::SQS::Queue
          Bucket:
            Type: AWS::S3::Bucket
          Param:
            Type: AWS::SSM::Parameter
            Properties: {Type: String, Value: v}
        """
    )
    name = create(cfn, body, "Names")
    queue = physical_id(cfn, name, "Queue").rsplit("/", 1)[1]
    bucket, parameter = physical_id(cfn, name, "Bucket"), physical_id(cfn, name, "Param")
    assert re.fullmatch(rf"{name}-Queue-[0-9A-Z]{{12,13}}", queue), queue
    assert re.fullmatch(rf"{name.lower()}-bucket-[0-9a-z]{{12,13}}", bucket), bucket
    assert re.fullmatch(r"CFN-Param-[0-9A-Za-z]{12}", parameter), parameter
    assert sb.client("sqs").get_queue_url(QueueName=queue)
    sb.client("s3").head_bucket(Bucket=bucket)
    assert ssm_parameter_exists(sb, parameter)


# -- describing stacks, resources and templates -------------------------------------------------------------------
def test_stack_resources_are_described_with_their_physical_ids_and_statuses(cfn: Any) -> None:
    """ListStackResources, DescribeStackResources and DescribeStackResource agree on a stack's resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResources.html
    """
    name = create(cfn, DEPENDENT)
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {(r["LogicalResourceId"], r["ResourceType"], r["ResourceStatus"]) for r in summaries} == {
        ("Topic", "AWS::SNS::Topic", "CREATE_COMPLETE"),
        ("Param", "AWS::SSM::Parameter", "CREATE_COMPLETE"),
    }
    described = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in described} == {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries
    }
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Topic")["StackResourceDetail"]
    assert (detail["StackName"], detail["ResourceType"]) == (name, "AWS::SNS::Topic")
    assert detail["PhysicalResourceId"].startswith(f"arn:aws:sns:us-east-1:123456789012:{name}-Topic-")


def test_describe_stack_resources_by_physical_id_finds_the_stack(cfn: Any) -> None:
    """Given only a PhysicalResourceId, DescribeStackResources finds the stack that owns the resource.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResources.html
    """
    name = create(cfn, DEPENDENT)
    topic = physical_id(cfn, name, "Topic")
    found = cfn.describe_stack_resources(PhysicalResourceId=topic)["StackResources"]
    assert {r["StackName"] for r in found} == {name}
    assert {r["LogicalResourceId"] for r in found} == {"Topic", "Param"}


def test_describe_stack_resource_of_an_unknown_logical_id_is_an_error(cfn: Any) -> None:
    """DescribeStackResource needs a logical id of the stack's template.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResource.html
    """
    name = create(cfn, TOPIC_ONLY)
    assert api_error(cfn.describe_stack_resource, StackName=name, LogicalResourceId="Queue") == (
        "ValidationError",
        f"Resource Queue does not exist for stack {name}",
    )


def test_get_template_returns_the_yaml_body_as_submitted(cfn: Any) -> None:
    """GetTemplate returns the template as it was given, YAML comments included.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html
    """
    body = "# the course's smallest template\n" + TOPIC_ONLY
    name = create(cfn, body)
    assert cfn.get_template(StackName=name)["TemplateBody"] == body


def test_get_template_summary_describes_parameters_resource_types_and_capabilities(cfn: Any) -> None:
    """GetTemplateSummary reads a template (or a stack's) without creating anything.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplateSummary.html
    """
    body = ROLE + template(
        """
        AWSTemplateFormatVersion: '2010-09-09'
        Description: summary test
        Parameters:
          Env:
            Type: String
            Default: dev
            AllowedValues: [dev, prod]
            Description: where it runs
        """
    )
    summary = cfn.get_template_summary(TemplateBody=body)
    assert summary["Parameters"] == [
        {
            "ParameterKey": "Env",
            "DefaultValue": "dev",
            "ParameterType": "String",
            "NoEcho": False,
            "Description": "where it runs",
            "ParameterConstraints": {"AllowedValues": ["dev", "prod"]},
        }
    ]
    assert (summary["ResourceTypes"], summary["Description"], summary["Version"]) == (
        ["AWS::IAM::Role"],
        "summary test",
        "2010-09-09",
    )
    assert summary["Capabilities"] == ["CAPABILITY_IAM"]
    name = create(cfn, DEPENDENT)
    assert cfn.get_template_summary(StackName=name)["ResourceTypes"] == ["AWS::SNS::Topic", "AWS::SSM::Parameter"]


def test_validate_template_lists_the_parameters(cfn: Any) -> None:
    """ValidateTemplate returns each parameter's key, default, NoEcho and description.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html
    """
    body = template(
        """
        Description: validate test
        Parameters:
          Password:
            Type: String
            NoEcho: true
            Description: the database password
          Size:
            Type: Number
            Default: 3
        Resources:
          Topic:
            Type: AWS::SNS::Topic
        """
    )
    result = cfn.validate_template(TemplateBody=body)
    assert result["Description"] == "validate test"
    assert result["Parameters"] == [
        {"ParameterKey": "Password", "NoEcho": True, "Description": "the database password"},
        {"ParameterKey": "Size", "DefaultValue": "3", "NoEcho": False},
    ]


def test_template_url_reads_the_template_from_s3(sb: Sandbox, cfn: Any) -> None:
    """TemplateURL points to a template stored in an S3 bucket.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    s3 = sb.client("s3")
    bucket = unique("course-templates")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="topic.yaml", Body=TOPIC_ONLY.encode())
    name = unique("from-url")
    cfn.create_stack(StackName=name, TemplateURL=f"https://{bucket}.s3.amazonaws.com/topic.yaml")
    assert status(cfn, name) == "CREATE_COMPLETE"
    assert cfn.get_template(StackName=name)["TemplateBody"] == TOPIC_ONLY


# -- more lifecycle: failed deletes, capabilities on update, stack policies, tags ----------------------------------
BUCKET_ONLY = template(
    """
    Resources:
      Bucket:
        Type: AWS::S3::Bucket
      Topic:
        Type: AWS::SNS::Topic
    """
)


def test_bucket_that_still_holds_objects_fails_to_delete(sb: Sandbox, cfn: Any) -> None:
    """S3 refuses to delete a non-empty bucket, so DeleteStack ends DELETE_FAILED and the bucket stays.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
    """
    name = create(cfn, BUCKET_ONLY)
    bucket = physical_id(cfn, name, "Bucket")
    sb.client("s3").put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    cfn.delete_stack(StackName=name)
    stack = describe(cfn, name)
    assert (stack["StackStatus"], stack["StackStatusReason"]) == (
        "DELETE_FAILED",
        "The following resource(s) failed to delete: [Bucket]. ",
    )
    status_, reason = resource_events(cfn, name, "Bucket")[-1]
    assert status_ == "DELETE_FAILED"
    assert reason is not None and reason.startswith("The bucket you tried to delete is not empty")
    assert resource_events(cfn, name, "Topic")[-1] == ("DELETE_COMPLETE", None)
    sb.client("s3").head_bucket(Bucket=bucket)


def test_retain_resources_deletes_a_delete_failed_stack_and_keeps_the_resource(sb: Sandbox, cfn: Any) -> None:
    """For a DELETE_FAILED stack, RetainResources lets DeleteStack finish while keeping those resources.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    name = create(cfn, BUCKET_ONLY)
    stack_id = describe(cfn, name)["StackId"]
    bucket = physical_id(cfn, name, "Bucket")
    sb.client("s3").put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    cfn.delete_stack(StackName=name)
    assert status(cfn, name) == "DELETE_FAILED"
    cfn.delete_stack(StackName=name, RetainResources=["Bucket"])
    assert status(cfn, stack_id) == "DELETE_COMPLETE"
    assert resource_events(cfn, stack_id, "Bucket")[-1] == ("DELETE_SKIPPED", None)
    sb.client("s3").head_bucket(Bucket=bucket)


def test_retain_resources_is_refused_unless_the_stack_is_delete_failed(cfn: Any) -> None:
    """RetainResources applies only to stacks in the DELETE_FAILED state.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    name = create(cfn, BUCKET_ONLY)
    code, message = api_error(cfn.delete_stack, StackName=name, RetainResources=["Bucket"])
    assert code == "ValidationError"
    assert "RetainResources can only be specified when the stack is in the DELETE_FAILED state" in message
    assert status(cfn, name) == "CREATE_COMPLETE"


def test_delete_stack_deletes_resources_in_reverse_dependency_order(cfn: Any) -> None:
    """A resource is deleted before the resources it depends on.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html
    """
    name = create(cfn, DEPENDENT)
    stack_id = describe(cfn, name)["StackId"]
    cfn.delete_stack(StackName=name)
    deleting = [e["LogicalResourceId"] for e in events(cfn, stack_id) if e["ResourceStatus"] == "DELETE_IN_PROGRESS"]
    assert deleting == [name, "Param", "Topic"]
    assert stack_events(cfn, stack_id)[-2:] == [("DELETE_IN_PROGRESS", "User Initiated"), ("DELETE_COMPLETE", None)]


def test_update_must_acknowledge_the_capabilities_again(cfn: Any) -> None:
    """Capabilities are acknowledged per request: an update of an IAM stack needs CAPABILITY_IAM again.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    """
    name = create(cfn, ROLE, "iam", Capabilities=["CAPABILITY_IAM"])
    changed = ROLE + "      Path: /course/\n"
    assert api_error(cfn.update_stack, StackName=name, TemplateBody=changed) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_IAM]",
    )
    cfn.update_stack(StackName=name, TemplateBody=changed, Capabilities=["CAPABILITY_IAM"])
    assert status(cfn, name) == "UPDATE_COMPLETE"


def test_template_with_a_transform_requires_capability_auto_expand(cfn: Any) -> None:
    """Creating a stack directly from a template with a transform needs CAPABILITY_AUTO_EXPAND.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    body = "Transform: AWS::Serverless-2016-10-31\n" + TOPIC_ONLY
    name = unique("sam")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]",
    )
    assert_no_stack(cfn, name)


def test_the_sandbox_refuses_transforms_plainly_instead_of_half_running_them(cfn: Any) -> None:
    """The sandbox does not expand transforms; acknowledged ones are refused with a plain sandbox message.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-section-structure.html
    """
    body = "Transform: AWS::Serverless-2016-10-31\n" + TOPIC_ONLY
    name = unique("sam")
    code, message = api_error(
        cfn.create_stack, StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_AUTO_EXPAND"]
    )
    assert code == "SandboxNotSupported" and "does not expand transforms" in message
    assert_no_stack(cfn, name)


def test_failed_update_restores_updated_resources_and_deletes_new_ones(sb: Sandbox, cfn: Any) -> None:
    """On update rollback, updated resources get their old configuration back and added ones are deleted.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html
    """
    group = unique("app-sg")

    def body(value: str, description: str, extra: bool) -> str:
        added = "  Added:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: new}\n"
        return (
            template(
                f"""
                Resources:
                  Setting:
                    Type: AWS::SSM::Parameter
                    Properties: {{Type: String, Value: {value}}}
                """
            )
            + (added if extra else "")
            + f"  Group:\n    Type: AWS::EC2::SecurityGroup\n"
            f"    Properties: {{GroupName: {group}, GroupDescription: {description}}}\n"
        )

    name = create(cfn, body("v1", "first", extra=False))
    setting = physical_id(cfn, name, "Setting")
    cfn.update_stack(StackName=name, TemplateBody=body("v2", "second", extra=True))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert sb.client("ssm").get_parameter(Name=setting)["Parameter"]["Value"] == "v1"
    added = created_physical_id(cfn, name, "Added")
    assert not ssm_parameter_exists(sb, added)
    assert resource_events(cfn, name, "Added")[-2:] == [("DELETE_IN_PROGRESS", None), ("DELETE_COMPLETE", None)]
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"] for r in resources} == {"Setting", "Group"}
    assert cfn.get_template(StackName=name)["TemplateBody"] == body("v1", "first", extra=False)


def test_update_of_a_stack_that_does_not_exist_is_an_error(cfn: Any) -> None:
    """UpdateStack needs an existing stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    """
    name = unique("ghost")
    assert api_error(cfn.update_stack, StackName=name, TemplateBody=TOPIC_ONLY) == (
        "ValidationError",
        f"Stack [{name}] does not exist",
    )


PROTECTING = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "Update:*", "Principal": "*", "Resource": "LogicalResourceId/Param"},
        ]
    }
)


def test_stack_policy_is_stored_and_returned(cfn: Any) -> None:
    """SetStackPolicy stores the policy; GetStackPolicy returns it.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    name = create(cfn, parameter_body("guarded"))
    assert "StackPolicyBody" not in cfn.get_stack_policy(StackName=name)
    cfn.set_stack_policy(StackName=name, StackPolicyBody=PROTECTING)
    assert json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"]) == json.loads(PROTECTING)


def test_stack_policy_denies_the_update_of_a_protected_resource(sb: Sandbox, cfn: Any) -> None:
    """After a stack policy is set, an update of a resource it denies fails and rolls back.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html
    """
    name = create(cfn, parameter_body("guarded"), StackPolicyBody=PROTECTING)
    parameter = physical_id(cfn, name, "Param")
    cfn.update_stack(StackName=name, TemplateBody=parameter_body("changed"))
    assert status(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert sb.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == "guarded"


def test_stack_tags_are_returned_by_describe_stacks(cfn: Any) -> None:
    """Tags given to CreateStack are the stack's tags.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "cost-center", "Value": "42"}]
    assert describe(cfn, create(cfn, TOPIC_ONLY, Tags=tags))["Tags"] == tags


@pytest.mark.xfail(strict=True, reason="the engine does not propagate stack tags or the aws:cloudformation:* tags")
def test_stack_tags_and_aws_cloudformation_tags_reach_the_resources(sb: Sandbox, cfn: Any) -> None:
    """CloudFormation tags supporting resources with the stack's tags and aws:cloudformation:stack-name and friends.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html
    """
    name = create(cfn, BUCKET_ONLY, Tags=[{"Key": "team", "Value": "platform"}])
    tag_set = sb.client("s3").get_bucket_tagging(Bucket=physical_id(cfn, name, "Bucket"))["TagSet"]
    tags = {t["Key"]: t["Value"] for t in tag_set}
    assert tags["team"] == "platform"
    assert tags["aws:cloudformation:stack-name"] == name
    assert tags["aws:cloudformation:logical-id"] == "Bucket"
    assert tags["aws:cloudformation:stack-id"] == describe(cfn, name)["StackId"]


def test_resource_type_the_sandbox_cannot_emulate_fails_with_a_plain_reason(cfn: Any) -> None:
    """A real type that moto does not model fails with a reason saying so, never a fake success.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-placementgroup.html
    """
    body = template(
        """
        Resources:
          Placement:
            Type: AWS::EC2::PlacementGroup
            Properties:
              Strategy: cluster
        """
    )
    name = create(cfn, body)
    status_, reason = resource_events(cfn, name, "Placement")[1]
    assert status_ == "CREATE_FAILED"
    assert reason is not None and reason.startswith("The course sandbox cannot create AWS::EC2::PlacementGroup")
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
