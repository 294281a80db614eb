"""Parameter Store as AWS behaves: SecureString encryption, KMS key checks, tiers, policies, names and labels.

moto stores parameters, versions, labels, hierarchies and the public /aws/service parameters well (see
moto-gaps.md), but it shows a SecureString's plaintext without decryption, accepts any KMS key (one that does
not exist, or a disabled one) and ignores the tier rules. The patches here, on moto's `Parameter` model and
`SimpleSystemManagerBackend` (moto/ssm/models.py), close those gaps; run commands, documents and the other
Systems Manager actions are left alone (another module answers them).

What AWS does, and where it is written:

* **SecureString values are encrypted.** Without `WithDecryption=True`, GetParameter, GetParameters,
  GetParametersByPath and GetParameterHistory return the encrypted value, a base64 ciphertext blob; with it,
  the plaintext (the flag is ignored for String and StringList)
  (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html,
  https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html).
  The sandbox's blob is deterministic (the same account, key, name, version and value give the same blob), has
  the shape of a KMS ciphertext (base64 starting `AQICAH`, as AWS's do) and is not the plaintext; it is not
  real KMS encryption, so `kms.decrypt` cannot open it: only Parameter Store's own WithDecryption can.
* **The KMS key must exist, in the caller's account and Region, and be enabled.** `KeyId` may be a key id, a
  key ARN, an alias name or an alias ARN; the default is the AWS managed key `alias/aws/ssm`, which Parameter
  Store creates on first use (`KeyManager` AWS). A key that does not exist, is disabled or is pending deletion
  makes PutParameter fail with `InvalidKeyId`, and so does reading a SecureString with decryption once its key
  is disabled or pending deletion (reading without decryption does not call KMS and still works). The messages
  are KMS's, quoted by Parameter Store through the AWS SDK for Java, as recorded from real responses:
  "Key '<key ARN>' does not exist (Service: AWSKMS; ... Error Code: NotFoundException ...)"
  (binxio/aws-ssm-copy#10, telia-oss/terraform-aws-sonarqube#4); "Alias <alias ARN> is not found. (Service:
  AWSKMS; ... NotFoundException ...)" (cloudposse/docs#152); "<key ARN> is disabled. (Service: AWSKMS; ...
  Error Code: DisabledException ...)" on GetParameter with decryption (turbot/steampipe-plugin-aws,
  aws/table_aws_ssm_parameter.go); "<key ARN> is pending deletion. (Service: AWSKMS; ... Error Code:
  KMSInvalidStateException ...)" (segmentio/chamber#355). PutParameter with a disabled key answers with the
  same DisabledException sentence (AWS does not document that case: wording ours, taken from the read case).
  KMS keys are Regional, so a key of another Region is not found; a key ARN of another account is looked up in
  that account (the sandbox does not evaluate key policies). How Parameter Store calls KMS:
  https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
* **`KeyId` only for SecureString**: PutParameter with a KeyId and another type fails with ValidationException
  "KeyId is required for SecureString type parameter only." (as recorded by oharaandrew314/mock-aws-java-sdk,
  SsmUtils.kt). Overwriting a SecureString without a KeyId keeps its key (hashicorp/terraform-provider-aws#20150:
  omitting key_id does not move a parameter back to alias/aws/ssm); moto already does that.
* **Tiers** (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html):
  a standard parameter's value holds at most 4 KB (4096 bytes, as the KMS guide above puts it), an advanced
  one's 8 KB; only advanced parameters take policies; an advanced parameter can't be changed back to standard;
  `Intelligent-Tiering` makes a parameter advanced only when the request needs it (a value over 4 KB, or
  policies) and standard otherwise, and the response names the tier chosen (PutParameter's Tier,
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html). Messages as AWS words
  them: "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger
  parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see
  https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
  (recorded in Terraform errors of several projects); "This parameter uses the advanced-parameter tier. You
  can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you
  can delete the advanced parameter and recreate it as a standard parameter. Be aware that standard parameters
  have a value limit of 4096 characters." (hashicorp/terraform-provider-aws, resource_aws_ssm_parameter.go, and a
  StackSet result of the same call). The over-8 KB and policies-on-standard messages are not documented: wording
  ours.
* **Parameter policies** (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-policies.html):
  a JSON array of `Expiration`, `ExpirationNotification` and `NoChangeNotification` policies, at most 10
  (InvalidPolicyTypeException and PoliciesLimitExceededException, whose messages are the API reference's
  descriptions of them). DescribeParameters and GetParameterHistory return each policy's text, type and status;
  moto printed a Python dict as the text. The sandbox stores policies and shows them `Pending`: it never runs
  them (no parameter expires, no EventBridge event is sent).
* **Names** (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html):
  only `a-zA-Z0-9_.-` and `/`, at most 15 levels, and a name in a hierarchy is fully qualified (starts with
  `/`). AWS answers other characters with "Parameter name: can't be prefixed with "ssm" (case-insensitive). If
  formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of
  letters, numbers and the following 3 symbols .-_" (a colon, probed live by a project's notes; moto uses the
  same text for its own name checks). "Parameter name must be a fully qualified name." is AWS's answer to
  malformed hierarchical names in recorded errors (a path mangled by Git Bash, a trailing carriage return); that
  AWS gives it to a hierarchical name without the leading slash is our reading of the rule. Too many levels:
  `HierarchyLevelLimitExceededException`, whose message is the API reference's description of the error.
* **Labels** (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-labels.html): a
  label can't begin with a number, `aws` or `ssm`, *not case sensitive*; such labels come back in
  InvalidLabels. moto compared `aws`/`ssm` case-sensitively.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from moto.core.exceptions import ServiceException
from moto.moto_api._internal import mock_random
from moto.ssm import models as ssm_models
from moto.ssm.exceptions import ValidationException

DEFAULT_KEY = "alias/aws/ssm"
STANDARD_MAX_BYTES = 4096
ADVANCED_MAX_BYTES = 8192
MAX_LEVELS = 15
MAX_POLICIES = 10
POLICY_TYPES = ("Expiration", "ExpirationNotification", "NoChangeNotification")
_NAME_CHARACTERS = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_KMS_BLOB_HEADER = b"\x01\x02\x02\x00\x78"  # the first bytes of a KMS ciphertext blob: base64 "AQICAH..."

_original_put_parameter = ssm_models.SimpleSystemManagerBackend.put_parameter
_original_label_parameter_version = ssm_models.SimpleSystemManagerBackend.label_parameter_version
_original_decrypt = ssm_models.Parameter.decrypt
_original_response_object = ssm_models.Parameter.response_object


class InvalidKeyId(ServiceException):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidKeyId", message)


class HierarchyLevelLimitExceededException(ServiceException):
    def __init__(self) -> None:
        super().__init__(
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints "
            "for parameter names in the Amazon Web Services Systems Manager User Guide.",
        )


class InvalidPolicyTypeException(ServiceException):
    def __init__(self) -> None:
        super().__init__(
            "InvalidPolicyTypeException",
            "The policy type isn't supported. Parameter Store supports the following policy types: Expiration, "
            "ExpirationNotification, and NoChangeNotification.",
        )


class PoliciesLimitExceededException(ServiceException):
    def __init__(self) -> None:
        super().__init__(
            "PoliciesLimitExceededException",
            "You specified more than the maximum number of allowed policies for the parameter. The maximum is 10.",
        )


class InvalidPolicyAttributeException(ServiceException):
    def __init__(self) -> None:
        super().__init__("InvalidPolicyAttributeException", "A policy attribute or its value is invalid.")


# -- KMS -------------------------------------------------------------------------------------------------
def _kms_error(message: str, code: str) -> InvalidKeyId:
    """A KMS error as Parameter Store quotes it (the AWS SDK for Java's wording)."""
    return InvalidKeyId(
        f"{message} (Service: AWSKMS; Status Code: 400; Error Code: {code}; Request ID: {mock_random.uuid4()}; "
        "Proxy: null)"
    )


def _kms_backend(account_id: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account_id][region]


def _not_found(prefix: str, resource: str) -> InvalidKeyId:
    if resource.startswith("alias/"):
        return _kms_error(f"Alias {prefix}{resource} is not found.", "NotFoundException")
    return _kms_error(f"Key '{prefix}key/{resource.removeprefix('key/')}' does not exist", "NotFoundException")


def _find_key(account_id: str, region: str, key_ref: str) -> Any:
    """The moto KMS key a KeyId names (key id, key ARN, alias name or alias ARN); InvalidKeyId if there is none.

    KMS keys are Regional: Parameter Store calls KMS in its own Region, where a key of another Region is unknown.
    """
    key_region, resource = region, key_ref
    if key_ref.startswith("arn:"):
        parts = key_ref.split(":", 5)
        if len(parts) == 6 and parts[2] == "kms" and parts[3] and parts[4]:
            key_region, account_id, resource = parts[3], parts[4], parts[5]
    elif not key_ref.startswith("alias/"):
        resource = f"key/{key_ref}"
    prefix = f"arn:aws:kms:{key_region}:{account_id}:"
    if key_region != region:
        raise _not_found(prefix, resource)
    backend = _kms_backend(account_id, region)
    if resource.startswith("alias/"):
        key_id = backend.get_key_id_from_alias(resource)  # creates an alias/aws/... key on first use, as AWS does
        if key_id is None or key_id not in backend.keys:
            raise _not_found(prefix, resource)
        key = backend.keys[key_id]
        if resource == DEFAULT_KEY:
            key.key_manager = "AWS"  # the AWS managed key for Parameter Store
        return key
    key_id = resource.removeprefix("key/")
    if key_id not in backend.keys:
        raise _not_found(prefix, resource)
    return backend.keys[key_id]


def _check_usable(key: Any) -> None:
    """InvalidKeyId with KMS's reason unless the key can encrypt and decrypt now."""
    if key.key_state == "PendingDeletion":
        raise _kms_error(f"{key.arn} is pending deletion.", "KMSInvalidStateException")
    if key.key_state == "Disabled" or not key.enabled:
        raise _kms_error(f"{key.arn} is disabled.", "DisabledException")  # wording ours for PutParameter


def _check_decryptable(parameter: Any) -> None:
    """Reading a SecureString with decryption asks KMS, which refuses a disabled or deleted key."""
    where = getattr(parameter, "_kms_key", None)
    if where is None:
        return
    account_id, region, key_id = where
    key = _kms_backend(account_id, region).keys.get(key_id)
    if key is None:
        raise _kms_error(f"Key 'arn:aws:kms:{region}:{account_id}:key/{key_id}' does not exist", "NotFoundException")
    _check_usable(key)


# -- the encrypted value ---------------------------------------------------------------------------------
def _keystream(key: bytes, nonce: bytes, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(key + nonce + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]


def _encrypt(self: Any, value: str) -> str:
    """A deterministic, opaque base64 blob in place of the plaintext (moto stored 'kms:<key>:<plaintext>')."""
    key = hashlib.sha256(f"{self.account_id}|{self.keyid}".encode()).digest()
    data = value.encode()
    nonce = hashlib.sha256(f"{self.name}|{self.version}|{value}".encode()).digest()[:12]
    body = bytes(a ^ b for a, b in zip(data, _keystream(key, nonce, len(data)), strict=True))
    tag = hmac.new(key, nonce + body, hashlib.sha256).digest()[:16]
    blob = base64.b64encode(_KMS_BLOB_HEADER + key[:32] + nonce + body + tag).decode()
    self._secure_value = (blob, value)
    return blob


def _decrypt(self: Any, value: str) -> str | None:
    if self.parameter_type == "SecureString":
        stored = getattr(self, "_secure_value", None)
        if stored is not None and stored[0] == value:
            return stored[1]
    return _original_decrypt(self, value)


def _policies(self: Any) -> list[dict[str, str]] | None:
    """Each policy's text, type and status, as DescribeParameters answers (the sandbox never runs them)."""
    try:
        policies = json.loads(self.policies) if self.policies else []
    except ValueError:
        return None
    return [
        {
            "PolicyText": json.dumps(p, separators=(",", ":")),
            "PolicyType": p.get("Type", "") if isinstance(p, dict) else "",
            "PolicyStatus": "Pending",
        }
        for p in policies
    ] or None


def _response_object(self: Any, decrypt: bool = False, region: str | None = None) -> dict[str, Any]:
    if decrypt and self.parameter_type == "SecureString":
        _check_decryptable(self)
    answer = _original_response_object(self, decrypt, region)
    answer.pop("Policies", None)
    policies = _policies(self)
    if policies:
        answer["Policies"] = policies
    return answer


# -- PutParameter ----------------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not name or not isinstance(name, str):
        return  # moto and botocore answer a missing name
    if not _NAME_CHARACTERS.match(name):
        raise ValidationException(
            'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist '
            "of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the "
            "following 3 symbols .-_"
        )
    if "/" in name and not name.startswith("/"):
        raise ValidationException("Parameter name must be a fully qualified name.")
    if len([level for level in name.split("/") if level]) > MAX_LEVELS:
        raise HierarchyLevelLimitExceededException()


def _check_policies(policies: str | None) -> None:
    if not policies:
        return
    try:
        document = json.loads(policies)
    except ValueError:
        raise InvalidPolicyAttributeException() from None
    document = document if isinstance(document, list) else [document]
    if len(document) > MAX_POLICIES:
        raise PoliciesLimitExceededException()
    for policy in document:
        if not isinstance(policy, dict) or policy.get("Type") not in POLICY_TYPES:
            raise InvalidPolicyTypeException()
        if not isinstance(policy.get("Attributes"), dict):
            raise InvalidPolicyAttributeException()


def _tier(requested: str | None, previous: Any, default: str, size: int, policies: str | None) -> str:
    """The tier the parameter gets; ValidationException where AWS refuses the combination."""
    current = previous.tier if previous is not None and previous.tier else None
    tier = requested or current or default
    if tier == "Intelligent-Tiering":
        needs_advanced = size > STANDARD_MAX_BYTES or bool(policies) or current == "Advanced"
        tier = "Advanced" if needs_advanced else "Standard"
    if tier == "Standard" and current == "Advanced":
        raise ValidationException(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the "
            "advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced "
            "parameter and recreate it as a standard parameter. Be aware that standard parameters have a value "
            "limit of 4096 characters."
        )
    if tier == "Standard" and size > STANDARD_MAX_BYTES:
        raise ValidationException(
            "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
            "parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
            "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
        )
    if tier == "Advanced" and size > ADVANCED_MAX_BYTES:
        raise ValidationException(  # wording ours: AWS does not document this message
            "Advanced tier parameters support a maximum parameter value of 8192 characters."
        )
    if tier == "Standard" and policies:
        raise ValidationException(  # wording ours: AWS does not document this message
            "Parameter policies are supported only for parameters in the advanced-parameter tier. Use the "
            "Advanced (or Intelligent-Tiering) tier to assign policies."
        )
    return tier


def _put_parameter(
    self: Any,
    name: str,
    description: str,
    value: str,
    parameter_type: str,
    allowed_pattern: str,
    keyid: str,
    overwrite: bool,
    tags: list[dict[str, str]],
    data_type: str,
    tier: str | None,
    policies: str | None,
) -> Any:
    _check_name(name)
    versions = self._parameters.get(name) if name else None
    previous = versions[-1] if versions else None
    effective_type = parameter_type or (previous.parameter_type if previous is not None else None)
    if keyid and effective_type != "SecureString":
        raise ValidationException("KeyId is required for SecureString type parameter only.")
    _check_policies(policies)
    effective_policies = policies if policies is not None else (previous.policies if previous is not None else None)
    if previous is None or overwrite:  # moto answers ParameterAlreadyExists otherwise
        size = len(str(value if value is not None else "").encode())
        tier = _tier(tier, previous, self.default_parameter_tier, size, effective_policies)
    key = None
    if effective_type == "SecureString" and value and (previous is None or overwrite):
        if not keyid and previous is not None and previous.parameter_type == "SecureString":
            keyid = previous.keyid
        keyid = keyid or DEFAULT_KEY
        key = _find_key(self.account_id, self.region_name, keyid)
        _check_usable(key)
    parameter = _original_put_parameter(
        self,
        name,
        description,
        value,
        parameter_type,
        allowed_pattern,
        keyid,
        overwrite,
        tags,
        data_type,
        tier=tier,
        policies=policies,
    )
    if key is not None:
        parameter._kms_key = (key.account_id, key.region, key.id)
    return parameter


# -- LabelParameterVersion -------------------------------------------------------------------------------
def _label_parameter_version(self: Any, name: str, version: int, labels: list[str]) -> tuple[list[str], int]:
    """Labels beginning with aws or ssm in any case are invalid (moto checked lower case only)."""
    reserved = [label for label in labels if label.lower().startswith(("aws", "ssm"))]
    invalid, labelled = _original_label_parameter_version(self, name, version, [x for x in labels if x not in reserved])
    return [label for label in labels if label in reserved or label in invalid], labelled


def install() -> None:
    """Patch moto's Parameter model and the parameter actions of its Systems Manager backend."""
    ssm_models.Parameter.encrypt = _encrypt  # type: ignore[method-assign]
    ssm_models.Parameter.decrypt = _decrypt  # type: ignore[method-assign]
    ssm_models.Parameter.response_object = _response_object  # type: ignore[method-assign]
    ssm_models.SimpleSystemManagerBackend.put_parameter = _put_parameter  # type: ignore[method-assign]
    ssm_models.SimpleSystemManagerBackend.label_parameter_version = _label_parameter_version  # type: ignore[method-assign]
