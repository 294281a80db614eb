"""Patch Manager's API actions (patching.py holds the catalogue, baselines, approval and AWS-RunPatchBaseline).

Registered on moto's SSM Response class by install(); see patching.py for the behaviour and its sources.
"""

from __future__ import annotations

import re
from typing import Any

from .. import clock
from . import backend
from .documents_run import DOCUMENT_HANDLERS
from .patching import (
    _PREDEFINED,
    CATALOGUES,
    COMPLIANCE_LEVELS,
    DOCUMENT,
    FILTER_KEYS,
    PRODUCT_FAMILY,
    PRODUCTS,
    Baseline,
    Update,
    _custom,
    _from_moto,
    _values_for,
    all_baselines,
    approval,
    baseline_for,
    default_baseline,
    find_baseline,
    reboot,
    released,
    run_patch_baseline,
    state_of,
)

_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
_OPERATING_SYSTEMS = {os_name for os_name, *_ in _PREDEFINED}


def _identity(fleet: backend.FleetBackend, baseline: Baseline) -> dict[str, Any]:
    default = default_baseline(fleet, baseline.operating_system)
    return {
        "BaselineId": baseline.id,
        "BaselineName": baseline.name,
        "OperatingSystem": baseline.operating_system,
        "BaselineDescription": baseline.description,
        "DefaultBaseline": default is not None and default.id == baseline.id,
    }


def _describe(fleet: backend.FleetBackend, baseline: Baseline) -> dict[str, Any]:
    body: dict[str, Any] = {
        "BaselineId": baseline.id,
        "Name": baseline.name,
        "OperatingSystem": baseline.operating_system,
        "GlobalFilters": baseline.global_filters or {"PatchFilters": []},
        "ApprovalRules": baseline.approval_rules or {"PatchRules": []},
        "ApprovedPatches": baseline.approved_patches,
        "ApprovedPatchesComplianceLevel": baseline.approved_patches_compliance_level,
        "ApprovedPatchesEnableNonSecurity": baseline.approved_patches_enable_non_security,
        "RejectedPatches": baseline.rejected_patches,
        "RejectedPatchesAction": baseline.rejected_patches_action,
        "PatchGroups": sorted(g for g, by_os in state_of(fleet).groups.items() if baseline.id in by_os.values()),
        "CreatedDate": baseline.created,
        "ModifiedDate": baseline.modified,
        "Description": baseline.description,
        "Sources": baseline.sources,
    }
    if baseline.available_security_updates_compliance_status:
        body["AvailableSecurityUpdatesComplianceStatus"] = baseline.available_security_updates_compliance_status
    return body


def _validate_rules(
    api: Any, os_name: str, rules: dict[str, Any] | None, global_filters: dict[str, Any] | None
) -> None:
    allowed = FILTER_KEYS.get(os_name)
    groups = [(global_filters or {}).get("PatchFilters", [])]
    for rule in (rules or {}).get("PatchRules", []):
        if (
            os_name not in ("UBUNTU", "DEBIAN", "RASPBIAN")
            and rule.get("ApproveAfterDays") is None
            and not rule.get("ApproveUntilDate")
        ):
            raise api.SsmError("ValidationException", "An approval rule needs ApproveAfterDays or ApproveUntilDate.")
        days = rule.get("ApproveAfterDays")
        if days is not None and not 0 <= int(days) <= 360:
            raise api.SsmError("ValidationException", "ApproveAfterDays must be between 0 and 360.")
        if rule.get("ComplianceLevel") and rule["ComplianceLevel"] not in COMPLIANCE_LEVELS:
            raise api.SsmError("ValidationException", f"ComplianceLevel {rule['ComplianceLevel']} is not valid.")
        groups.append((rule.get("PatchFilterGroup") or {}).get("PatchFilters", []))
    if allowed is None:
        return
    for filters in groups:
        for f in filters:
            if f.get("Key") not in allowed:
                raise api.SsmError(
                    "ValidationException",
                    f"Patch filter key {f.get('Key')} is not valid for operating system {os_name}.",  # wording ours
                )


def _not_found(api: Any, baseline_id: str) -> Exception:
    return api.SsmError("DoesNotExistException", f"Patch Baseline {baseline_id} does not exist.")  # wording ours


def _parse_filters(items: list[dict[str, Any]] | None) -> dict[str, list[str]]:
    return {f["Key"]: list(f.get("Values") or []) for f in items or []}


