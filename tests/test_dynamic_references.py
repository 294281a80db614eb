"""Dynamic references ({{resolve:ssm|ssm-secure|secretsmanager:...}}) as CloudFormation resolves them.

Each test proves one AWS behaviour and cites the documentation it rests on. Messages the documentation does
not print come from AWS's own output, recorded against real stacks in cdktn-io/terraform-provider-cfncompat
(RFCs/dynamic-ssm/live-test-results.md, "T<n>" below) and in the GitHub issues cited by the tests.

The module shares one sandbox; every test uses stack, parameter and secret names of its own.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from typing import Any

import pytest
from aws_errors import api_error

from labs_support.sandbox import Sandbox

# moto has no botocore error shape for the sandbox's own SandboxNotSupported code and warns when it sends one
pytestmark = pytest.mark.filterwarnings(r"ignore:Exception\(SandboxNotSupported\):UserWarning")

PUBLIC_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"
_names = itertools.count(1)


# -- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    """A stack, parameter or secret name that no other test uses."""
    return f"{prefix}-{next(_names)}"


def template(text: str) -> str:
    """A YAML template body written indented inside a test."""
    return textwrap.dedent(text).strip() + "\n"


def parameter_template(value: str, name: str) -> str:
    """A stack with one SSM parameter whose Value is `value` (quoted as YAML)."""
    return template(
        f"""
        Resources:
          Target:
            Type: AWS::SSM::Parameter
            Properties:
              Name: {name}
              Type: String
              Value: {json.dumps(value)}
        """
    )


@pytest.fixture(scope="module")
def ssm(sb: Sandbox) -> Any:
    return sb.client("ssm")


@pytest.fixture(scope="module")
def secrets(sb: Sandbox) -> Any:
    return sb.client("secretsmanager")


def create(cfn: Any, body: str, **kwargs: Any) -> str:
    """Create a stack under a fresh name and return the name (the engine finishes before returning)."""
    name = unique("dynref")
    cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
    return name


def status(cfn: Any, name: str) -> str:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The stack's events, oldest first (DescribeStackEvents returns newest first)."""
    return list(reversed(cfn.describe_stack_events(StackName=name)["StackEvents"]))


def resource_events(cfn: Any, name: str, logical_id: str) -> list[tuple[str, str | None]]:
    """(status, reason) of one resource's events, oldest first."""
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in events(cfn, name)
        if e["LogicalResourceId"] == logical_id and e["ResourceType"] != "AWS::CloudFormation::Stack"
    ]


def failure_reason(cfn: Any, name: str, logical_id: str) -> str:
    """The reason of a resource's CREATE_FAILED event."""
    reasons = [reason for state, reason in resource_events(cfn, name, logical_id) if state == "CREATE_FAILED"]
    assert reasons, resource_events(cfn, name, logical_id)
    return str(reasons[0])


def physical_id(cfn: Any, name: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def assert_no_stack(cfn: Any, name: str) -> None:
    """A rejected request leaves no stack behind."""
    assert api_error(cfn.describe_stacks, StackName=name) == ("ValidationError", f"Stack with id {name} does not exist")


def parameter_value(ssm: Any, name: str) -> str:
    return ssm.get_parameter(Name=name)["Parameter"]["Value"]


def parameter_exists(ssm: Any, name: str) -> bool:
    return bool(ssm.get_parameters(Names=[name])["Parameters"])


def everything_cloudformation_says(cfn: Any, name: str) -> str:
    """Every describe answer about a stack, as one text to search."""
    answers = [
        cfn.describe_stacks(StackName=name),
        cfn.describe_stack_events(StackName=name),
        cfn.describe_stack_resources(StackName=name),
        cfn.list_stack_resources(StackName=name),
        cfn.get_template(StackName=name),
        cfn.get_template_summary(StackName=name),
    ]
    return json.dumps(answers, default=str)


def put_parameter(ssm: Any, value: str, kind: str = "String") -> str:
    """A new Parameter Store parameter holding `value`; returns its name."""
    name = f"/course/{unique('param')}"
    ssm.put_parameter(Name=name, Value=value, Type=kind)
    return name


# -- ssm -------------------------------------------------------------------------------------------------
def test_ssm_dynamic_reference_resolves_the_latest_version_when_no_version_is_given(cfn: Any, ssm: Any) -> None:
    """Without a version, CloudFormation uses the latest version of the parameter.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "blue")
    ssm.put_parameter(Name=source, Value="green", Type="String", Overwrite=True)
    target = f"/course/{unique('target')}"
    name = create(cfn, parameter_template(f"{{{{resolve:ssm:{source}}}}}", target))
    assert status(cfn, name) == "CREATE_COMPLETE"
    assert parameter_value(ssm, target) == "green"


def test_ssm_dynamic_reference_with_a_version_resolves_that_version(cfn: Any, ssm: Any) -> None:
    """{{resolve:ssm:parameter-name:version}} uses exactly that version, not the latest.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "first")
    ssm.put_parameter(Name=source, Value="second", Type="String", Overwrite=True)
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:ssm:{source}:1}}}}", target))
    assert parameter_value(ssm, target) == "first"


