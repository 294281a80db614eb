"""Checks of the module 'Parameter Store and configuration' (ssm-parameter-store)."""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox
from . import common

ENVIRONMENTS = ("dev", "prod")
PAYMENTS = {
    "instance-type": "String",
    "api-url": "String",
    "allowed-currencies": "StringList",
    "queue-visibility-timeout": "String",
}
LAB_KEY_ALIAS = "alias/payments-config"
ORDERS_KEY_ALIAS = "alias/orders-config"
ORDERS = {"api-url": "String", "feature-flags": "StringList", "db/password": "SecureString"}
RELEASE_PARAMETER = "/orders/prod/api-url"
APPROVED_SUFFIX = "/v2"  # the version QA approved is the one whose value ends with /v2
RELEASE_STACK = "orders-release"
RELEASED_PARAMETER = "/orders/prod/released/api-url"


def _by_path(ssm: Any, path: str) -> dict[str, dict[str, Any]]:
    """Every parameter under the path (recursively), by name, as GetParametersByPath answers (no decryption)."""
    found: dict[str, dict[str, Any]] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
        found.update({p["Name"]: p for p in page["Parameters"]})
    return found


def _metadata(ssm: Any, name: str) -> dict[str, Any]:
    """DescribeParameters' entry for one parameter (KeyId, Tier, Policies ...)."""
    answer = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    return answer["Parameters"][0]


def _key_id(kms: Any, key_ref: str) -> str | None:
    """The key id a KeyId (alias, ARN or id) names, or None when there is no such key."""
    try:
        return kms.describe_key(KeyId=key_ref)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        return None


def _check_hierarchy(ssm: Any, app: str, expected: dict[str, str], hint: str) -> dict[str, dict[str, Any]]:
    """Each environment's hierarchy holds the expected names with the expected types."""
    found: dict[str, dict[str, Any]] = {}
    for env in ENVIRONMENTS:
        under = _by_path(ssm, f"/{app}/{env}")
        for leaf, wanted in expected.items():
            name = f"/{app}/{env}/{leaf}"
            if name not in under:
                raise CheckFailed(f"GetParametersByPath(/{app}/{env}, Recursive) does not find {name}.", hint=hint)
            actual = under[name]["Type"]
            if actual != wanted:
                raise CheckFailed(
                    f"{name} is a {actual} parameter; it should be a {wanted}.",
                    hint=f"Delete it (ssm.delete_parameter) and put it again with Type='{wanted}'.",
                )
        found.update(under)
    return found


@lab_check("ssm-parameter-store.hierarchy", title="The payments configuration: one hierarchy per environment")
def check_hierarchy(sb: Sandbox) -> str:
    ssm = sb.client("ssm")
    _check_hierarchy(ssm, "payments", PAYMENTS, hint="Run the cells of part 1 again, from the sandbox cell down.")
    return (
        "/payments/dev and /payments/prod each hold instance-type, api-url, allowed-currencies (StringList) and "
        "queue-visibility-timeout."
    )


@lab_check("ssm-parameter-store.secure-strings", title="Two SecureStrings: the AWS managed key and a customer key")
def check_secure_strings(sb: Sandbox) -> str:
    ssm, kms = sb.client("ssm"), sb.client("kms")
    hint = "Run the cells of part 3 again, from the sandbox cell down."
    expectations = {"/payments/prod/db/password": "alias/aws/ssm", "/payments/prod/api-key": LAB_KEY_ALIAS}
    for name, key_alias in expectations.items():
        try:
            meta = _metadata(ssm, name)
        except IndexError:
            raise CheckFailed(f"There is no parameter {name}.", hint=hint) from None
        if meta["Type"] != "SecureString":
            raise CheckFailed(f"{name} is a {meta['Type']}, not a SecureString.", hint=hint)
        if _key_id(kms, meta["KeyId"]) != _key_id(kms, key_alias):
            raise CheckFailed(f"{name} is encrypted under {meta['KeyId']}, not {key_alias}.", hint=hint)
    state = kms.describe_key(KeyId=LAB_KEY_ALIAS)["KeyMetadata"]["KeyState"]
    if state != "Enabled":
        raise CheckFailed(
            f"The customer managed key {LAB_KEY_ALIAS} is {state}: nobody can read /payments/prod/api-key.",
            hint="Enable it again with kms.enable_key (the end of part 3).",
        )
    return "db/password is under the AWS managed key aws/ssm, api-key under the customer managed key, which is enabled."


@lab_check("ssm-parameter-store.cloudformation", title="The payments stack re-read Parameter Store when updated")
def check_cloudformation(sb: Sandbox) -> str:
    cfn, ssm = sb.client("cloudformation"), sb.client("ssm")
    hint = "Run the cells of part 6 again, from the sandbox cell down."
    stack = common.live_stack(cfn, "payments-config", hint, accept={"UPDATE_COMPLETE"})
    resolved = {p["ParameterKey"]: p.get("ResolvedValue") for p in stack["Parameters"]}
    current = ssm.get_parameter(Name="/payments/prod/instance-type")["Parameter"]["Value"]
    if resolved.get("InstanceType") != current:
        raise CheckFailed(
            f"The stack resolved InstanceType to {resolved.get('InstanceType')}, but Parameter Store holds {current}.",
            hint="Update the stack (UsePreviousValue for the SSM parameters): CloudFormation fetches their latest "
            "values at every update.",
        )
    return f"The stack's InstanceType resolves to {current}, the parameter's latest version, after the update."


