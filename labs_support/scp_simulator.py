"""What AWS would decide about a request under an organization's service control policies (SCPs).

The sandbox stores SCPs but never enforces them (moto does not evaluate them): every sandbox call succeeds,
whatever the SCPs say. `scp_decision` reads the organization through the Organizations API (list_roots,
list_parents, list_policies_for_target, describe_policy) and applies AWS's documented evaluation logic only:

- SCPs never affect the management account, nor service-linked roles
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html);
- at every level from the root through each OU to the account, an attached SCP must allow the action, and a
  Deny that matches at any level wins
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html);
- Action and NotAction with * and ? wildcards, matched case-insensitively; Condition operators String(Not)Equals,
  String(Not)Like, Arn(Not)Equals and Arn(Not)Like on aws:RequestedRegion and aws:PrincipalArn
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

Limits, said in every decision they touch: only statements with Resource "*" are evaluated; a condition on a
key whose value was not given (AWS always knows it), or on another key or operator, counts as not matching.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .show import _table

SCP = "SERVICE_CONTROL_POLICY"
SERVICE_LINKED = ":role/aws-service-role/"
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", *_NEGATED}


@dataclass
class Level:
    """One level of the path: the root, an OU or the account, and what each of its SCPs says."""

    kind: str  # "root", "OU" or "account"
    name: str
    target_id: str
    verdicts: list[tuple[str, str]] = field(default_factory=list)  # (policy name, allows / denies / does not apply)

    @property
    def label(self) -> str:
        return "the root" if self.kind == "root" else f"{self.kind} {self.name}"


@dataclass
class Decision:
    """AWS's SCP decision for one request, with the levels it evaluated (root -> OUs -> account)."""

    request: str
    allowed: bool
    decision: str
    path: list[Level] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        lines = [self.request]
        lines += [f"  {lv.kind:7} {lv.name:22} " + " · ".join(f"{p}: {v}" for p, v in lv.verdicts) for lv in self.path]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join([*lines, self.decision])

    def _repr_html_(self) -> str:
        colour = "#3a9d5d" if self.allowed else "#d0453b"
        rows = [
            [
                html.escape(lv.kind),
                f"<b>{html.escape(lv.name)}</b>",
                "<br>".join(_verdict(p, v) for p, v in lv.verdicts),
            ]
            for lv in self.path
        ]
        notes = "".join(f"<br><i>note: {html.escape(n)}</i>" for n in self.notes)
        table = _table(["level", "target", "attached SCPs"], rows) if rows else ""
        return (
            f"<div><code>{html.escape(self.request)}</code>{table}{notes}"
            f'<br><b style="color:{colour}">{html.escape(self.decision)}</b></div>'
        )


def _verdict(policy: str, verdict: str) -> str:
    colour = {"allows": "#3a9d5d", "denies": "#d0453b"}.get(verdict, "#8a8a8a")
    return f'<code>{html.escape(policy)}</code>: <span style="color:{colour}">{verdict}</span>'