def test_ssm_dynamic_reference_reads_a_string_list_as_its_comma_separated_text(cfn: Any, ssm: Any) -> None:
    """A StringList parameter resolves to its stored comma-separated text, spaces kept (T6e).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "a,b, c ,d", kind="StringList")
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:ssm:{source}}}}}", target))
    assert parameter_value(ssm, target) == "a,b, c ,d"


def test_ssm_dynamic_reference_reads_a_public_parameter(cfn: Any, ssm: Any) -> None:
    """Public parameters such as the latest Amazon Linux AMI id resolve like the account's own (T10).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:ssm:{PUBLIC_AMI_PARAMETER}}}}}", target))
    latest = parameter_value(ssm, PUBLIC_AMI_PARAMETER)
    assert latest.startswith("ami-")
    assert parameter_value(ssm, target) == latest


def test_stack_update_fetches_the_latest_version_of_an_unversioned_ssm_reference(cfn: Any, ssm: Any) -> None:
    """After the parameter changes, a stack update resolves the reference again and updates the resource (T6b).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "before")
    target = f"/course/{unique('target')}"
    body = parameter_template(f"{{{{resolve:ssm:{source}}}}}", target)
    name = create(cfn, body)
    ssm.put_parameter(Name=source, Value="after", Type="String", Overwrite=True)
    cfn.update_stack(StackName=name, TemplateBody=body + "  Extra:\n    Type: AWS::SNS::Topic\n")
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert parameter_value(ssm, target) == "after"


def test_dynamic_references_inside_a_longer_string_are_each_replaced(cfn: Any, ssm: Any) -> None:
    """A reference can sit inside a longer string, and one string can hold several (T7c, T7d).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html
    """
    first, second = put_parameter(ssm, "one"), put_parameter(ssm, "two")
    target = f"/course/{unique('target')}"
    value = f"prefix-{{{{resolve:ssm:{first}}}}}-{{{{resolve:ssm:{second}}}}}-suffix"
    create(cfn, parameter_template(value, target))
    assert parameter_value(ssm, target) == "prefix-one-two-suffix"


def test_dynamic_references_in_lists_of_objects_reach_the_resource(sb: Sandbox, cfn: Any, ssm: Any) -> None:
    """References are resolved wherever they sit in the properties, e.g. in a queue's list of tags.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html
    """
    team, cost_centre = put_parameter(ssm, "platform"), put_parameter(ssm, "cc-42")
    body = template(
        f"""
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Tags:
                - Key: team
                  Value: '{{{{resolve:ssm:{team}}}}}'
                - Key: cost-centre
                  Value: 'cc={{{{resolve:ssm:{cost_centre}}}}}'
        """
    )
    name = create(cfn, body)
    tags = sb.client("sqs").list_queue_tags(QueueUrl=physical_id(cfn, name, "Queue"))["Tags"]
    assert tags == {"team": "platform", "cost-centre": "cc=cc-42"}


def test_dynamic_reference_built_by_fn_sub_is_resolved_after_the_substitution(cfn: Any, ssm: Any) -> None:
    """CloudFormation evaluates Fn::Sub first, then resolves the reference the string now holds (T7e).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html
    """
    source = put_parameter(ssm, "from-sub")
    target = f"/course/{unique('target')}"
    body = template(
        f"""
        Parameters:
          SourceName:
            Type: String
        Resources:
          Target:
            Type: AWS::SSM::Parameter
            Properties:
              Name: {target}
              Type: String
              Value: !Sub 'sub-{{{{resolve:ssm:${{SourceName}}}}}}'
        """
    )
    create(cfn, body, Parameters=[{"ParameterKey": "SourceName", "ParameterValue": source}])
    assert parameter_value(ssm, target) == "sub-from-sub"


def test_versioned_ssm_dynamic_reference_in_a_parameter_default_reaches_the_resource(cfn: Any, ssm: Any) -> None:
    """A parameter's Default may hold an ssm reference with a version; a Ref to it gets the value (T7b).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "pinned")
    ssm.put_parameter(Name=source, Value="newer", Type="String", Overwrite=True)
    target = f"/course/{unique('target')}"
    body = template(
        f"""
        Parameters:
          Colour:
            Type: String
            Default: '{{{{resolve:ssm:{source}:1}}}}'
        Resources:
          Target:
            Type: AWS::SSM::Parameter
            Properties:
              Name: {target}
              Type: String
              Value: !Ref Colour
        """
    )
    create(cfn, body)
    assert parameter_value(ssm, target) == "pinned"