# -- the exercise ----------------------------------------------------------------------------------------
SETUP_HINT = "Run the exercise's setup cell, then your exercise cell."


def _check_orders_key(ssm: Any, kms: Any, orders_key: str) -> None:
    for env in ENVIRONMENTS:
        name = f"/orders/{env}/db/password"
        key_ref = _metadata(ssm, name)["KeyId"]
        if _key_id(kms, key_ref) != orders_key:
            which = "the AWS managed key (alias/aws/ssm)" if key_ref == "alias/aws/ssm" else key_ref
            raise CheckFailed(
                f"{name} is encrypted under {which}, not the customer managed key {ORDERS_KEY_ALIAS}.",
                hint=f"Put a new version with KeyId='{ORDERS_KEY_ALIAS}' (and Overwrite=True): the key of a "
                "SecureString is chosen when a version is written.",
            )
        try:
            ssm.get_parameter(Name=name, WithDecryption=True)
        except ssm.exceptions.ClientError as error:
            raise CheckFailed(
                f"{name} can't be decrypted: {error.response['Error']['Message']}",
                hint=f"Is the key {ORDERS_KEY_ALIAS} disabled? Enable it again with kms.enable_key.",
            ) from None


def _release_version(ssm: Any) -> dict[str, Any]:
    """The version of /orders/prod/api-url that carries the label release, with its value."""
    history = ssm.get_parameter_history(Name=RELEASE_PARAMETER)["Parameters"]
    labelled = [v for v in history if "release" in v.get("Labels", [])]
    approved = [v["Version"] for v in history if v["Value"].endswith(APPROVED_SUFFIX)]
    if not labelled:
        raise CheckFailed(
            f"No version of {RELEASE_PARAMETER} has the label release.",
            hint=f"Label the QA-approved version (its value ends with {APPROVED_SUFFIX}, version "
            f"{approved[0] if approved else '?'}): ssm.label_parameter_version(Name=..., ParameterVersion=..., "
            "Labels=['release']).",
        )
    release = labelled[0]
    if not release["Value"].endswith(APPROVED_SUFFIX):
        raise CheckFailed(
            f"The label release is on version {release['Version']} of {RELEASE_PARAMETER} ({release['Value']}), which "
            "QA has not approved.",
            hint=f"Move the label to the version whose value ends with {APPROVED_SUFFIX} (version "
            f"{approved[0] if approved else '?'}): labelling another version moves the label.",
        )
    return release


@lab_check(
    "ssm-parameter-store.release", title="Exercise: two environments, a customer key, a labelled release", exercise=True
)
def check_release(sb: Sandbox) -> str:
    ssm, kms, cfn = sb.client("ssm"), sb.client("kms"), sb.client("cloudformation")
    try:
        ssm.get_parameter(Name=RELEASE_PARAMETER)
    except ssm.exceptions.ParameterNotFound:
        raise CheckFailed(f"There is no parameter {RELEASE_PARAMETER}.", hint=SETUP_HINT) from None
    orders_key = _key_id(kms, ORDERS_KEY_ALIAS)
    if orders_key is None:
        raise CheckFailed(
            f"There is no KMS key with the alias {ORDERS_KEY_ALIAS}.",
            hint="Create a customer managed key (kms.create_key) and give it the alias (kms.create_alias).",
        )
    _check_hierarchy(
        ssm,
        "orders",
        ORDERS,
        hint="Each environment needs api-url (String), feature-flags (StringList) and db/password (SecureString); "
        "prod's api-url exists already.",
    )
    _check_orders_key(ssm, kms, orders_key)
    release = _release_version(ssm)
    deploy_hint = (
        f"Create the stack {RELEASE_STACK} from templates/ssm-parameter-store/orders-release.yaml with ReleaseVersion "
        f"= {release['Version']}, the version labelled release (ssm.get_parameter(Name='{RELEASE_PARAMETER}:release'))."
    )
    stack = common.live_stack(cfn, RELEASE_STACK, deploy_hint, accept=common.USABLE)
    deployed = common.parameter(stack, "ReleaseVersion")
    if deployed != str(release["Version"]):
        raise CheckFailed(
            f"{RELEASE_STACK} was deployed with ReleaseVersion {deployed}, but the label release is on version "
            f"{release['Version']}.",
            hint=f"Update the stack with ReleaseVersion={release['Version']} (UsePreviousTemplate=True).",
        )
    released = ssm.get_parameter(Name=RELEASED_PARAMETER)["Parameter"]["Value"]
    if released != release["Value"]:
        raise CheckFailed(
            f"{RELEASED_PARAMETER} holds {released}, not {release['Value']} (version {release['Version']}).",
            hint="Update the stack so that CloudFormation resolves the dynamic reference again.",
        )
    return (
        f"dev and prod have their hierarchies, both passwords are under {ORDERS_KEY_ALIAS}, release labels version "
        f"{release['Version']} ({release['Value']}), and {RELEASE_STACK} deployed exactly that version."
    )
