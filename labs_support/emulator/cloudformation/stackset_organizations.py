"""Service-managed StackSets and AWS Organizations: trusted access, OU targets, delegated administrators, and
automatic deployment when an account joins or leaves a targeted OU.

What AWS documents and the sandbox does:
- Service-managed stack sets need trusted access between StackSets and Organizations
  (ActivateOrganizationsAccess, or EnableAWSServiceAccess for member.org.stacksets.cloudformation.amazonaws.com).
- They are created from the management account, or from a registered delegated administrator with
  CallAs=DELEGATED_ADMIN.
- StackSets does not deploy to the management account, even when it is in a targeted OU.
- With AutoDeployment enabled, an account moved into a targeted OU gets the stack set's instances in the Regions
  the set deploys to; an account that leaves loses them, its stacks kept if RetainStacksOnAccountRemoval.
  Operation preferences do not apply to automatic deployments.
"""

from __future__ import annotations

from typing import Any

from moto.organizations.models import FakeDelegatedAdministrator, OrganizationsBackend, organizations_backends

from .errors import ValidationError
from .stackset_rollout import Preferences
from .stacksets import STACKSETS_PRINCIPAL, Operation, StackInstance, StackSet, deploy, new_id, remove, services, start

NOT_ADMIN = (
    "You must be the master or delegated admin account of an organization before operating a SERVICE_MANAGED stack set"
)
NO_TRUSTED_ACCESS = "You must enable organizations access to operate a service managed stack set"


def organization_of(account_id: str) -> OrganizationsBackend | None:
    """The Organizations backend of the organization the account belongs to (None outside one)."""
    master = organizations_backends.master_accounts.get(account_id, (account_id, "aws"))[0]
    backend = organizations_backends[master]["aws"]
    return backend if backend.org is not None else None


def trusted_access(account_id: str) -> bool:
    org = organization_of(account_id)
    return org is not None and any(s["ServicePrincipal"] == STACKSETS_PRINCIPAL for s in org.services)


def set_trusted_access(account_id: str, enabled: bool) -> None:
    org = organization_of(account_id)
    if org is None or org.org is None or org.org.master_account_id != account_id:
        raise ValidationError(NOT_ADMIN)
    if enabled:
        org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    else:
        org.disable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)


def check_service_managed_caller(account_id: str, call_as: str | None) -> OrganizationsBackend:
    """Refuse as AWS does a service-managed request from an account that may not make it."""
    org = organization_of(account_id)
    if org is None or org.org is None:
        raise ValidationError(NOT_ADMIN)
    if call_as == "DELEGATED_ADMIN":
        delegated = any(a.account.id == account_id and STACKSETS_PRINCIPAL in a.services for a in org.admins)
        if not delegated:
            raise ValidationError("Account used is not a delegated administrator")  # wording ours
    elif org.org.master_account_id != account_id:
        raise ValidationError(NOT_ADMIN)
    if not trusted_access(account_id):
        raise ValidationError(NO_TRUSTED_ACCESS)
    return org


def accounts_in(org: OrganizationsBackend, unit_id: str) -> list[str]:
    """Active accounts in an OU (or the root) and all the OUs below it, the management account excluded."""
    units = {unit_id}
    changed = True
    while changed:
        below = {u.id for u in org.ou if u.parent_id in units}
        changed = not below <= units
        units |= below
    management = org.org.master_account_id if org.org else None
    members = sorted((a for a in org.accounts if a.parent_id in units), key=lambda a: a.create_time)
    return [a.id for a in members if a.status == "ACTIVE" and a.id != management]


def unit_of(org: OrganizationsBackend, account_id: str, targets: list[str]) -> str | None:
    """Which of the targeted OUs holds the account (directly or below)."""
    return next((u for u in targets if account_id in accounts_in(org, u)), None)


def resolve_targets(org: OrganizationsBackend, deployment_targets: dict[str, Any]) -> list[tuple[str, str | None]]:
    """DeploymentTargets of a service-managed request → (account, OU) pairs, AccountFilterType applied."""
    units = deployment_targets.get("OrganizationalUnitIds") or []
    accounts = deployment_targets.get("Accounts") or []
    filter_type = deployment_targets.get("AccountFilterType") or "NONE"
    for unit in units:
        org.validate_parent_id(unit)  # an unknown OU is refused by Organizations' own check
    in_units = [(a, u) for u in units for a in accounts_in(org, u)]
    if filter_type == "INTERSECTION":
        chosen = [(a, u) for a, u in in_units if a in accounts]
    elif filter_type == "DIFFERENCE":
        chosen = [(a, u) for a, u in in_units if a not in accounts]
    elif filter_type == "UNION":
        chosen = in_units + [(a, None) for a in accounts if a not in {x for x, _ in in_units}]
    else:
        chosen = in_units
    seen: set[str] = set()
    return [(a, u) for a, u in chosen if not (a in seen or seen.add(a))]  # type: ignore[func-returns-value]


# -- automatic deployment ------------------------------------------------------------------------------------
def _auto_sets(org: OrganizationsBackend) -> list[StackSet]:
    admins = {org.account_id, *(a.account.id for a in org.admins)}
    found = []
    for account_id in admins:
        for region_services in services[account_id].values() if account_id in services else []:
            found += [
                s
                for s in region_services.stack_sets.values()
                if s.status == "ACTIVE"
                and s.permission_model == "SERVICE_MANAGED"
                and (s.auto_deployment or {}).get("Enabled")
            ]
    return found


def account_moved(org: OrganizationsBackend, account_id: str) -> None:
    """Deploy to, or remove from, an account whose place in the organization changed."""
    for stack_set in _auto_sets(org):
        unit = unit_of(org, account_id, stack_set.organizational_units)
        present = [k for k in stack_set.instances if k[0] == account_id]
        if unit is not None and not present and stack_set.regions:
            targets = [(account_id, region) for region in stack_set.regions]
            for target in targets:
                stack_set.instances[target] = StackInstance(stack_set, *target, organizational_unit=unit)
            _automatic(stack_set, "CREATE", targets, deploy, None)
        elif unit is None and present:
            retain = bool((stack_set.auto_deployment or {}).get("RetainStacksOnAccountRemoval"))
            _automatic(stack_set, "DELETE", present, remove, retain)


def _automatic(
    stack_set: StackSet, action: str, targets: list[tuple[str, str]], work: Any, retain: bool | None
) -> None:
    operation = Operation(new_id(), stack_set, action, Preferences(), targets, retain_stacks=retain)
    managed = stack_set.managed_execution
    stack_set.managed_execution = True  # an automatic deployment waits its turn rather than fail
    try:
        start(operation, work)
    finally:
        stack_set.managed_execution = managed


_original_move = OrganizationsBackend.move_account
_original_remove = OrganizationsBackend.remove_account_from_organization


def _move_account(self: OrganizationsBackend, **kwargs: Any) -> None:
    _original_move(self, **kwargs)
    account_moved(self, kwargs["AccountId"])


def _remove_account(self: OrganizationsBackend, **kwargs: Any) -> None:
    _original_remove(self, **kwargs)
    account_moved(self, kwargs["AccountId"])


def install() -> None:
    """Make Organizations tell StackSets when an account moves or leaves."""
    # StackSets accepts delegated administrators (AWS: stacksets-orgs-delegated-admin.html); moto's list lacks it
    if STACKSETS_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(STACKSETS_PRINCIPAL)
    OrganizationsBackend.move_account = _move_account  # type: ignore[method-assign]
    OrganizationsBackend.remove_account_from_organization = _remove_account  # type: ignore[method-assign]
