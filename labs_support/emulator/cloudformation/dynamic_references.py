"""Dynamic references ({{resolve:ssm:...}}, {{resolve:ssm-secure:...}}, {{resolve:secretsmanager:...}}).

Two hooks the engine calls: `check_template` when the API receives a template (what AWS rejects at once),
and `resolve_in_properties` when a resource's properties are resolved (the values are fetched then, from
the sandbox's Parameter Store and Secrets Manager of the stack's account and Region).

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html and the pages it
links (-ssm, -ssm-secure-strings, -secretsmanager). Messages the documentation does not print come from
AWS's own output: "Incorrect format ...", "SSM Secure reference is not supported in: [...]", "Non-secure
ssm prefix ...", "Could not find a value associated with JSONKey in SecretString" and "Could not parse
SecretString JSON" as recorded against real stacks in cdktn-io/terraform-provider-cfncompat
(RFCs/dynamic-ssm/live-test-results.md); "Parameters: [ssm:name] cannot be found." from
aws-samples/data-mesh-datazone-cdk-cloudformation#19; "Secrets Manager can't find the specified secret.
(Service: AWSSecretsManager; ...)" from aws-cloudformation/cloudformation-coverage-roadmap#1187.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from moto.moto_api._internal import mock_random

from .errors import ResourceFailure, SandboxNotSupported, ValidationError
from .schema import is_custom_type

_REFERENCE = re.compile(r"\{\{resolve:([^}]*)\}\}")
_SSM_KEY = re.compile(r"([a-zA-Z0-9_.\-/]+)(?::(\d+))?")
SERVICES = ("ssm", "ssm-secure", "secretsmanager")
MAX_REFERENCES = 60

# The only properties where AWS accepts {{resolve:ssm-secure:...}} (the table "Resources that support
# dynamic parameter patterns for secure strings"; list items are not path segments).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html
SSM_SECURE_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::DirectoryService::MicrosoftAD": frozenset({"Password"}),
    "AWS::DirectoryService::SimpleAD": frozenset({"Password"}),
    "AWS::ElastiCache::ReplicationGroup": frozenset({"AuthToken"}),
    "AWS::IAM::User": frozenset({"LoginProfile/Password"}),
    "AWS::KinesisFirehose::DeliveryStream": frozenset({"RedshiftDestinationConfiguration/Password"}),
    "AWS::OpsWorks::App": frozenset({"AppSource/Password"}),
    "AWS::OpsWorks::Stack": frozenset({"CustomCookbooksSource/Password", "RdsDbInstances/DbPassword"}),
    "AWS::RDS::DBCluster": frozenset({"MasterUserPassword"}),
    "AWS::RDS::DBInstance": frozenset({"MasterUserPassword"}),
    "AWS::Redshift::Cluster": frozenset({"MasterUserPassword"}),
}


@dataclass(frozen=True)
class Reference:
    """One {{resolve:service:key}} as written."""

    text: str
    service: str
    key: str

    @property
    def templated(self) -> bool:
        """Still holds an Fn::Sub variable: known only once intrinsic functions are evaluated."""
        return "${" in self.text


@dataclass(frozen=True)
class _Found:
    """A reference and where it sits in a resource's properties."""

    reference: Reference
    path: str  # property keys, list items skipped: what the allow-list of ssm-secure is written in
    shown: str  # the path as AWS prints it in "SSM Secure reference is not supported in: [...]"


def references_in(text: str) -> list[Reference]:
    """The dynamic references in a string, in order."""
    found = []
    for match in _REFERENCE.finditer(text):
        service, _, key = match.group(1).partition(":")
        found.append(Reference(match.group(0), service, key))
    return found