_STATE_FILTER = {
    "Installed": "INSTALLED",
    "InstalledOther": "INSTALLED_OTHER",
    "InstalledPendingReboot": "INSTALLED_PENDING_REBOOT",
    "InstalledRejected": "INSTALLED_REJECTED",
    "Missing": "MISSING",
    "NotApplicable": "NOT_APPLICABLE",
    "Failed": "FAILED",
}
_GROUP_STATE_KEYS = {
    "Instances": None,
    "InstancesWithInstalledPatches": "InstalledCount",
    "InstancesWithInstalledOtherPatches": "InstalledOtherCount",
    "InstancesWithInstalledPendingRebootPatches": "InstalledPendingRebootCount",
    "InstancesWithInstalledRejectedPatches": "InstalledRejectedCount",
    "InstancesWithMissingPatches": "MissingCount",
    "InstancesWithFailedPatches": "FailedCount",
    "InstancesWithNotApplicablePatches": "NotApplicableCount",
    "InstancesWithUnreportedNotApplicablePatches": "UnreportedNotApplicableCount",
    "InstancesWithCriticalNonCompliantPatches": "CriticalNonCompliantCount",
    "InstancesWithSecurityNonCompliantPatches": "SecurityNonCompliantCount",
    "InstancesWithOtherNonCompliantPatches": "OtherNonCompliantCount",
    "InstancesWithAvailableSecurityUpdates": "AvailableSecurityUpdateCount",
}


def _patch_body(fleet: backend.FleetBackend, update: Update, os_name: str) -> dict[str, Any]:
    release = released(fleet, update)
    body: dict[str, Any] = {
        "Id": update.kb_id if update.windows else update.uid,
        "ReleaseDate": release,
        "Title": update.title(release),
        "Description": update.description or f"{update.classification or 'Non-security'} update for {update.name}",
        "Vendor": "Microsoft" if update.windows else "Amazon Linux",
        "ProductFamily": PRODUCT_FAMILY.get(os_name, ""),
        "Product": PRODUCTS.get(os_name, ("",))[0],
        "Classification": update.classification,
        "CVEIds": list(update.cves),
    }
    if update.windows:
        body.update(
            {
                "MsrcSeverity": update.severity,
                "KbNumber": update.name,
                "Language": "All",
                "ContentUrl": f"https://support.microsoft.com/help/{update.name[2:]}",
            }
        )
    else:
        body.update(
            {
                "Severity": update.severity,
                "Name": update.name,
                "Epoch": update.epoch,
                "Version": update.version,
                "Release": update.release,
                "Arch": "x86_64",
                "AdvisoryIds": [update.advisory] if update.advisory else [],
                "Repository": "amazonlinux" if "2023" in os_name else "amzn2-core",
            }
        )
    return body