def test_unversioned_ssm_dynamic_reference_in_a_parameter_default_is_refused(cfn: Any, ssm: Any) -> None:
    """In the Parameters section an ssm reference must include a version number (T7a gives the message).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "latest")
    body = template(
        f"""
        Parameters:
          Colour:
            Type: String
            Default: '{{{{resolve:ssm:{source}}}}}'
        Resources:
          Topic:
            Type: AWS::SNS::Topic
            Properties:
              DisplayName: !Ref Colour
        """
    )
    name = unique("dynref")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        "Template error: parameter Colour should not contain ssm versionless resolver",
    )
    assert_no_stack(cfn, name)


def test_ssm_dynamic_reference_with_a_label_is_refused_as_an_incorrect_format(cfn: Any, ssm: Any) -> None:
    """Parameter labels are not supported in dynamic references: the request is rejected (T6d).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "labelled")
    ssm.label_parameter_version(Name=source, ParameterVersion=1, Labels=["prod"])
    reference = f"{{{{resolve:ssm:{source}:prod}}}}"
    name = unique("dynref")
    body = parameter_template(reference, f"/course/{unique('target')}")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        f"Incorrect format is used in the following SSM reference: [{reference}]",
    )
    assert_no_stack(cfn, name)


def test_ssm_dynamic_reference_to_a_missing_parameter_is_refused(cfn: Any) -> None:
    """A reference to a parameter that does not exist fails the request (CreateStack/CreateChangeSet).

    Message: aws-samples/data-mesh-datazone-cdk-cloudformation#19. Page:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    missing = f"/course/{unique('missing')}"
    name = unique("dynref")
    body = parameter_template(f"{{{{resolve:ssm:{missing}}}}}", f"/course/{unique('target')}")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        f"Parameters: [ssm:{missing}] cannot be found.",
    )
    assert_no_stack(cfn, name)


def test_ssm_dynamic_reference_to_a_version_that_does_not_exist_is_refused(cfn: Any, ssm: Any) -> None:
    """A version the parameter never had cannot be found either: the request fails (same message shape).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "only-one-version")
    name = unique("dynref")
    body = parameter_template(f"{{{{resolve:ssm:{source}:7}}}}", f"/course/{unique('target')}")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        f"Parameters: [ssm:{source}:7] cannot be found.",
    )
    assert_no_stack(cfn, name)


def test_ssm_dynamic_reference_to_a_secure_string_is_refused(cfn: Any, ssm: Any) -> None:
    """ssm reads String and StringList parameters; a SecureString needs ssm-secure (T8d gives the message).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
    """
    source = put_parameter(ssm, "s3cr3t-value", kind="SecureString")
    name = unique("dynref")
    body = parameter_template(f"{{{{resolve:ssm:{source}:1}}}}", f"/course/{unique('target')}")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        f"Non-secure ssm prefix was used for secure parameter {source}",
    )
    assert_no_stack(cfn, name)


def test_text_that_only_looks_like_a_dynamic_reference_is_kept_as_written(cfn: Any, ssm: Any) -> None:
    """Only {{resolve:...}} is a dynamic reference; with spaces after '{{' the text is an ordinary string.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html (the pattern);
    cfn-lint rule W1053 says such text is treated as a literal string.
    """
    source = put_parameter(ssm, "never-read")
    target = f"/course/{unique('target')}"
    literal = f"{{{{ resolve:ssm:{source} }}}}"
    create(cfn, parameter_template(literal, target))
    assert parameter_value(ssm, target) == literal