# -- matching -----------------------------------------------------------------------------------------------
def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals: each of the six colon-separated parts matched on its own, wildcards allowed."""
    parts, values = pattern.split(":", 5), arn.split(":", 5)
    return len(parts) == len(values) == 6 and all(_wildcard(p, v) for p, v in zip(parts, values, strict=True))


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _condition_holds(condition: dict[str, Any], context: dict[str, str | None], notes: set[str]) -> bool:
    """Every operator and key of the Condition block must hold (AND); the values of one key are ORed."""
    for operator, keys in condition.items():
        for key, values in keys.items():
            if operator not in _OPERATORS or key.lower() not in context:
                notes.add(f"the condition {operator} on {key} is not evaluated here: it counts as not matching")
                return False
            actual = context[key.lower()]
            if actual is None:
                notes.add(f"no {key} was given: the condition {operator} on it counts as not matching")
                return False
            if operator.startswith("Arn"):
                match = _arn_like
            elif operator.endswith("Like"):
                match = _wildcard
            else:
                match = str.__eq__  # StringEquals is exact and case-sensitive
            found = any(match(v, actual) for v in _listed(values))
            if found == (operator in _NEGATED):
                return False
    return True


def _statement_applies(st: dict[str, Any], action: str, context: dict[str, str | None], notes: set[str]) -> bool:
    if "Action" in st:
        if not any(_wildcard(a, action, ignore_case=True) for a in _listed(st["Action"])):
            return False
    elif any(_wildcard(a, action, ignore_case=True) for a in _listed(st.get("NotAction"))):
        return False
    if _listed(st.get("Resource")) != ["*"]:
        notes.add("a statement that names resources other than * is not evaluated here")
        return False
    return _condition_holds(st.get("Condition") or {}, context, notes)


def policy_verdict(document: dict[str, Any], action: str, context: dict[str, str | None], notes: set[str]) -> str:
    """'denies', 'allows' or 'does not apply': what one SCP says about the request."""
    statements = [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]
    applying = [s.get("Effect") for s in statements if _statement_applies(s, action, context, notes)]
    return "denies" if "Deny" in applying else "allows" if "Allow" in applying else "does not apply"


# -- the organization ---------------------------------------------------------------------------------------
def _request(action: str, region: str | None, principal_arn: str | None, where: str) -> str:
    return f"{action} in {region or '(Region not given)'} by {principal_arn or '(principal not given)'}, {where}"


def decide_on_path(
    org: Any, path_ids: list[str], action: str, region: str | None = None, principal_arn: str | None = None
) -> Decision:
    """The decision for a request made under the given targets (root id first, then OU ids, then the account)."""
    context = {"aws:requestedregion": region, "aws:principalarn": principal_arn}
    notes: set[str] = set()
    path: list[Level] = []
    for target in path_ids:
        if target.startswith("r-"):
            level = Level("root", "Root", target)
        elif target.startswith("ou-"):
            name = org.describe_organizational_unit(OrganizationalUnitId=target)["OrganizationalUnit"]["Name"]
            level = Level("OU", name, target)
        else:
            level = Level("account", org.describe_account(AccountId=target)["Account"]["Name"], target)
        pages = org.get_paginator("list_policies_for_target").paginate(TargetId=target, Filter=SCP)
        for summary in (p for page in pages for p in page["Policies"]):
            document = json.loads(org.describe_policy(PolicyId=summary["Id"])["Policy"]["Content"])
            level.verdicts.append((summary["Name"], policy_verdict(document, action, context, notes)))
        path.append(level)
    last = path[-1]
    where = f"account {last.name} ({last.target_id})" if last.kind == "account" else f"in {last.label}"
    request = _request(action, region, principal_arn, where)
    denied = [(lv, p) for lv in path for p, v in lv.verdicts if v == "denies"]
    unallowed = [lv for lv in path if not any(v == "allows" for _, v in lv.verdicts)]
    if denied:
        level, policy = denied[0]
        decision = f"denied: explicit deny in {policy} attached to {level.label}"
    elif unallowed:
        decision = f"denied: no SCP at {unallowed[0].label} allows it"
    else:
        decision = "allowed by SCPs"
    return Decision(request, not (denied or unallowed), decision, path, sorted(notes))


def scp_decision(
    sb: Any, account: str, action: str, region: str | None = None, principal_arn: str | None = None
) -> Decision:
    """What AWS would decide, under the organization's SCPs, about `action` requested in a member account.

    `account` is a name from sb.accounts or an account id. The sandbox itself never enforces SCPs.
    """
    org = sb.client("organizations")
    account_id = sb.account_id(account)
    name = org.describe_account(AccountId=account_id)["Account"]["Name"]
    request = _request(action, region, principal_arn, f"account {name} ({account_id})")
    if account_id == org.describe_organization()["Organization"]["MasterAccountId"]:
        return Decision(request, True, "not affected: SCPs never restrict the management account")
    if principal_arn and SERVICE_LINKED in principal_arn:
        return Decision(request, True, "not affected: SCPs never restrict service-linked roles")
    root = org.list_roots()["Roots"][0]
    if not any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", [])):
        return Decision(request, True, "not affected: the SCP policy type is not enabled in the root")
    path_ids, child = [account_id], account_id
    while not child.startswith("r-"):
        child = org.list_parents(ChildId=child)["Parents"][0]["Id"]
        path_ids.insert(0, child)
    return decide_on_path(org, path_ids, action, region, principal_arn)