def install() -> None:
    """Register the Patch Manager actions and the AWS-RunPatchBaseline handler."""
    from moto.ec2.models.instances import Instance

    from . import api

    DOCUMENT_HANDLERS[DOCUMENT] = run_patch_baseline

    def create_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        name = api.param(self, "Name") or ""
        if not _NAME.match(name):
            raise api.SsmError("ValidationException", f"Name {name!r} must match ^[a-zA-Z0-9_\\-.]{{3,128}}$.")
        os_name = api.param(self, "OperatingSystem") or "WINDOWS"
        if os_name not in _OPERATING_SYSTEMS:
            raise api.SsmError("ValidationException", f"OperatingSystem {os_name} is not valid.")
        rules = api.param(self, "ApprovalRules")
        global_filters = api.param(self, "GlobalFilters")
        _validate_rules(api, os_name, rules, global_filters)
        action = api.param(self, "RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY"
        if action not in ("ALLOW_AS_DEPENDENCY", "BLOCK"):
            raise api.SsmError("ValidationException", f"RejectedPatchesAction {action} is not valid.")
        baseline_id = fleet.moto.create_patch_baseline(
            name=name,
            operating_system=os_name,
            global_filters=global_filters or {"PatchFilters": []},
            approval_rules=rules or {"PatchRules": []},
            approved_patches=api.param(self, "ApprovedPatches") or [],
            approved_patches_compliance_level=api.param(self, "ApprovedPatchesComplianceLevel") or "UNSPECIFIED",
            approved_patches_enable_non_security=bool(api.param(self, "ApprovedPatchesEnableNonSecurity", False)),
            rejected_patches=api.param(self, "RejectedPatches") or [],
            rejected_patches_action=action,
            description=api.param(self, "Description"),
            sources=api.param(self, "Sources") or [],
            tags=api.param(self, "Tags") or [],
        )
        fake = fleet.moto.baselines[baseline_id]
        fake._course_created = fake._course_modified = clock.now()
        fake._course_available_security = api.param(self, "AvailableSecurityUpdatesComplianceStatus")
        return {"BaselineId": baseline_id}

    def get_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id = api.param(self, "BaselineId")
        baseline = find_baseline(fleet, baseline_id)
        if baseline is None:
            raise _not_found(api, baseline_id)
        return _describe(fleet, baseline)

    def update_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id = api.param(self, "BaselineId")
        fake = _custom(fleet, baseline_id)
        if fake is None:
            if find_baseline(fleet, baseline_id) is not None:
                raise api.SsmError(
                    "ValidationException", "Predefined patch baselines cannot be changed."
                )  # wording ours
            raise _not_found(api, baseline_id)
        replace = bool(api.param(self, "Replace", False))
        fields = {
            "Name": ("name", None),
            "GlobalFilters": ("global_filters", {"PatchFilters": []}),
            "ApprovalRules": ("approval_rules", {"PatchRules": []}),
            "ApprovedPatches": ("approved_patches", []),
            "ApprovedPatchesComplianceLevel": ("approved_patches_compliance_level", "UNSPECIFIED"),
            "ApprovedPatchesEnableNonSecurity": ("approved_patches_enable_non_security", False),
            "RejectedPatches": ("rejected_patches", []),
            "RejectedPatchesAction": ("rejected_patches_action", "ALLOW_AS_DEPENDENCY"),
            "Description": ("description", None),
            "Sources": ("sources", []),
            "AvailableSecurityUpdatesComplianceStatus": ("_course_available_security", None),
        }
        given = {key: api.param(self, key) for key in fields}
        _validate_rules(
            api,
            fake.operating_system,
            given["ApprovalRules"] if given["ApprovalRules"] is not None else fake.approval_rules,
            given["GlobalFilters"] if given["GlobalFilters"] is not None else fake.global_filters,
        )
        for key, (attribute, empty) in fields.items():
            if given[key] is not None:
                setattr(fake, attribute, given[key])
            elif replace and attribute != "name":
                setattr(fake, attribute, empty)
        fake._course_modified = clock.now()
        body = _describe(fleet, _from_moto(fake))
        body.pop("PatchGroups", None)
        return body

    def delete_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id = api.param(self, "BaselineId")
        if _custom(fleet, baseline_id) is None:
            if find_baseline(fleet, baseline_id) is not None:
                raise api.SsmError(
                    "ValidationException", "Predefined patch baselines cannot be deleted."
                )  # wording ours
            return {"BaselineId": baseline_id}
        st = state_of(fleet)
        groups = sorted(g for g, by_os in st.groups.items() if baseline_id in by_os.values())
        if groups:
            raise api.SsmError(
                "ResourceInUseException",
                f"Patch baseline {baseline_id} is registered with patch group(s) {', '.join(groups)}.",  # wording ours
            )
        if baseline_id in st.defaults.values():
            raise api.SsmError(
                "ResourceInUseException", f"Patch baseline {baseline_id} is the default baseline of its OS."
            )  # wording ours
        fleet.moto.delete_patch_baseline(baseline_id)
        return {"BaselineId": baseline_id}

    def describe_patch_baselines(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        filters = _parse_filters(api.param(self, "Filters"))
        found = []
        for baseline in all_baselines(fleet):
            prefixes = filters.get("NAME_PREFIX")
            if prefixes and not any(baseline.name.startswith(p) for p in prefixes):
                continue
            owner = (filters.get("OWNER") or ["All"])[0]
            if (owner == "AWS" and not baseline.predefined) or (owner == "Self" and baseline.predefined):
                continue
            if filters.get("OPERATING_SYSTEM") and baseline.operating_system not in filters["OPERATING_SYSTEM"]:
                continue
            found.append(_identity(fleet, baseline))
        return api.page(found, self, "BaselineIdentities", 100)

    def get_default_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        os_name = api.param(self, "OperatingSystem") or "WINDOWS"
        baseline = default_baseline(fleet, os_name)
        if baseline is None:
            raise api.SsmError("ValidationException", f"OperatingSystem {os_name} is not valid.")
        return {"BaselineId": baseline.id, "OperatingSystem": os_name}

    def register_default_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id = api.param(self, "BaselineId")
        baseline = find_baseline(fleet, baseline_id)
        if baseline is None:
            raise _not_found(api, baseline_id)
        st = state_of(fleet)
        if baseline.predefined:
            st.defaults.pop(baseline.operating_system, None)
        else:
            st.defaults[baseline.operating_system] = baseline.id
        return {"BaselineId": baseline.id}

    def register_patch_baseline_for_patch_group(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id, group = api.param(self, "BaselineId"), api.param(self, "PatchGroup")
        baseline = find_baseline(fleet, baseline_id)
        if baseline is None:
            raise _not_found(api, baseline_id)
        by_os = state_of(fleet).groups.setdefault(group, {})
        current = by_os.get(baseline.operating_system)
        if current and current != baseline.id:
            raise api.SsmError(
                "AlreadyExistsException",
                f"Patch Group {group} already has a baseline registered for {baseline.operating_system}: {current}",
            )  # wording ours
        by_os[baseline.operating_system] = baseline.id
        return {"BaselineId": baseline.id, "PatchGroup": group}

    def deregister_patch_baseline_for_patch_group(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id, group = api.param(self, "BaselineId"), api.param(self, "PatchGroup")
        baseline = find_baseline(fleet, baseline_id)
        if baseline is None:
            raise api.SsmError("InvalidResourceId", f"Patch Baseline {baseline_id} does not exist.")  # wording ours
        by_os = state_of(fleet).groups.get(group, {})
        if by_os.get(baseline.operating_system) == baseline.id:
            del by_os[baseline.operating_system]
            if not by_os:
                state_of(fleet).groups.pop(group, None)
        return {"BaselineId": baseline.id, "PatchGroup": group}

    def get_patch_baseline_for_patch_group(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        group = api.param(self, "PatchGroup")
        os_name = api.param(self, "OperatingSystem") or "WINDOWS"
        baseline = baseline_for(fleet, os_name, group)
        return {"BaselineId": baseline.id if baseline else "", "PatchGroup": group, "OperatingSystem": os_name}

    def describe_patch_groups(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        filters = _parse_filters(api.param(self, "Filters"))
        mappings = []
        for group, by_os in sorted(state_of(fleet).groups.items()):
            if filters.get("NAME_PREFIX") and not any(group.startswith(p) for p in filters["NAME_PREFIX"]):
                continue
            for os_name, baseline_id in sorted(by_os.items()):
                if filters.get("OPERATING_SYSTEM") and os_name not in filters["OPERATING_SYSTEM"]:
                    continue
                baseline = find_baseline(fleet, baseline_id)
                if baseline is not None:
                    mappings.append({"PatchGroup": group, "BaselineIdentity": _identity(fleet, baseline)})
        return api.page(mappings, self, "Mappings")

    def _states(fleet: backend.FleetBackend) -> list[dict[str, Any]]:
        return [entry["state"] for entry in list(fleet.patch_states.values())]

    def describe_instance_patch_states(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        wanted = api.param(self, "InstanceIds") or []
        found = [s for s in _states(fleet) if s["InstanceId"] in wanted]
        return api.page(found, self, "InstancePatchStates", 10)

    def describe_instance_patch_states_for_patch_group(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        group = api.param(self, "PatchGroup")
        found = [s for s in _states(fleet) if s["PatchGroup"] == group]
        for f in api.param(self, "Filters") or []:
            key, kind = f["Key"], f["Type"]
            if key not in _GROUP_STATE_KEYS.values():
                raise api.SsmError("InvalidFilter", f"Filter key {key} is not valid.")  # wording ours
            value = int(f["Values"][0])
            test = {
                "Equal": lambda a, b: a == b,
                "NotEqual": lambda a, b: a != b,
                "LessThan": lambda a, b: a < b,
                "GreaterThan": lambda a, b: a > b,
            }[kind]
            found = [s for s in found if test(int(s.get(key, 0)), value)]
        return api.page(found, self, "InstancePatchStates")

    def describe_patch_group_state(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        group = api.param(self, "PatchGroup")
        members = [s for s in _states(fleet) if s["PatchGroup"] == group]
        return {
            out: len(members) if count is None else sum(1 for s in members if s.get(count, 0) > 0)
            for out, count in _GROUP_STATE_KEYS.items()
        }

    def describe_instance_patches(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        instance_id = api.param(self, "InstanceId")
        entry = fleet.patch_states.get(instance_id)
        if entry is None and fleet.node(instance_id) is None:
            raise api.SsmError("InvalidInstanceId", f"Instance {instance_id} is not a managed node.")  # wording ours
        patches = list(entry["patches"]) if entry else []
        for key, values in _parse_filters(api.param(self, "Filters")).items():
            if key not in ("Classification", "KBId", "Severity", "State"):
                raise api.SsmError("InvalidFilter", f"Filter key {key} is not valid.")  # wording ours
            if key == "State":
                values = [_STATE_FILTER.get(v, v) for v in values]
            patches = [p for p in patches if p[key] in values]
        return api.page(patches, self, "Patches")

    def describe_effective_patches_for_patch_baseline(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        baseline_id = api.param(self, "BaselineId")
        baseline = find_baseline(fleet, baseline_id)
        if baseline is None:
            raise _not_found(api, baseline_id)
        if baseline.operating_system != "WINDOWS":
            raise api.SsmError(
                "UnsupportedOperatingSystem",
                "DescribeEffectivePatchesForPatchBaseline supports Windows baselines only.",
            )  # wording ours
        now = clock.now()
        found = []
        for update in CATALOGUES["WINDOWS"]:
            release = released(fleet, update)
            if release > now:
                continue
            verdict = approval(baseline, update, release, now)
            if verdict.status is None:
                continue
            status: dict[str, Any] = {"DeploymentStatus": verdict.status, "ComplianceLevel": verdict.compliance_level}
            if verdict.approval_date is not None:
                status["ApprovalDate"] = verdict.approval_date
            found.append({"Patch": _patch_body(fleet, update, "WINDOWS"), "PatchStatus": status})
        return api.page(found, self, "EffectivePatches", 100)

    def describe_available_patches(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        filters = _parse_filters(api.param(self, "Filters"))
        now = clock.now()
        wanted_os = {o for o in CATALOGUES if not filters.get("PRODUCT") or set(PRODUCTS[o]) & set(filters["PRODUCT"])}
        found = []
        for os_name in sorted(wanted_os):
            for update in CATALOGUES[os_name]:
                if released(fleet, update) > now:
                    continue
                body = _patch_body(fleet, update, os_name)
                keep = True
                for key, values in filters.items():
                    have = _values_for(update, key, os_name)
                    if key != "PRODUCT" and have is not None and not any(v in values for v in have):
                        keep = False
                if keep:
                    found.append(body)
        return api.page(found, self, "Patches", 100)

    for handler in (
        create_patch_baseline,
        get_patch_baseline,
        update_patch_baseline,
        delete_patch_baseline,
        describe_patch_baselines,
        get_default_patch_baseline,
        register_default_patch_baseline,
        register_patch_baseline_for_patch_group,
        deregister_patch_baseline_for_patch_group,
        get_patch_baseline_for_patch_group,
        describe_patch_groups,
        describe_instance_patch_states,
        describe_instance_patch_states_for_patch_group,
        describe_patch_group_state,
        describe_instance_patches,
        describe_effective_patches_for_patch_baseline,
        describe_available_patches,
    ):
        api.register(handler.__name__, handler)

    # An EC2 reboot (or a stop and start) puts patches waiting for a reboot into effect
    original_reboot, original_start = Instance.reboot, Instance.start
    if getattr(original_reboot, "_course_patching", False):
        return

    def reboot_instance(self: Any) -> None:
        original_reboot(self)
        host = getattr(self, "_course_host", None)
        if host is not None:
            reboot(host)

    def start_instance(self: Any) -> Any:
        previous = original_start(self)
        host = getattr(self, "_course_host", None)
        if host is not None and getattr(previous, "name", "") == "stopped":
            reboot(host)
        return previous

    reboot_instance._course_patching = True  # type: ignore[attr-defined]
    Instance.reboot = reboot_instance  # type: ignore[method-assign]
    Instance.start = start_instance  # type: ignore[method-assign]