# -- ssm-secure ------------------------------------------------------------------------------------------
def rds_master_password(sb: Sandbox, db_identifier: str) -> str:
    """The master password the sandbox's RDS holds (no AWS API returns a password, so read the store)."""
    from moto.rds.models import rds_backends

    return rds_backends[sb.account_id()][sb.region].databases[db_identifier]._master_user_password


def db_instance_template(password: str) -> str:
    return template(
        f"""
        Resources:
          Database:
            Type: AWS::RDS::DBInstance
            Properties:
              DBInstanceClass: db.t3.micro
              Engine: mysql
              AllocatedStorage: '20'
              MasterUsername: admin
              MasterUserPassword: '{password}'
        """
    )


def test_ssm_secure_dynamic_reference_resolves_in_a_supported_property(sb: Sandbox, cfn: Any, ssm: Any) -> None:
    """AWS::RDS::DBInstance MasterUserPassword supports ssm-secure: the decrypted value reaches RDS.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
    """
    source = put_parameter(ssm, "Corr3ct-Horse-Battery", kind="SecureString")
    name = create(cfn, db_instance_template(f"{{{{resolve:ssm-secure:{source}:1}}}}"))
    assert status(cfn, name) == "CREATE_COMPLETE"
    assert rds_master_password(sb, physical_id(cfn, name, "Database")) == "Corr3ct-Horse-Battery"


def test_ssm_secure_value_appears_in_no_cloudformation_answer(sb: Sandbox, cfn: Any, ssm: Any) -> None:
    """CloudFormation never returns a secure string's value in any API call, only the literal reference.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
    """
    source = put_parameter(ssm, "Never-Sh0wn-Secure", kind="SecureString")
    reference = f"{{{{resolve:ssm-secure:{source}:1}}}}"
    name = create(cfn, db_instance_template(reference))
    assert rds_master_password(sb, physical_id(cfn, name, "Database")) == "Never-Sh0wn-Secure"
    said = everything_cloudformation_says(cfn, name)
    assert "Never-Sh0wn-Secure" not in said
    shown = [json.loads(e["ResourceProperties"]) for e in events(cfn, name) if e.get("ResourceProperties")]
    assert shown and all(p["MasterUserPassword"] == reference for p in shown)


def test_versioned_ssm_secure_reference_outside_the_supported_properties_is_refused(cfn: Any, ssm: Any) -> None:
    """Secure strings work only in the properties AWS lists; elsewhere a versioned one fails the request (T8b).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
    """
    source = put_parameter(ssm, "not-for-here", kind="SecureString")
    target = f"/course/{unique('target')}"
    name = unique("dynref")
    body = parameter_template(f"{{{{resolve:ssm-secure:{source}:1}}}}", target)
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        "SSM Secure reference is not supported in: [AWS::SSM::Parameter/Properties/Value]",
    )
    assert_no_stack(cfn, name)
    assert not parameter_exists(ssm, target)


def test_ssm_secure_refusal_names_each_reference_by_property_without_list_positions(cfn: Any, ssm: Any) -> None:
    """Every refused reference is listed as Type/Properties/Property; a tag's Value is shown as the Tags list.

    Message shapes from AWS output quoted in aws/serverless-application-model#1528 and in reports of
    "[AWS::IAM::Role/Properties/Tags,AWS::IAM::Role/Properties/Tags]". Page:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
    """
    source = put_parameter(ssm, "tagged", kind="SecureString")
    body = template(
        f"""
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Tags:
                - Key: one
                  Value: '{{{{resolve:ssm-secure:{source}:1}}}}'
                - Key: two
                  Value: '{{{{resolve:ssm-secure:{source}:1}}}}'
        """
    )
    name = unique("dynref")
    assert api_error(cfn.create_stack, StackName=name, TemplateBody=body) == (
        "ValidationError",
        "SSM Secure reference is not supported in: [AWS::SQS::Queue/Properties/Tags,AWS::SQS::Queue/Properties/Tags]",
    )
    assert_no_stack(cfn, name)


