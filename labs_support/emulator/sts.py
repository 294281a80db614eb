"""STS: AssumeRole works only for a role that exists and whose trust policy lets the caller in.

moto hands out credentials for any role ARN, even one that does not exist, which hides the most common
cross-account mistake. AWS refuses with AccessDenied unless the role exists and its trust policy allows
the caller. We evaluate the trust policy's Principal and Action (Allow and Deny statements); conditions
(ExternalId, MFA, aws:PrincipalOrgID ...) are not evaluated, and neither is the caller's own IAM
permission to call sts:AssumeRole (moto does not enforce identity policies by default).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.responses import TokenResponse

_original_assume_role = TokenResponse.assume_role
_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")
_ASSUMED_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _caller_principals(caller_arn: str, account_id: str) -> set[str]:
    """The principal strings a trust policy may name to admit this caller."""
    names = {caller_arn, account_id, f"arn:aws:iam::{account_id}:root"}
    m = _ASSUMED_ROLE_ARN.match(caller_arn)
    if m:  # a role session is admitted by the role's own ARN
        names.add(f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}")
    return names


def _statement_matches(statement: dict, principals: set[str]) -> bool:
    actions = [a.lower() for a in _as_list(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase("sts:assumerole", a) for a in actions):
        return False
    principal = statement.get("Principal", {})
    if principal == "*":
        return True
    aws = _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
    return "*" in aws or bool(principals.intersection(aws))


def trust_allows(trust_policy: str | dict, caller_arn: str, caller_account: str) -> bool:
    """Evaluate a role trust policy for sts:AssumeRole by this caller (an explicit Deny wins)."""
    doc = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    principals = _caller_principals(caller_arn, caller_account)
    statements = _as_list(doc.get("Statement", []))
    if any(s.get("Effect") == "Deny" and _statement_matches(s, principals) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _statement_matches(s, principals) for s in statements)


def _assume_role(self: TokenResponse):  # type: ignore[no-untyped-def]
    role_arn = self._get_param("RoleArn") or ""
    caller_account = self.get_current_account()
    _, caller_arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
    denied = STSClientError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
    )
    m = _ROLE_ARN.match(role_arn)
    if not m:
        raise STSClientError("ValidationError", f"{role_arn} is not a valid role ARN")
    account_id, role_name = m.groups()
    roles = iam_backends[account_id]["aws"].roles.values()
    role = next((r for r in roles if r.name == role_name), None)
    if role is None or not trust_allows(role.assume_role_policy_document, caller_arn, caller_account):
        raise denied
    return _original_assume_role(self)


def install() -> None:
    """Replace the STS AssumeRole action with one that checks the role and its trust policy."""
    TokenResponse.assume_role = _assume_role  # type: ignore[method-assign]
