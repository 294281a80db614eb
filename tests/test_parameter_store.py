"""Parameter Store as AWS answers: SecureString encryption, KMS key checks, tiers, policies, names and labels.

Each test proves one AWS behaviour and cites the documentation it rests on; messages AWS does not document come
from real responses, cited in labs_support/emulator/parameter_store.py. The module shares one sandbox; every test
uses parameter names and keys of its own.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from typing import Any

import pytest
from aws_errors import api_error
from botocore.exceptions import ClientError

from labs_support.sandbox import Sandbox

_names = itertools.count(1)
EXPIRATION = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2030-01-01T00:00:00Z"}}])
SDK_SUFFIX = r" \(Service: AWSKMS; Status Code: 400; Error Code: (\w+); Request ID: [0-9a-f-]{36}; Proxy: null\)$"


def unique(prefix: str = "/fidelity/p") -> str:
    """A parameter name no other test uses."""
    return f"{prefix}{next(_names)}"


@pytest.fixture(scope="module")
def ssm(sb: Sandbox) -> Any:
    return sb.client("ssm")


@pytest.fixture(scope="module")
def kms(sb: Sandbox) -> Any:
    return sb.client("kms")


def customer_key(kms: Any, alias: str | None = None) -> dict[str, Any]:
    key = kms.create_key(Description="fidelity test key")["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key


# -- SecureString values ---------------------------------------------------------------------------------
def test_a_secure_string_read_without_decryption_returns_an_encrypted_blob_from_every_read_action(ssm: Any) -> None:
    """GetParameter, GetParameters, GetParametersByPath and GetParameterHistory return a SecureString's
    encrypted value unless WithDecryption is true.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html
    """
    name = unique("/fidelity/blob/p")
    ssm.put_parameter(Name=name, Value="correct-horse-battery", Type="SecureString")
    values = [
        ssm.get_parameter(Name=name)["Parameter"]["Value"],
        ssm.get_parameters(Names=[name])["Parameters"][0]["Value"],
        ssm.get_parameters_by_path(Path="/fidelity/blob")["Parameters"][0]["Value"],
        ssm.get_parameter_history(Name=name)["Parameters"][0]["Value"],
    ]
    assert len(set(values)) == 1, "every action returns the same stored ciphertext"
    blob = values[0]
    assert "correct-horse-battery" not in blob
    decoded = base64.b64decode(blob, validate=True)
    assert b"correct-horse-battery" not in decoded
    assert blob.startswith("AQICAH"), "shaped like a KMS ciphertext blob"


def test_with_decryption_the_plaintext_is_returned_and_the_flag_is_ignored_for_string(ssm: Any) -> None:
    """WithDecryption returns decrypted values for SecureString; the flag is ignored for String and StringList.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
    """
    secure, plain = unique(), unique()
    ssm.put_parameter(Name=secure, Value="s3cret", Type="SecureString")
    ssm.put_parameter(Name=plain, Value="a,b", Type="StringList")
    assert ssm.get_parameter(Name=secure, WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    found = ssm.get_parameters(Names=[secure, plain], WithDecryption=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in found} == {secure: "s3cret", plain: "a,b"}
    assert ssm.get_parameter(Name=plain)["Parameter"]["Value"] == "a,b"
    history = ssm.get_parameter_history(Name=secure, WithDecryption=True)["Parameters"]
    assert [v["Value"] for v in history] == ["s3cret"]


def test_the_encrypted_value_is_the_same_on_every_read_and_differs_between_versions(ssm: Any) -> None:
    """Each version of a SecureString is encrypted when it is written; reads return what was stored.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html
    """
    name = unique()
    ssm.put_parameter(Name=name, Value="same", Type="SecureString")
    first = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == first
    ssm.put_parameter(Name=name, Value="same", Type="SecureString", Overwrite=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != first
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Value"] == first


# -- KMS keys --------------------------------------------------------------------------------------------
def test_without_key_id_the_aws_managed_key_alias_aws_ssm_is_used(ssm: Any, kms: Any) -> None:
    """If you don't specify a key ID, Parameter Store uses the AWS managed key for your account (aws/ssm).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html
    """
    name = unique()
    ssm.put_parameter(Name=name, Value="v", Type="SecureString")
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert described["KeyId"] == "alias/aws/ssm"
    assert kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]["KeyManager"] == "AWS"


@pytest.mark.parametrize("form", ["key id", "key ARN", "alias name", "alias ARN"])
def test_a_customer_managed_key_is_accepted_by_key_id_key_arn_alias_name_or_alias_arn(
    ssm: Any, kms: Any, sb: Sandbox, form: str
) -> None:
    """KeyId may name a customer managed key by key ID, key ARN, alias name or alias ARN.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    """
    alias = f"alias/fidelity-{next(_names)}"
    key = customer_key(kms, alias)
    key_id = {
        "key id": key["KeyId"],
        "key ARN": key["Arn"],
        "alias name": alias,
        "alias ARN": f"arn:aws:kms:us-east-1:{sb.account_id()}:{alias}",
    }[form]
    name = unique()
    assert ssm.put_parameter(Name=name, Value="v", Type="SecureString", KeyId=key_id)["Version"] == 1
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "v"
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert described["KeyId"] == key_id


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "Key 'arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-"
         "56ef-1234567890ab' does not exist"),
        ("arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab", "Key 'arn:aws:kms:us-east-1:"
         "{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist"),
        ("alias/no-such-key", "Alias arn:aws:kms:us-east-1:{account}:alias/no-such-key is not found."),
        ("arn:aws:kms:us-east-1:{account}:alias/no-such-key", "Alias arn:aws:kms:us-east-1:{account}:alias/"
         "no-such-key is not found."),
    ],
)  # fmt: skip
def test_a_key_that_does_not_exist_is_refused_with_invalid_key_id(
    ssm: Any, sb: Sandbox, form: str, expected: str
) -> None:
    """PutParameter fails with InvalidKeyId when the key ID isn't valid; Parameter Store quotes KMS's
    NotFoundException (messages as recorded in binxio/aws-ssm-copy#10 and cloudposse/docs#152).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    """
    account = sb.account_id()
    name = unique()
    code, message = api_error(
        ssm.put_parameter, Name=name, Value="v", Type="SecureString", KeyId=form.format(account=account)
    )
    assert code == "InvalidKeyId"
    match = re.match(re.escape(expected.format(account=account)) + SDK_SUFFIX, message)
    assert match and match.group(1) == "NotFoundException", message
    assert api_error(ssm.get_parameter, Name=name)[0] == "ParameterNotFound"


def test_a_key_of_another_region_is_not_found_in_the_callers_region(ssm: Any, sb: Sandbox) -> None:
    """KMS keys are Regional: a key created in eu-west-1 can't encrypt a parameter in us-east-1.

    https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html
    """
    key = sb.client("kms", region="eu-west-1").create_key()["KeyMetadata"]
    for key_id in (key["KeyId"], key["Arn"]):
        code, message = api_error(ssm.put_parameter, Name=unique(), Value="v", Type="SecureString", KeyId=key_id)
        assert code == "InvalidKeyId" and "does not exist" in message, message


def test_a_disabled_key_refuses_put_and_decryption_but_not_reading_the_ciphertext(ssm: Any, kms: Any) -> None:
    """A disabled KMS key can't be used for cryptographic operations: PutParameter and reads WithDecryption
    fail with InvalidKeyId quoting KMS's DisabledException (turbot/steampipe-plugin-aws records the read case);
    a read without decryption does not call KMS.

    https://docs.aws.amazon.com/kms/latest/APIReference/API_DisableKey.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html
    """
    key = customer_key(kms)
    name = unique("/fidelity/disabled/p")
    ssm.put_parameter(Name=name, Value="v", Type="SecureString", KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    code, message = api_error(
        ssm.put_parameter, Name=name, Value="v2", Type="SecureString", KeyId=key["KeyId"], Overwrite=True
    )
    assert code == "InvalidKeyId"
    assert re.match(re.escape(f"{key['Arn']} is disabled.") + SDK_SUFFIX, message).group(1) == "DisabledException"
    for call, kwargs in [
        (ssm.get_parameter, {"Name": name}),
        (ssm.get_parameters, {"Names": [name]}),
        (ssm.get_parameters_by_path, {"Path": "/fidelity/disabled"}),
        (ssm.get_parameter_history, {"Name": name}),
    ]:
        assert api_error(call, WithDecryption=True, **kwargs)[0] == "InvalidKeyId", call
        call(**kwargs)  # without decryption: the ciphertext
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1
    kms.enable_key(KeyId=key["KeyId"])
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "v"


def test_a_key_pending_deletion_is_refused(ssm: Any, kms: Any) -> None:
    """A KMS key pending deletion can't be used (KMSInvalidStateException, as quoted in segmentio/chamber#355).

    https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
    """
    key = customer_key(kms)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    code, message = api_error(ssm.put_parameter, Name=unique(), Value="v", Type="SecureString", KeyId=key["KeyId"])
    assert code == "InvalidKeyId"
    assert re.match(re.escape(f"{key['Arn']} is pending deletion.") + SDK_SUFFIX, message).group(1) == (
        "KMSInvalidStateException"
    )


def test_key_id_is_accepted_for_secure_string_only(ssm: Any) -> None:
    """KeyId is for SecureString parameters (ValidationException otherwise, as oharaandrew314/mock-aws-java-sdk
    records).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    """
    for parameter_type in ("String", "StringList"):
        assert api_error(ssm.put_parameter, Name=unique(), Value="v", Type=parameter_type, KeyId="alias/aws/ssm") == (
            "ValidationException",
            "KeyId is required for SecureString type parameter only.",
        )


def test_overwriting_a_secure_string_without_key_id_keeps_its_key(ssm: Any, kms: Any) -> None:
    """A new version without KeyId stays under the parameter's key (hashicorp/terraform-provider-aws#20150).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    """
    customer_key(kms, "alias/fidelity-keep")
    name = unique()
    ssm.put_parameter(Name=name, Value="v1", Type="SecureString", KeyId="alias/fidelity-keep")
    ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert [(v["KeyId"], v["Value"]) for v in history] == [("alias/fidelity-keep", "v1"), ("alias/fidelity-keep", "v2")]


# -- tiers and policies ----------------------------------------------------------------------------------
def test_a_standard_parameter_value_holds_at_most_4_kb(ssm: Any) -> None:
    """Standard parameters: a value of at most 4 KB; larger values need the advanced tier.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
    """
    assert ssm.put_parameter(Name=unique(), Value="x" * 4096, Type="String")["Tier"] == "Standard"
    code, message = api_error(ssm.put_parameter, Name=unique(), Value="x" * 4097, Type="String")
    assert code == "ValidationException"
    assert message.startswith("Standard tier parameters support a maximum parameter value of 4096 characters.")


def test_an_advanced_parameter_value_holds_at_most_8_kb(ssm: Any) -> None:
    """Advanced parameters: a value of at most 8 KB.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
    """
    assert ssm.put_parameter(Name=unique(), Value="x" * 8192, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    code, _ = api_error(ssm.put_parameter, Name=unique(), Value="x" * 8193, Type="String", Tier="Advanced")
    assert code == "ValidationException"


def test_an_advanced_parameter_cannot_be_changed_back_to_standard(ssm: Any) -> None:
    """You can change a standard parameter to advanced at any time, but not an advanced one back to standard.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
    """
    name = unique()
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert ssm.put_parameter(Name=name, Value="v2", Tier="Advanced", Overwrite=True)["Tier"] == "Advanced"
    assert ssm.put_parameter(Name=name, Value="v3", Overwrite=True)["Tier"] == "Advanced"
    code, message = api_error(ssm.put_parameter, Name=name, Value="v4", Tier="Standard", Overwrite=True)
    assert code == "ValidationException"
    assert message.startswith("This parameter uses the advanced-parameter tier. You can't downgrade a parameter")


def test_intelligent_tiering_makes_a_parameter_advanced_only_when_the_request_needs_it(ssm: Any) -> None:
    """Intelligent-Tiering: advanced when the value is larger than 4 KB or there are policies, else standard.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Tier)
    """
    policies = EXPIRATION
    small = ssm.put_parameter(Name=unique(), Value="v", Type="String", Tier="Intelligent-Tiering")
    large = ssm.put_parameter(Name=unique(), Value="x" * 5000, Type="String", Tier="Intelligent-Tiering")
    with_policy = ssm.put_parameter(
        Name=unique(), Value="v", Type="String", Tier="Intelligent-Tiering", Policies=policies
    )
    assert [small["Tier"], large["Tier"], with_policy["Tier"]] == ["Standard", "Advanced", "Advanced"]


def test_parameter_policies_need_the_advanced_tier(ssm: Any) -> None:
    """Parameter policies are available for parameters in the advanced tier only.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-policies.html
    """
    policies = EXPIRATION
    assert api_error(ssm.put_parameter, Name=unique(), Value="v", Type="String", Policies=policies)[0] == (
        "ValidationException"
    )
    assert (
        ssm.put_parameter(Name=unique(), Value="v", Type="String", Tier="Advanced", Policies=policies)["Version"] == 1
    )


def test_policies_are_described_with_their_text_type_and_status(ssm: Any) -> None:
    """DescribeParameters returns each policy's PolicyText, PolicyType and PolicyStatus (ParameterInlinePolicy).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterInlinePolicy.html
    """
    expiration = {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}
    notice = {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "15", "Unit": "Days"}}
    name = unique()
    ssm.put_parameter(Name=name, Value="v", Type="String", Tier="Advanced", Policies=json.dumps([expiration, notice]))
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert [(json.loads(p["PolicyText"]), p["PolicyType"], p["PolicyStatus"]) for p in described["Policies"]] == [
        (expiration, "Expiration", "Pending"),
        (notice, "ExpirationNotification", "Pending"),
    ]


def test_an_unknown_policy_type_is_refused(ssm: Any) -> None:
    """Parameter Store supports the policy types Expiration, ExpirationNotification and NoChangeNotification.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Errors)
    """
    policies = json.dumps([{"Type": "Rotation", "Version": "1.0", "Attributes": {"After": "30", "Unit": "Days"}}])
    code, _ = api_error(ssm.put_parameter, Name=unique(), Value="v", Type="String", Tier="Advanced", Policies=policies)
    assert code == "InvalidPolicyTypeException"


# -- names and labels ------------------------------------------------------------------------------------
def test_a_hierarchy_has_at_most_15_levels(ssm: Any) -> None:
    """/Level-1/L2/.../L14/parameter-name is valid; a deeper name fails with HierarchyLevelLimitExceededException.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
    """
    levels = [f"L{i}" for i in range(2, 15)]
    assert ssm.put_parameter(Name="/Level-1/" + "/".join(levels) + "/parameter-name", Value="v", Type="String")
    deeper = "/Level-1/" + "/".join([*levels, "L15", "L16"]) + "/parameter-name"
    assert api_error(ssm.put_parameter, Name=deeper, Value="v", Type="String")[0] == (
        "HierarchyLevelLimitExceededException"
    )


@pytest.mark.parametrize("name", ["/fidelity/has space", "/fidelity/colon:x", "/fidelity/star*"])
def test_a_parameter_name_holds_only_letters_numbers_and_dot_dash_underscore(ssm: Any, name: str) -> None:
    """Parameter names can consist of a-zA-Z0-9_.- and the slash that delineates hierarchies.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
    """
    code, message = api_error(ssm.put_parameter, Name=name, Value="v", Type="String")
    assert code == "ValidationException" and "each sub-path can be formed as a mix of letters" in message


def test_a_name_in_a_hierarchy_begins_with_a_slash(ssm: Any) -> None:
    """A parameter in a hierarchy is fully qualified: its name begins with a forward slash.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
    """
    assert api_error(ssm.put_parameter, Name="fidelity/no-slash", Value="v", Type="String") == (
        "ValidationException",
        "Parameter name must be a fully qualified name.",
    )


def test_labels_beginning_with_a_number_aws_or_ssm_in_any_case_are_invalid(ssm: Any) -> None:
    """Labels can't begin with a number, "aws" or "ssm" (not case sensitive); such labels are returned in
    InvalidLabels and not attached.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_LabelParameterVersion.html
    """
    name = unique()
    ssm.put_parameter(Name=name, Value="v", Type="String")
    labels = ["release", "1st", "aws-prod", "AWSprod", "Ssm-x", "ok_2"]
    answer = ssm.label_parameter_version(Name=name, Labels=labels)
    assert answer["InvalidLabels"] == ["1st", "aws-prod", "AWSprod", "Ssm-x"]
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert history[0]["Labels"] == ["release", "ok_2"]


def test_moving_a_label_to_another_version_takes_it_off_the_first(ssm: Any) -> None:
    """You can move a label from one version of a parameter to another; a label names one version at a time.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-labels.html
    """
    name = unique()
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["release"])
    assert ssm.get_parameter(Name=f"{name}:release")["Parameter"]["Value"] == "one"
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["release"])
    assert ssm.get_parameter(Name=f"{name}:release")["Parameter"]["Value"] == "two"
    assert [v["Labels"] for v in ssm.get_parameter_history(Name=name)["Parameters"]] == [[], ["release"]]


def test_a_secure_string_behind_an_ssm_parameter_type_is_refused_by_cloudformation(ssm: Any, sb: Sandbox) -> None:
    """AWS::SSM::Parameter::Value<String> does not take SecureString parameters: CreateStack is refused at once
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html, SSM
    parameter types; the message as recorded against real stacks)."""
    name = unique("/fidelity/cfn-secure")
    ssm.put_parameter(Name=name, Value="secret", Type="SecureString")
    template = (
        "Parameters:\n  P: {Type: 'AWS::SSM::Parameter::Value<String>'}\nResources:\n  T: {Type: AWS::SNS::Topic}\n"
    )
    cfn = sb.client("cloudformation")
    with pytest.raises(ClientError) as info:
        cfn.create_stack(
            StackName="secure-param", TemplateBody=template, Parameters=[{"ParameterKey": "P", "ParameterValue": name}]
        )
    assert info.value.response["Error"]["Message"] == (
        f"Parameters [{name}] referenced by template have types not supported by CloudFormation."
    )