def test_unversioned_ssm_secure_reference_outside_the_supported_properties_fails_the_stack(cfn: Any, ssm: Any) -> None:
    """Without a version the request is accepted, then the stack fails with the same reason and rolls back (T8a).

    (On AWS the reason is the stack's own, given before any resource starts; the sandbox fails the resource.)

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
    """
    source = put_parameter(ssm, "still-not-for-here", kind="SecureString")
    target = f"/course/{unique('target')}"
    name = create(cfn, parameter_template(f"{{{{resolve:ssm-secure:{source}}}}}", target))
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason") or "" for e in events(cfn, name)]
    assert "SSM Secure reference is not supported in: [AWS::SSM::Parameter/Properties/Value]" in reasons
    assert not parameter_exists(ssm, target)


# -- secretsmanager --------------------------------------------------------------------------------------
def put_secret(secrets: Any, value: str) -> tuple[str, str]:
    """A new secret holding `value`; returns (name, ARN)."""
    created = secrets.create_secret(Name=unique("course-secret"), SecretString=value)
    return created["Name"], created["ARN"]


CREDENTIALS = json.dumps({"username": "app-user", "password": "Sw0rdfish-Current"})


def test_secretsmanager_reference_without_a_json_key_resolves_the_whole_secret_string(
    cfn: Any, ssm: Any, secrets: Any
) -> None:
    """{{resolve:secretsmanager:secret-id}} retrieves the entire SecretString (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, CREDENTIALS)
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:secretsmanager:{secret}}}}}", target))
    assert parameter_value(ssm, target) == CREDENTIALS


def test_secretsmanager_reference_with_a_json_key_resolves_that_key(cfn: Any, ssm: Any, secrets: Any) -> None:
    """secret-id:SecretString:json-key retrieves one value of a JSON secret, from the AWSCURRENT version.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, CREDENTIALS)
    target = f"/course/{unique('target')}"
    value = f"{{{{resolve:secretsmanager:{secret}:SecretString:username}}}}"
    create(cfn, parameter_template(value, target))
    assert parameter_value(ssm, target) == "app-user"


def test_secretsmanager_reference_with_a_version_stage_resolves_that_version(cfn: Any, ssm: Any, secrets: Any) -> None:
    """version-stage selects a version by staging label, e.g. AWSPREVIOUS after a new value is put (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, json.dumps({"password": "old-one"}))
    secrets.put_secret_value(SecretId=secret, SecretString=json.dumps({"password": "new-one"}))
    current, previous = f"/course/{unique('target')}", f"/course/{unique('target')}"
    body = template(
        f"""
        Resources:
          Current:
            Type: AWS::SSM::Parameter
            Properties:
              Name: {current}
              Type: String
              Value: '{{{{resolve:secretsmanager:{secret}:SecretString:password}}}}'
          Previous:
            Type: AWS::SSM::Parameter
            Properties:
              Name: {previous}
              Type: String
              Value: '{{{{resolve:secretsmanager:{secret}:SecretString:password:AWSPREVIOUS}}}}'
        """
    )
    create(cfn, body)
    assert (parameter_value(ssm, current), parameter_value(ssm, previous)) == ("new-one", "old-one")


def test_secretsmanager_reference_with_a_version_id_resolves_that_version(cfn: Any, ssm: Any, secrets: Any) -> None:
    """version-id (the last segment) selects one version of the secret by its id.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, json.dumps({"password": "first-version"}))
    first = secrets.get_secret_value(SecretId=secret)["VersionId"]
    secrets.put_secret_value(SecretId=secret, SecretString=json.dumps({"password": "second-version"}))
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:secretsmanager:{secret}:SecretString:password::{first}}}}}", target))
    assert parameter_value(ssm, target) == "first-version"


def test_secretsmanager_reference_accepts_the_secret_arn(cfn: Any, ssm: Any, secrets: Any) -> None:
    """The secret id may be the secret's ARN, followed by the other segments (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    _, arn = put_secret(secrets, CREDENTIALS)
    target = f"/course/{unique('target')}"
    create(cfn, parameter_template(f"{{{{resolve:secretsmanager:{arn}:SecretString:password}}}}", target))
    assert parameter_value(ssm, target) == "Sw0rdfish-Current"


def test_stack_update_keeps_the_old_secret_when_the_resource_is_not_otherwise_changed(
    cfn: Any, ssm: Any, secrets: Any
) -> None:
    """A new secret value reaches a resource only when an update modifies that resource for another reason (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, json.dumps({"password": "first-secret"}))
    target = f"/course/{unique('target')}"
    body = parameter_template(f"{{{{resolve:secretsmanager:{secret}:SecretString:password}}}}", target)
    name = create(cfn, body)
    secrets.put_secret_value(SecretId=secret, SecretString=json.dumps({"password": "rotated-secret"}))
    cfn.update_stack(StackName=name, TemplateBody=body + "  Extra:\n    Type: AWS::SNS::Topic\n")
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert parameter_value(ssm, target) == "first-secret"
    cfn.update_stack(StackName=name, TemplateBody=body.replace("Type: String", "Type: String\n      Description: now"))
    assert parameter_value(ssm, target) == "rotated-secret"