def _is_function(value: dict[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _walk(value: Any, keys: tuple[str, ...] = (), shown: tuple[str, ...] = (), item: bool = False) -> Iterator[_Found]:
    """Every reference in a (possibly unevaluated) fragment with its property path.

    Paths leave out list positions. AWS's message also stops at the list for a value that sits in an object
    of a list (a tag's Value, an environment entry's Value): AWS::IAM::Role/Properties/Tags,
    AWS::ECS::TaskDefinition/Properties/ContainerDefinitions/Environment. Inside an intrinsic function the
    path stays at the property that holds the function. `item`: `value` is an object in a list.
    """
    if isinstance(value, str):
        for reference in references_in(value):
            yield _Found(reference, "/".join(keys), "/".join(shown))
    elif isinstance(value, list):
        for element in value:
            yield from _walk(element, keys, shown, item=isinstance(element, dict))
    elif isinstance(value, dict) and _is_function(value):
        for argument in value.values():
            yield from _walk_function(argument, keys, shown)
    elif isinstance(value, dict):
        for key, child in value.items():
            leaf = isinstance(child, str) or (isinstance(child, dict) and _is_function(child))
            yield from _walk(child, (*keys, str(key)), shown if item and leaf else (*shown, str(key)))


def _walk_function(value: Any, keys: tuple[str, ...], shown: tuple[str, ...]) -> Iterator[_Found]:
    """References inside an intrinsic function's arguments, all at the path of the property that holds it."""
    if isinstance(value, str):
        yield from _walk(value, keys, shown)
    elif isinstance(value, list):
        for element in value:
            yield from _walk_function(element, keys, shown)
    elif isinstance(value, dict):
        for child in value.values():
            yield from _walk_function(child, keys, shown)


# -- the sandbox's stores ----------------------------------------------------------------------------------
def _ssm_parameter(account_id: str, region: str, name: str, version: str | None) -> Any:
    """The moto Parameter for name[:version], or None."""
    from moto.ssm.models import ssm_backends

    try:
        return ssm_backends[account_id][region].get_parameter(f"{name}:{version}" if version else name)
    except Exception:  # moto raises ParameterVersionNotFound for a version that does not exist
        return None


def _not_found(reference: Reference) -> str:
    return f"Parameters: [{reference.service}:{reference.key}] cannot be found."


def _incorrect_format(reference: Reference) -> str:
    return f"Incorrect format is used in the following SSM reference: [{reference.text}]"


def _non_secure(name: str) -> str:
    return f"Non-secure ssm prefix was used for secure parameter {name}"


def _property_path(resource_type: str, path: str) -> str:
    return f"{resource_type}/Properties/{path}" if path else f"{resource_type}/Properties"


def _secure_not_supported(paths: list[str]) -> str:
    return f"SSM Secure reference is not supported in: [{','.join(paths)}]"


def _secure_allowed(resource_type: str, path: str) -> bool:
    return path in SSM_SECURE_PROPERTIES.get(resource_type, frozenset())


@dataclass(frozen=True)
class _SecretReference:
    secret_id: str
    json_key: str
    version_stage: str
    version_id: str


def _secret_reference(reference: Reference) -> _SecretReference | None:
    """secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]; None if it has another shape.

    The secret id may be an ARN, which has colons of its own (arn:aws:secretsmanager:region:account:secret:name).
    """
    parts = reference.key.split(":")
    size = 7 if parts[0] == "arn" else 1
    secret_id, rest = ":".join(parts[:size]), parts[size:]
    if not secret_id or len(parts) < size or len(rest) > 4 or (rest and rest[0] not in ("SecretString", "")):
        return None
    json_key, stage, version_id = [*rest[1:], "", "", ""][:3]
    return _SecretReference(secret_id, json_key, stage, version_id)


def _secret_account(secret_id: str) -> str | None:
    return secret_id.split(":")[4] if secret_id.startswith("arn:") else None


def _sdk_error(code: str, message: str) -> str:
    """A service error as CloudFormation quotes it (the AWS SDK for Java's wording)."""
    return (
        f"{message} (Service: AWSSecretsManager; Status Code: 400; Error Code: {code}; "
        f"Request ID: {mock_random.uuid4()}; Proxy: null)"
    )


def _secret_value(account_id: str, region: str, reference: Reference) -> str:
    """The text a secretsmanager reference stands for; ResourceFailure with AWS's reason if there is none."""
    from moto.secretsmanager.exceptions import SecretsManagerClientError
    from moto.secretsmanager.models import secretsmanager_backends

    parsed = _secret_reference(reference)
    if parsed is None:
        raise ResourceFailure(_secret_format_sentence(reference))
    owner = _secret_account(parsed.secret_id)
    if owner is not None and owner != account_id:
        raise ResourceFailure(_cross_account_sentence(reference))
    backend = secretsmanager_backends[account_id][region]
    try:
        version = backend.get_secret_value(
            parsed.secret_id,
            parsed.version_id or None,
            parsed.version_stage or None,  # type: ignore[arg-type]
        )
    except SecretsManagerClientError as e:
        message = e.message
        if e.error_type == "InvalidRequestException":  # moto's text for a secret marked for deletion is garbled
            message = "You can't perform this operation on the secret because it was marked for deletion."
        raise ResourceFailure(_sdk_error(e.error_type, message)) from None
    text = version.get("SecretString")
    if text is None:
        raise ResourceFailure(
            f"The secret in {reference.text} holds only a SecretBinary, and a dynamic reference reads SecretString "
            "only: AWS fails the resource, and the course sandbox does not know the exact reason it gives."
        )
    if not parsed.json_key:
        return str(text)
    try:
        document = json.loads(text)
    except ValueError:
        raise ResourceFailure("Could not parse SecretString JSON") from None
    if not isinstance(document, dict):
        raise ResourceFailure("Could not parse SecretString JSON")
    if parsed.json_key not in document:
        raise ResourceFailure("Could not find a value associated with JSONKey in SecretString")
    value = document[parsed.json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _secret_format_sentence(reference: Reference) -> str:
    return (
        f"The course sandbox does not know how AWS answers {reference.text}: a secretsmanager reference is "
        "secret-id:SecretString:json-key:version-stage:version-id, each part after the secret id optional."
    )


def _cross_account_sentence(reference: Reference) -> str:
    return (
        f"The course sandbox does not read secrets from another account ({reference.text}); on AWS that needs "
        "a resource policy on the secret and a customer managed KMS key, which the sandbox does not check."
    )


def _ssm_value(account_id: str, region: str, reference: Reference, *, secure: bool) -> str:
    """The value of an ssm or ssm-secure reference; ResourceFailure with AWS's reason if there is none."""
    match = _SSM_KEY.fullmatch(reference.key)
    if match is None:
        raise ResourceFailure(_incorrect_format(reference))
    name, version = match.groups()
    parameter = _ssm_parameter(account_id, region, name, version)
    if parameter is None:
        raise ResourceFailure(_not_found(reference))
    if parameter.parameter_type == "SecureString":
        if not secure:
            raise ResourceFailure(_non_secure(name))
        return str(parameter.decrypt(parameter.value))
    return str(parameter.value)  # a StringList comes back as stored: comma-separated, untrimmed


# -- the hooks ---------------------------------------------------------------------------------------------
def check_template(
    resources: dict[str, Any],
    *,
    parameters: dict[str, Any] | None = None,
    account_id: str | None = None,
    region: str | None = None,
) -> None:
    """Reject, as AWS does when the API is called, a template whose dynamic references cannot work.

    With `parameters` (the template's Parameters section), an unversioned ssm reference in a Default is
    refused; with `account_id` and `region`, ssm references must name parameters that exist there.
    """
    found: list[tuple[str, _Found]] = []  # (resource type, reference)
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        if any(True for _ in _walk(resource.get("Metadata"))):
            raise SandboxNotSupported(
                f"The course sandbox does not resolve dynamic references in resource Metadata ({logical_id}); "
                "on AWS, ssm references there are resolved and secret references are not allowed."
            )
        found += [(str(resource.get("Type", "")), f) for f in _walk(resource.get("Properties"))]
    in_defaults = [(key, r) for key, text in _parameter_defaults(parameters or {}) for r in references_in(text)]
    references = [f.reference for _, f in found] + [r for _, r in in_defaults]
    if len(references) > MAX_REFERENCES:
        raise SandboxNotSupported(
            f"A stack template can hold at most {MAX_REFERENCES} dynamic references; AWS rejects this one, "
            "and the course sandbox does not know the exact message."
        )
    for reference in references:
        _check_form(reference)
    for key, reference in in_defaults:
        match = _SSM_KEY.fullmatch(reference.key)
        if reference.service == "ssm" and match is not None and match.group(2) is None:
            raise ValidationError(f"Template error: parameter {key} should not contain ssm versionless resolver")
    _check_secure_placement(found)
    if account_id is None or region is None:
        return
    _check_ssm_parameters_exist(references, account_id, region)
    for reference in references:
        parsed = _secret_reference(reference) if reference.service == "secretsmanager" else None
        owner = _secret_account(parsed.secret_id) if parsed and not reference.templated else None
        if owner is not None and owner != account_id:
            raise SandboxNotSupported(_cross_account_sentence(reference))


def _parameter_defaults(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (key, spec["Default"])
        for key, spec in parameters.items()
        if isinstance(spec, dict) and isinstance(spec.get("Default"), str)
    ]


def _check_form(reference: Reference) -> None:
    """Service and shape, as far as they are known before intrinsic functions run."""
    if reference.templated:
        return
    if reference.service not in SERVICES:
        raise SandboxNotSupported(
            f"The course sandbox resolves ssm, ssm-secure and secretsmanager dynamic references only; "
            f"{reference.text} names another service."
        )
    if reference.text.endswith("\\}}"):
        raise SandboxNotSupported(
            f"{reference.text} ends with a backslash, which AWS cannot resolve (the resource fails); the course "
            "sandbox does not know the exact reason AWS gives."
        )
    if reference.service in ("ssm", "ssm-secure") and _SSM_KEY.fullmatch(reference.key) is None:
        raise ValidationError(_incorrect_format(reference))
    if reference.service == "secretsmanager" and _secret_reference(reference) is None:
        raise SandboxNotSupported(_secret_format_sentence(reference))


def _check_secure_placement(found: list[tuple[str, _Found]]) -> None:
    """A versioned ssm-secure reference outside the supported properties is refused at the API.

    AWS checks an unversioned one only once the operation has started (resolve_in_properties does).
    """
    refused = []
    for resource_type, f in found:
        reference = f.reference
        if reference.service != "ssm-secure" or reference.templated or _secure_allowed(resource_type, f.path):
            continue
        if _SSM_KEY.fullmatch(reference.key).group(2) is not None:  # type: ignore[union-attr]
            refused.append(_property_path(resource_type, f.shown))
    if refused:
        raise ValidationError(_secure_not_supported(refused))


def _check_ssm_parameters_exist(references: list[Reference], account_id: str, region: str) -> None:
    missing: list[str] = []
    for reference in references:
        if reference.service != "ssm" or reference.templated:
            continue
        name, version = _SSM_KEY.fullmatch(reference.key).groups()  # type: ignore[union-attr]
        parameter = _ssm_parameter(account_id, region, name, version)
        if parameter is None:
            entry = f"{reference.service}:{reference.key}"
            if entry not in missing:
                missing.append(entry)
        elif parameter.parameter_type == "SecureString":
            raise ValidationError(_non_secure(name))
    if missing:
        raise ValidationError(f"Parameters: [{', '.join(missing)}] cannot be found.")


def resolve_in_properties(
    properties: dict[str, Any],
    *,
    account_id: str,
    region: str,
    resource_type: str,
    logical_id: str,
    services: Collection[str] = SERVICES,
) -> dict[str, Any]:
    """The properties with every dynamic reference replaced by its value (ResourceFailure if one has none).

    A custom resource receives secretsmanager references as written: AWS does not resolve secure values
    for custom resources. References to services not in `services` are kept as written (what a change set
    or an update compares: AWS compares ssm-secure and secretsmanager references by their text).
    """
    found = list(_walk(properties))
    if not found:
        return properties
    refused = [
        _property_path(resource_type, f.shown)
        for f in found
        if f.reference.service == "ssm-secure" and not _secure_allowed(resource_type, f.path)
    ]
    if refused:
        raise ResourceFailure(_secure_not_supported(refused))
    custom = is_custom_type(resource_type)

    def value_of(reference: Reference) -> str:
        if reference.service in SERVICES and reference.service not in services:
            return reference.text
        if reference.service == "ssm":
            return _ssm_value(account_id, region, reference, secure=False)
        if reference.service == "ssm-secure":
            return _ssm_value(account_id, region, reference, secure=True)
        if reference.service == "secretsmanager":
            return reference.text if custom else _secret_value(account_id, region, reference)
        raise ResourceFailure(
            f"The course sandbox resolves ssm, ssm-secure and secretsmanager dynamic references only; "
            f"{reference.text} in {logical_id} names another service."
        )

    return _substitute(properties, value_of)


def _substitute(value: Any, value_of: Callable[[Reference], str]) -> Any:
    if isinstance(value, str):
        if "{{resolve:" not in value:
            return value
        return _REFERENCE.sub(lambda m: value_of(references_in(m.group(0))[0]), value)
    if isinstance(value, list):
        return [_substitute(v, value_of) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, value_of) for k, v in value.items()}
    return value
