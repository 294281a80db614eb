"""Checks of the module 'Organizations, SCPs, Control Tower and Service Catalog' (organizations).

SCPs are judged with labs_support.scp_simulator, which reads the organization through the Organizations API and
applies AWS's documented evaluation logic (the sandbox stores SCPs but does not enforce them).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox
from ..scp_simulator import SCP, decide_on_path, scp_decision

WORKLOAD_OUS = ("Workloads-NonProd", "Workloads-Prod")
BASELINE_OUS = ("Security", "Workloads-NonProd", "Workloads-Prod")
BASELINE_REGIONS = {"us-east-1", "eu-west-1"}
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
PART2_HINT = "Run the cells of part 2 again, from the sandbox cell down."
PART3_HINT = "Run the cells of part 3 again, from the sandbox cell down."


def _developer(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/developer"


def _attached(org: Any, target: str) -> dict[str, str]:
    """Names -> ids of the SCPs attached directly to a root, OU or account."""
    return {p["Name"]: p["Id"] for p in org.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]}


def _expect(decision: Any, allowed: bool, what: str, hint: str) -> None:
    if decision.allowed != allowed:
        raise CheckFailed(f"{what}: AWS would decide '{decision.decision}'.", hint=hint)


# -- the lab, part 2: guardrails on the workload OUs ----------------------------------------------------------
@lab_check("organizations.guardrails", title="The workload OUs have their Region guardrail and cannot leave")
def guardrails(sb: Sandbox) -> str:
    org = sb.client("organizations")
    root = org.list_roots()["Roots"][0]
    if not any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", [])):
        raise CheckFailed("The SCP policy type is not enabled in the root.", hint=PART2_HINT)
    for ou in WORKLOAD_OUS:
        attached = _attached(org, sb.organization["ous"][ou])
        missing = [p for p in ("region-guardrail", "deny-leave-organization") if p not in attached]
        if missing:
            raise CheckFailed(f"OU {ou} does not have {' and '.join(missing)} attached.", hint=PART2_HINT)
        if "FullAWSAccess" not in attached:
            raise CheckFailed(
                f"OU {ou} has no FullAWSAccess any more: with deny-only SCPs left, nothing is allowed in it.",
                hint="Attach FullAWSAccess (p-FullAWSAccess) to the OU again, as the end of part 2 does.",
            )
    dev = sb.account_id("dev")
    _expect(
        scp_decision(sb, "dev", "s3:CreateBucket", "ap-southeast-2", _developer(dev)),
        False,
        "A developer in dev creating a bucket in ap-southeast-2",
        "The Region guardrail must deny actions outside us-east-1 and eu-west-1: " + PART2_HINT,
    )
    _expect(
        scp_decision(sb, "dev", "s3:CreateBucket", "eu-west-1", _developer(dev)),
        True,
        "A developer in dev creating a bucket in eu-west-1",
        "eu-west-1 is an approved Region: " + PART2_HINT,
    )
    _expect(
        scp_decision(sb, "dev", "s3:CreateBucket", "ap-southeast-2", f"arn:aws:iam::{dev}:role/BreakGlass"),
        True,
        "The BreakGlass role in dev creating a bucket in ap-southeast-2",
        "The guardrail exempts the BreakGlass role with ArnNotLike on aws:PrincipalARN: " + PART2_HINT,
    )
    _expect(
        scp_decision(sb, "prod", "organizations:LeaveOrganization", "us-east-1", _developer(sb.account_id("prod"))),
        False,
        "prod leaving the organization",
        PART2_HINT,
    )
    return (
        "Both workload OUs have FullAWSAccess, region-guardrail and deny-leave-organization: outside us-east-1 and "
        "eu-west-1 only BreakGlass may act, and no workload account can leave the organization."
    )


# -- the lab, part 3: the security baseline -------------------------------------------------------------------
@lab_check("organizations.baseline", title="Every account of the targeted OUs has the security baseline")
def baseline(sb: Sandbox) -> str:
    cfn, org = sb.client("cloudformation"), sb.client("organizations")
    if cfn.describe_organizations_access()["Status"] != "ENABLED":
        raise CheckFailed("Trusted access between StackSets and Organizations is not activated.", hint=PART3_HINT)
    try:
        stack_set = cfn.describe_stack_set(StackSetName="security-baseline")["StackSet"]
    except cfn.exceptions.StackSetNotFoundException:
        raise CheckFailed("There is no stack set called security-baseline.", hint=PART3_HINT) from None
    if stack_set["PermissionModel"] != "SERVICE_MANAGED" or not stack_set.get("AutoDeployment", {}).get("Enabled"):
        raise CheckFailed(
            "security-baseline is not a service-managed stack set with automatic deployment.", hint=PART3_HINT
        )
    instances = cfn.list_stack_instances(StackSetName="security-baseline")["Summaries"]
    have = {(i["Account"], i["Region"]) for i in instances if i["Status"] == "CURRENT"}
    members = {
        a["Id"]: a["Name"]
        for ou in BASELINE_OUS
        for a in org.list_accounts_for_parent(ParentId=sb.organization["ous"][ou])["Accounts"]
    }
    missing = sorted(
        f"{name} in {region}"
        for acct, name in members.items()
        for region in BASELINE_REGIONS - {r for a, r in have if a == acct}
    )
    if missing:
        raise CheckFailed(f"No CURRENT instance of security-baseline for {', '.join(missing)}.", hint=PART3_HINT)
    strays = sorted({i["Account"] for i in instances} - set(members))
    if strays:
        raise CheckFailed(
            f"security-baseline still has instances in accounts outside the targeted OUs: {', '.join(strays)}.",
            hint="Moving an account out of a targeted OU removes its instances by itself: wait for the DELETE "
            "operation (ls.wait_for_stack_set_operation), or run part 3 again.",
        )
    admins = org.list_delegated_administrators(ServicePrincipal=STACKSETS_PRINCIPAL)["DelegatedAdministrators"]
    if sb.account_id("audit") not in [a["Id"] for a in admins]:
        raise CheckFailed("The audit account is not a delegated administrator for StackSets.", hint=PART3_HINT)
    return (
        f"security-baseline has {len(have)} CURRENT instances, one per account of {', '.join(BASELINE_OUS)} and "
        "Region, none elsewhere (the management account included); audit is a delegated administrator for StackSets."
    )


# -- the exercise: the Sandbox OU ------------------------------------------------------------------------------
def _sandbox_ou(org: Any, root: str) -> str:
    units = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    sandboxes = [o["Id"] for o in units if o["Name"] == "Sandbox"]
    if not sandboxes:
        raise CheckFailed(
            "There is no OU called Sandbox directly under the root.",
            hint="Requirement 1: org.create_organizational_unit(ParentId=ROOT, Name='Sandbox').",
        )
    if len(sandboxes) > 1:
        raise CheckFailed(
            f"There are {len(sandboxes)} OUs called Sandbox under the root (AWS would have refused the second one "
            "with DuplicateOrganizationalUnitException).",
            hint="Run the sandbox cell and the lab again, then your exercise cell once.",
        )
    return sandboxes[0]


def _check_sandbox_scps(org: Any, root: str, ou: str) -> None:
    principal = "arn:aws:iam::111122223333:role/developer"

    def decide(action: str, region: str) -> Any:
        return decide_on_path(org, [root, ou], action, region, principal)

    scp_hint = (
        "Requirement 2: create an SCP (Type='SERVICE_CONTROL_POLICY') with a Deny of organizations:LeaveOrganization "
        "and a Deny with NotAction=GLOBAL_SERVICES and a StringNotEquals condition on aws:RequestedRegion "
        "['us-east-1'], and attach it to the Sandbox OU."
    )
    for action, region in (("organizations:LeaveOrganization", "us-east-1"), ("ec2:RunInstances", "eu-west-1")):
        decision = decide(action, region)
        if decision.allowed or "attached to OU Sandbox" not in decision.decision:
            raise CheckFailed(
                f"{action} in {region} from an account in Sandbox is not denied by an SCP attached to the Sandbox "
                f"OU (AWS would decide: {decision.decision}).",
                hint=scp_hint,
            )
    for action, region, why in (
        (
            "s3:CreateBucket",
            "us-east-1",
            "us-east-1 is the Sandbox OU's Region: keep FullAWSAccess attached to the "
            "OU and deny only outside us-east-1",
        ),
        (
            "sts:AssumeRole",
            "eu-west-1",
            "global and multi-Region services must stay usable: use NotAction with the "
            "lab's GLOBAL_SERVICES list (it exempts sts:*, iam:*, organizations:* ...) rather than Action '*'",
        ),
    ):
        decision = decide(action, region)
        if not decision.allowed:
            raise CheckFailed(
                f"{action} in {region} from an account in Sandbox would be {decision.decision}.", hint=why + "."
            )


def _experiments(org: Any, ou: str) -> str:
    accounts = [a for a in org.list_accounts()["Accounts"] if a["Name"] == "experiments" and a["Status"] == "ACTIVE"]
    if not accounts:
        raise CheckFailed(
            "There is no account called experiments in the organization.",
            hint="Requirement 3: org.create_account(Email='experiments@example.com', "
            "AccountName='experiments'), then wait until describe_create_account_status says SUCCEEDED.",
        )
    account_id = accounts[0]["Id"]
    parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
    if parent != ou:
        raise CheckFailed(
            "The experiments account is not in the Sandbox OU.",
            hint=f"Requirement 3: org.move_account(AccountId=..., SourceParentId='{parent}', "
            "DestinationParentId=<the Sandbox OU's id>).",
        )
    return account_id


def _check_stack_set(sb: Sandbox, cfn: Any, ou: str, account_id: str) -> None:
    hint = (
        "Requirement 4: cfn.create_stack_set(StackSetName='sandbox-baseline', PermissionModel='SERVICE_MANAGED', "
        "AutoDeployment={'Enabled': True, 'RetainStacksOnAccountRemoval': False}, TemplateBody=...)."
    )
    try:
        stack_set = cfn.describe_stack_set(StackSetName="sandbox-baseline")["StackSet"]
    except cfn.exceptions.StackSetNotFoundException:
        raise CheckFailed("There is no stack set called sandbox-baseline.", hint=hint) from None
    if stack_set["PermissionModel"] != "SERVICE_MANAGED":
        raise CheckFailed("sandbox-baseline is SELF_MANAGED, not SERVICE_MANAGED.", hint=hint)
    if not stack_set.get("AutoDeployment", {}).get("Enabled"):
        raise CheckFailed(
            "sandbox-baseline does not deploy automatically to accounts that join its OU.",
            hint="cfn.update_stack_set(StackSetName='sandbox-baseline', UsePreviousTemplate=True, "
            "AutoDeployment={'Enabled': True, 'RetainStacksOnAccountRemoval': False}).",
        )
    if ou not in stack_set.get("OrganizationalUnitIds", []):
        raise CheckFailed(
            "sandbox-baseline does not target the Sandbox OU.",
            hint="cfn.create_stack_instances(StackSetName='sandbox-baseline', DeploymentTargets="
            "{'OrganizationalUnitIds': [<the Sandbox OU's id>]}, Regions=['us-east-1']).",
        )
    instances = cfn.list_stack_instances(StackSetName="sandbox-baseline", StackInstanceAccount=account_id)
    regions = {i["Region"]: i["Status"] for i in instances["Summaries"]}
    if regions.get("us-east-1") != "CURRENT":
        raise CheckFailed(
            f"The experiments account has no CURRENT instance of sandbox-baseline in us-east-1 ({regions or 'none'}).",
            hint="Deploy to the Sandbox OU once the account is in it: create_stack_instances(... "
            "DeploymentTargets={'OrganizationalUnitIds': [<Sandbox>]}, Regions=['us-east-1']), then wait with "
            "ls.wait_for_stack_set_operation. (The sandbox deploys automatically only in Regions where the stack "
            "set already has instances, so a deployment to an OU that had no account yet gives nothing later.)",
        )
    profile = sb.client("ssm", account=account_id).get_parameter(Name="/org/baseline/profile")["Parameter"]["Value"]
    if profile != "sandbox":
        raise CheckFailed(
            f"/org/baseline/profile in experiments is {profile!r}, not 'sandbox'.",
            hint="Use templates/organizations/sandbox-baseline.yaml as the stack set's template.",
        )


@lab_check("organizations.sandbox-ou", title="Exercise: the Sandbox OU, guarded and baselined", exercise=True)
def sandbox_ou(sb: Sandbox) -> str:
    org, cfn = sb.client("organizations"), sb.client("cloudformation")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = _sandbox_ou(org, root)
    _check_sandbox_scps(org, root, ou)
    account_id = _experiments(org, ou)
    _check_stack_set(sb, cfn, ou, account_id)
    final = scp_decision(sb, account_id, "ec2:RunInstances", "ap-southeast-2", _developer(account_id))
    _expect(
        final,
        False,
        "experiments launching an instance in ap-southeast-2",
        "Keep the Sandbox OU's SCP attached to the OU, and attach nothing to the account that would change it.",
    )
    return (
        "The Sandbox OU sits under the root; its SCP denies leaving the organization and everything outside "
        "us-east-1 except the global services; experiments is in it with the baseline (/org/baseline/profile = "
        "sandbox), and sandbox-baseline deploys automatically to every account that joins the OU."
    )