def test_secretsmanager_reference_to_a_missing_secret_fails_the_resource(cfn: Any, ssm: Any) -> None:
    """A secret that does not exist fails the resource with Secrets Manager's error, and the stack rolls back.

    Message: aws-cloudformation/cloudformation-coverage-roadmap#1187. Page:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    target = f"/course/{unique('target')}"
    name = create(cfn, parameter_template(f"{{{{resolve:secretsmanager:{unique('no-such-secret')}}}}}", target))
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Target").startswith(
        "Secrets Manager can't find the specified secret. (Service: AWSSecretsManager; Status Code: 400; "
        "Error Code: ResourceNotFoundException; Request ID: "
    )
    assert not parameter_exists(ssm, target)


def test_secretsmanager_reference_to_a_missing_json_key_fails_the_resource(cfn: Any, secrets: Any) -> None:
    """A json-key the secret does not have fails the resource, not the request (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, CREDENTIALS)
    value = f"{{{{resolve:secretsmanager:{secret}:SecretString:no-such-key}}}}"
    name = create(cfn, parameter_template(value, f"/course/{unique('target')}"))
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Target") == "Could not find a value associated with JSONKey in SecretString"


def test_secretsmanager_json_key_on_a_plain_text_secret_fails_the_resource(cfn: Any, secrets: Any) -> None:
    """A json-key needs a JSON secret: a plain-text one fails the resource (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, "just plain text")
    value = f"{{{{resolve:secretsmanager:{secret}:SecretString:password}}}}"
    name = create(cfn, parameter_template(value, f"/course/{unique('target')}"))
    assert status(cfn, name) == "ROLLBACK_COMPLETE"
    assert failure_reason(cfn, name, "Target") == "Could not parse SecretString JSON"


def test_secretsmanager_value_appears_in_no_cloudformation_answer(cfn: Any, ssm: Any, secrets: Any) -> None:
    """Neither CloudFormation's answers nor its logs keep a resolved secret; the resource still gets it.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, json.dumps({"token": "Never-Sh0wn-Secret"}))
    reference = f"{{{{resolve:secretsmanager:{secret}:SecretString:token}}}}"
    target = f"/course/{unique('target')}"
    name = create(cfn, parameter_template(reference, target))
    assert parameter_value(ssm, target) == "Never-Sh0wn-Secret"
    said = everything_cloudformation_says(cfn, name)
    assert "Never-Sh0wn-Secret" not in said
    shown = [json.loads(e["ResourceProperties"]) for e in events(cfn, name) if e.get("ResourceProperties")]
    assert shown and all(p["Value"] == reference for p in shown)


def test_dynamic_reference_in_an_output_value_is_returned_as_written(cfn: Any, secrets: Any) -> None:
    """Dynamic references are resolved in resource properties; an Outputs Value keeps the literal text (T9).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html
    """
    secret, _ = put_secret(secrets, CREDENTIALS)
    reference = f"{{{{resolve:secretsmanager:{secret}:SecretString:password}}}}"
    body = template(
        f"""
        Resources:
          Topic:
            Type: AWS::SNS::Topic
        Outputs:
          Password:
            Value: '{reference}'
        """
    )
    name = create(cfn, body)
    outputs = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "Password", "OutputValue": reference}]


# -- what the sandbox cannot do --------------------------------------------------------------------------
def test_a_reference_to_another_service_is_refused_plainly(cfn: Any) -> None:
    """AWS resolves ssm, ssm-secure and secretsmanager only; the sandbox says so instead of storing the text.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html
    """
    name = unique("dynref")
    body = parameter_template("{{resolve:dynamodb:table:key}}", f"/course/{unique('target')}")
    code, message = api_error(cfn.create_stack, StackName=name, TemplateBody=body)
    assert code == "SandboxNotSupported"
    assert "{{resolve:dynamodb:table:key}}" in message
    assert_no_stack(cfn, name)
