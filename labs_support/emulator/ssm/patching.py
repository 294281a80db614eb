"""Patch Manager: patch baselines, patch groups, AWS-RunPatchBaseline Scan/Install, patch states and compliance.

moto stores custom patch baselines and little else. Here, as on AWS:

- Predefined baselines (https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html)
  exist in every account and Region with the ids AWS gives them (the ARNs moto ships in
  moto/ssm/resources/default_baselines.json.gz). They cannot be changed, assign the compliance level UNSPECIFIED,
  and are the default baseline of their operating system until you register your own
  (RegisterDefaultPatchBaseline; GetDefaultPatchBaseline answers WINDOWS when no OperatingSystem is given).
  AWS-AmazonLinux2DefaultPatchBaseline and AWS-AmazonLinux2023DefaultPatchBaseline approve Security patches of
  severity Critical or Important and all Bugfix patches 7 days after release; AWS-DefaultPatchBaseline (Windows)
  approves CriticalUpdates and SecurityUpdates of MSRC severity Critical or Important 7 days after release.
- Approval (https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-approved-rejected-package-name-formats.html):
  a patch is approved by a rule whose PatchFilterGroup matches it (PRODUCT, CLASSIFICATION, SEVERITY /
  MSRC_SEVERITY, ...; `*` matches anything) once ApproveAfterDays have passed since its release, or if it was
  released on or before ApproveUntilDate (UTC); or by ApprovedPatches. RejectedPatches override both. Linux
  updates without an advisory (non-security) are approved only by a rule with EnableNonSecurity.
  RejectedPatchesAction ALLOW_AS_DEPENDENCY (default) reports an installed rejected patch INSTALLED_OTHER, BLOCK
  reports it INSTALLED_REJECTED (non-compliant); Patch Manager never installs a rejected patch.
- Patch groups (https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html): the
  node's tag `Patch Group` or `PatchGroup`; one baseline per group and operating system; a node without a group, or
  in a group with no baseline for its OS, uses the default baseline of its OS.
- AWS-RunPatchBaseline (https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html):
  Scan reports, Install installs the approved, applicable, missing patches; RebootIfNeeded reboots when it installed
  something or found patches INSTALLED_PENDING_REBOOT; NoReboot leaves them INSTALLED_PENDING_REBOOT (non-compliant)
  until a reboot and a Scan. Each run replaces the node's patch state (DescribeInstancePatchStates) and its
  "Patch" compliance items (one per reported patch, COMPLIANT or NON_COMPLIANT, with the approving rule's
  ComplianceLevel as severity). Patch states: https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html

Simulated (notebooks say so): the patch repositories. Each of Amazon Linux 2, Amazon Linux 2023 and Windows Server
has a small fixed catalogue (CATALOGUES) with made-up advisory ids, CVE ids and KB numbers; release dates count
back from the moment Patch Manager first looks at an account and Region (its "patch clock"), so some patches
are older than 7 days, some newer, and one is released 10 days later. Updates released 30 days or more before
that moment come preinstalled (they were in the AMI). A node is missing every catalogue update its host
(hosts.py) has not installed. Other operating systems have no simulated repository: their runs fail and say so.

Deterministic failures, for rate-control (MaxErrors) lessons:
- a Linux host with a file /etc/yum.repos.d/broken.repo cannot read its repositories: Scan and Install fail with
  yum's (Amazon Linux 2) or dnf's (Amazon Linux 2023) metadata error, exit code 1, and no patch state is reported;
- a package listed in /etc/dnf/plugins/versionlock.list (AL2023) or /etc/yum/pluginconf.d/versionlock.list (AL2)
  cannot be updated: Install reports its patch FAILED and exits 1; a later Scan reports it MISSING.
Create the file with user data or Run Command (`echo '[broken]' > /etc/yum.repos.d/broken.repo`).

Simplifications: a patch is one package update (Linux) or one KB (Windows), with no dependencies and no
superseding; NOT_APPLICABLE is reported on Windows only, as AWS's compliance-state table says;
AvailableSecurityUpdateCount and UnreportedNotApplicableCount are always 0; InstallOverrideList and
BaselineOverride are not read (Install with
either fails and says so; Scan ignores InstallOverrideList, as on AWS); DescribeEffectivePatchesForPatchBaseline
answers for Windows baselines only, as on AWS.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import clock
from . import backend, compliance, documents
from .documents_run import PluginResult, RunContext, steps_of
from .hosts import Host

DOCUMENT = "AWS-RunPatchBaseline"
AMI_AGE_DAYS = 30  # updates released this long before the patch clock started are in the AMI
AWS_BASELINE_OWNER = "075727635805"  # the account AWS's predefined baselines belong to (their ARNs)
COMPLIANCE_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")
COMPLIANT_STATES = ("INSTALLED", "INSTALLED_OTHER")
NON_COMPLIANT_STATES = ("INSTALLED_PENDING_REBOOT", "INSTALLED_REJECTED", "MISSING", "FAILED")
BROKEN_REPO = "/etc/yum.repos.d/broken.repo"
VERSIONLOCK = {"dnf": "/etc/dnf/plugins/versionlock.list", "yum": "/etc/yum/pluginconf.d/versionlock.list"}
STATE_FILE = "/var/log/amazon/ssm/patch-configuration/patch-states-configuration.json"
WINDOWS_STATE_FILE = "C:\\ProgramData\\Amazon\\PatchBaselineOperations\\State\\PatchStatesConfiguration.json"
SCAN_SECONDS = 25.0
INSTALL_SECONDS_EACH = 12.0
REBOOT_SECONDS = 90.0


# -- the simulated repositories ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Update:
    """One update in a simulated repository: a Linux package update or a Windows KB."""

    advisory: str  # ALAS2-/ALAS2023- advisory or KB id; "" for a Linux update without an advisory (non-security)
    name: str  # package name (Linux) or KB id (Windows)
    version: str
    release: str
    classification: str
    severity: str
    days_before: int  # released this many days before the patch clock started (negative: after)
    cves: tuple[str, ...] = ()
    requires: str = ""  # installed package (Linux) or service (Windows) the update applies to; "" = every host
    epoch: int = 0
    description: str = ""

    @property
    def windows(self) -> bool:
        return self.name.startswith("KB")

    @property
    def kb_id(self) -> str:
        """KBId of DescribeInstancePatches: the KB, or the package name and architecture."""
        return self.name if self.windows else f"{self.name}.x86_64"

    @property
    def uid(self) -> str:
        """The key in Host.installed_updates: the KB, or the full package name."""
        return self.name if self.windows else f"{self.name}-{self.version}-{self.release}.x86_64"

    def title(self, released: datetime) -> str:
        if self.windows:
            return f"{released:%Y-%m} {self.description} ({self.name})"
        return f"{self.name}.x86_64:{self.epoch}:{self.version}-{self.release}"


# Made-up advisories, CVEs and KBs (simulated). Linux rows: advisory | package | epoch:version-release |
# classification | severity | days before the patch clock | CVEs | package it applies to ("" = every host).
# An empty advisory is a non-security update (approved only by a rule with EnableNonSecurity).
_AL2023 = """
ALAS2023-2026-1101 | kernel | 0:6.1.150-174.273.amzn2023 | Security | Critical | 70 | CVE-2026-10231 |
ALAS2023-2026-1130 | openssl | 1:3.0.8-1.amzn2023.0.19 | Security | Important | 45 | CVE-2026-10518 |
ALAS2023-2026-1187 | curl | 0:8.11.1-1.amzn2023.0.2 | Security | Critical | 21 | CVE-2026-11802 CVE-2026-11803 |
ALAS2023-2026-1203 | sudo | 0:1.9.15-1.p5.amzn2023.0.3 | Security | Important | 14 | CVE-2026-12044 |
ALAS2023-2026-1215 | glibc | 0:2.34-117.amzn2023.0.2 | Security | Important | 10 | CVE-2026-12290 |
ALAS2023-2026-1222 | python3 | 0:3.9.24-1.amzn2023.0.1 | Security | Medium | 12 | CVE-2026-12177 |
ALAS2023-2026-1229 | vim-minimal | 2:9.1.1418-1.amzn2023.0.1 | Security | Low | 9 | CVE-2026-12355 |
ALAS2023-2026-1236 | systemd | 0:252.23-2.amzn2023 | Bugfix |  | 8 |  |
ALAS2023-2026-1251 | tzdata | 0:2026a-1.amzn2023.0.1 | Bugfix |  | 3 |  |
ALAS2023-2026-1258 | openssh-server | 0:8.7p1-8.amzn2023.0.16 | Security | Critical | 2 | CVE-2026-13011 |
ALAS2023-2026-1219 | nginx | 1:1.24.0-1.amzn2023.0.6 | Security | Important | 11 | CVE-2026-12201 | nginx
ALAS2023-2026-1199 | bash | 0:5.2.15-1.amzn2023.0.3 | Enhancement |  | 15 |  |
 | ca-certificates | 0:2025.2.80_v9.0.304-1.0.amzn2023.0.1 |  |  | 20 |  |
ALAS2023-2026-1290 | libxml2 | 0:2.10.4-1.amzn2023.0.12 | Security | Important | -10 | CVE-2026-13620 |
"""
_AL2 = """
ALAS2-2026-2801 | kernel | 0:5.10.240-238.966.amzn2 | Security | Critical | 70 | CVE-2026-10231 |
ALAS2-2026-2830 | openssl | 1:1.0.2k-24.amzn2.0.16 | Security | Important | 45 | CVE-2026-10518 |
ALAS2-2026-2887 | curl | 0:8.3.0-1.amzn2.0.9 | Security | Critical | 21 | CVE-2026-11802 CVE-2026-11803 |
ALAS2-2026-2903 | sudo | 0:1.8.23-10.amzn2.3.4 | Security | Important | 14 | CVE-2026-12044 |
ALAS2-2026-2915 | glibc | 0:2.26-64.amzn2.0.5 | Security | Important | 10 | CVE-2026-12290 |
ALAS2-2026-2922 | python3 | 0:3.7.16-1.amzn2.0.13 | Security | Medium | 12 | CVE-2026-12177 |
ALAS2-2026-2929 | vim-minimal | 2:9.0.2153-1.amzn2.0.3 | Security | Low | 9 | CVE-2026-12355 |
ALAS2-2026-2936 | systemd | 0:219-78.amzn2.0.23 | Bugfix |  | 8 |  |
ALAS2-2026-2951 | tzdata | 0:2026a-1.amzn2 | Bugfix |  | 3 |  |
ALAS2-2026-2958 | openssh-server | 0:7.4p1-22.amzn2.0.12 | Security | Critical | 2 | CVE-2026-13011 |
ALAS2-2026-2919 | nginx | 1:1.22.1-1.amzn2.0.4 | Security | Important | 11 | CVE-2026-12201 | nginx
ALAS2-2026-2899 | bash | 0:4.2.46-34.amzn2.0.5 | Enhancement |  | 15 |  |
 | ca-certificates | 0:2025.2.80-72.amzn2.0.1 |  |  | 20 |  |
ALAS2-2026-2990 | libxml2 | 0:2.9.1-6.amzn2.5.17 | Security | Important | -10 | CVE-2026-13620 |
"""
# Windows rows: KB | classification | MSRC severity | days | service it applies to | title (after the release month)
_WINDOWS_OS = "Microsoft server operating system"
_WINDOWS = """
KB5066780 | SecurityUpdates | Critical | 70 | | Cumulative Update for {os} for x64-based Systems
KB5066139 | SecurityUpdates | Important | 45 | | Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for {os}
KB5068787 | SecurityUpdates | Critical | 21 | | Cumulative Update for {os} for x64-based Systems
KB5068861 | SecurityUpdates | Important | 14 | | Servicing Stack Update for {os} for x64-based Systems
KB5068975 | SecurityUpdates | Moderate | 12 | | Security Update for Microsoft .NET Framework 4.8.1 for {os}
KB890830 | UpdateRollups | Unspecified | 10 | | Windows Malicious Software Removal Tool x64
KB5069120 | SecurityUpdates | Important | 9 | W3SVC | Security Update for Internet Information Services 10.0
KB5069344 | CriticalUpdates | Critical | 8 | | Critical Update for Windows Server 2022 Time Zone data
KB2267602 | DefinitionUpdates | Unspecified | 1 | | Security Intelligence Update for Microsoft Defender Antivirus
KB5070042 | SecurityUpdates | Critical | -10 | | Cumulative Update for {os} for x64-based Systems
"""


def _rows(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()]


def _linux(table: str) -> tuple[Update, ...]:
    updates = []
    for advisory, name, evr, classification, severity, days, cves, requires in _rows(table):
        epoch, rest = evr.split(":", 1)
        version, release = rest.split("-", 1)
        updates.append(
            Update(
                advisory, name, version, release, classification, severity, int(days), tuple(cves.split()), requires,
                int(epoch),
            )
        )  # fmt: skip
    return tuple(updates)


def _windows(table: str) -> tuple[Update, ...]:
    return tuple(
        Update(kb, kb, "", "", classification, severity, int(days), (), requires, 0, title.format(os=_WINDOWS_OS))
        for kb, classification, severity, days, requires, title in _rows(table)
    )


CATALOGUES: dict[str, tuple[Update, ...]] = {
    "AMAZON_LINUX_2023": _linux(_AL2023),
    "AMAZON_LINUX_2": _linux(_AL2),
    "WINDOWS": _windows(_WINDOWS),
}

PRODUCTS = {
    "AMAZON_LINUX_2": ("AmazonLinux2", "AmazonLinux2.0"),
    "AMAZON_LINUX_2023": ("AmazonLinux2023",),
    "WINDOWS": ("WindowsServer2022",),
}
PRODUCT_FAMILY = {"AMAZON_LINUX_2": "AmazonLinux", "AMAZON_LINUX_2023": "AmazonLinux", "WINDOWS": "Windows"}
# PatchFilter keys AWS accepts for the operating systems the sandbox patches (PatchFilter in the API reference)
FILTER_KEYS = {
    "AMAZON_LINUX_2": {"PRODUCT", "CLASSIFICATION", "SEVERITY"},
    "AMAZON_LINUX_2023": {"PRODUCT", "CLASSIFICATION", "SEVERITY"},
    "WINDOWS": {"PATCH_SET", "PRODUCT", "PRODUCT_FAMILY", "CLASSIFICATION", "MSRC_SEVERITY"},
}


def operating_system(host: Host) -> str:
    """The OperatingSystem value of patch baselines for this host."""
    if host.is_windows:
        return "WINDOWS"
    name, version = host.platform_name, host.platform_version
    if name == "Amazon Linux":
        return {"2": "AMAZON_LINUX_2", "2022": "AMAZON_LINUX_2022", "2023": "AMAZON_LINUX_2023"}.get(version, "")
    return {
        "Amazon Linux AMI": "AMAZON_LINUX",
        "Ubuntu": "UBUNTU",
        "Red Hat Enterprise Linux Server": "REDHAT_ENTERPRISE_LINUX",
        "SLES": "SUSE",
    }.get(name, "")


# -- predefined baselines ---------------------------------------------------------------------------------------
def _rule(days: int | None, **filters: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "PatchFilterGroup": {"PatchFilters": [{"Key": k, "Values": v} for k, v in filters.items()]},
        "ComplianceLevel": "UNSPECIFIED",
        "EnableNonSecurity": False,
    }
    if days is not None:
        rule["ApproveAfterDays"] = days
    return rule


_SECURITY_BUGFIX = [
    _rule(7, PRODUCT=["*"], CLASSIFICATION=["Security"], SEVERITY=["Critical", "Important"]),
    _rule(7, PRODUCT=["*"], CLASSIFICATION=["Bugfix"]),
]
_RULES: dict[str, list[dict[str, Any]]] = {
    "security-bugfix": _SECURITY_BUGFIX,
    "windows": [
        _rule(
            7,
            PRODUCT=["*"],
            CLASSIFICATION=["CriticalUpdates", "SecurityUpdates"],
            MSRC_SEVERITY=["Critical", "Important"],
        )
    ],
    "all": [{**_rule(7, PRODUCT=["*"], CLASSIFICATION=["*"], SEVERITY=["*"]), "EnableNonSecurity": True}],
    "oracle": [
        _rule(7, PRODUCT=["*"], CLASSIFICATION=["Security"], SEVERITY=["Important", "Moderate"]),
        _rule(7, PRODUCT=["*"], CLASSIFICATION=["Bugfix"]),
    ],
    "security": [_rule(7, PRODUCT=["*"], CLASSIFICATION=["Security"], SEVERITY=["Critical", "Important"])],
    "debian": [
        _rule(None, PRODUCT=["*"], SECTION=["*"], PRIORITY=["Required", "Important", "Standard", "Optional", "Extra"])
    ],
    "macos": [_rule(None, PRODUCT=["*"], CLASSIFICATION=["*"])],
}
# operating system | name | rules: the predefined-baseline table of the Patch Manager guide. Descriptions as the
# console shows them where known (AL2, AL2023, Windows), else in the same style.
_PREDEFINED = _rows("""
WINDOWS | AWS-DefaultPatchBaseline | windows
AMAZON_LINUX | AWS-AmazonLinuxDefaultPatchBaseline | security-bugfix
AMAZON_LINUX_2 | AWS-AmazonLinux2DefaultPatchBaseline | security-bugfix
AMAZON_LINUX_2022 | AWS-AmazonLinux2022DefaultPatchBaseline | security-bugfix
AMAZON_LINUX_2023 | AWS-AmazonLinux2023DefaultPatchBaseline | security-bugfix
REDHAT_ENTERPRISE_LINUX | AWS-RedHatDefaultPatchBaseline | security-bugfix
CENTOS | AWS-CentOSDefaultPatchBaseline | all
ORACLE_LINUX | AWS-OracleLinuxDefaultPatchBaseline | oracle
SUSE | AWS-SuseDefaultPatchBaseline | security
ROCKY_LINUX | AWS-RockyLinuxDefaultPatchBaseline | security-bugfix
ALMA_LINUX | AWS-AlmaLinuxDefaultPatchBaseline | security-bugfix
UBUNTU | AWS-UbuntuDefaultPatchBaseline | debian
DEBIAN | AWS-DebianDefaultPatchBaseline | debian
RASPBIAN | AWS-RaspbianDefaultPatchBaseline | debian
MACOS | AWS-MacOSDefaultPatchBaseline | macos
""")
_DESCRIPTIONS = {
    "WINDOWS": "Default Patch Baseline Provided by AWS.",
    "AMAZON_LINUX_2": "Baseline containing all Security and Bugfix updates approved for Amazon Linux 2 instances",
    "ORACLE_LINUX": "Default Patch Baseline for Oracle Linux Server Provided by AWS.",
    "CENTOS": "Default Patch Baseline for CentOS Provided by AWS.",
    "MACOS": "Default Patch Baseline for MacOS Provided by AWS.",
}


def _description(os_name: str, name: str) -> str:
    label = name.removeprefix("AWS-").removesuffix("DefaultPatchBaseline")
    label = re.sub(r"(?<=[a-z])(?=[A-Z0-9])", " ", label).replace("Red Hat", "Redhat Enterprise Linux")
    return _DESCRIPTIONS.get(os_name, f"Default Patch Baseline for {label} Provided by AWS.")


_ARNS: dict[str, dict[str, str]] = json.loads(
    gzip.decompress((Path(__import__("moto").__file__).parent / "ssm/resources/default_baselines.json.gz").read_bytes())
)


@dataclass
class Baseline:
    """A patch baseline, predefined or custom, as the patching logic reads it."""

    id: str
    name: str
    operating_system: str
    description: str = ""
    global_filters: dict[str, Any] = field(default_factory=lambda: {"PatchFilters": []})
    approval_rules: dict[str, Any] = field(default_factory=lambda: {"PatchRules": []})
    approved_patches: list[str] = field(default_factory=list)
    approved_patches_compliance_level: str = "UNSPECIFIED"
    approved_patches_enable_non_security: bool = False
    rejected_patches: list[str] = field(default_factory=list)
    rejected_patches_action: str = "ALLOW_AS_DEPENDENCY"
    sources: list[dict[str, Any]] = field(default_factory=list)
    available_security_updates_compliance_status: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    predefined: bool = False


def _predefined(region: str) -> dict[str, Baseline]:
    arns = _ARNS.get(region, {})
    out = {}
    for os_name, name, rules in _PREDEFINED:
        suffix = hashlib.sha256(os_name.encode()).hexdigest()[:17]
        baseline_id = arns.get(os_name) or f"arn:aws:ssm:{region}:{AWS_BASELINE_OWNER}:patchbaseline/pb-{suffix}"
        out[baseline_id] = Baseline(
            id=baseline_id,
            name=name,
            operating_system=os_name,
            description=_description(os_name, name),
            approval_rules={"PatchRules": json.loads(json.dumps(_RULES[rules]))},
            created=datetime(2017, 1, 1, tzinfo=UTC),
            modified=datetime(2017, 1, 1, tzinfo=UTC),
            predefined=True,
        )
    return out


# -- state kept per account and Region ----------------------------------------------------------------------------
@dataclass
class PatchingState:
    """What Patch Manager keeps besides moto's custom baselines."""

    started: datetime  # the patch clock: catalogue release dates count back from this day
    predefined: dict[str, Baseline]
    defaults: dict[str, str] = field(default_factory=dict)  # operating system -> your default baseline id
    groups: dict[str, dict[str, str]] = field(default_factory=dict)  # patch group -> operating system -> id


_state_lock = threading.Lock()


def state_of(fleet: backend.FleetBackend) -> PatchingState:
    existing: PatchingState | None = getattr(fleet, "_patching", None)
    if existing is None:
        with _state_lock:  # not the fleet's lock: a live command's handler may hold a host's lock here
            existing = getattr(fleet, "_patching", None)
            if existing is None:
                now = clock.now()
                existing = PatchingState(
                    now.replace(hour=0, minute=0, second=0, microsecond=0), _predefined(fleet.region_name)
                )
                fleet._patching = existing  # type: ignore[attr-defined]
    return existing


def released(fleet: backend.FleetBackend, update: Update) -> datetime:
    return state_of(fleet).started - timedelta(days=update.days_before)


def _custom(fleet: backend.FleetBackend, baseline_id: str) -> Any | None:
    return fleet.moto.baselines.get(baseline_id)


def _from_moto(fake: Any) -> Baseline:
    return Baseline(
        id=fake.id,
        name=fake.name,
        operating_system=fake.operating_system or "WINDOWS",
        description=fake.description or "",
        global_filters=fake.global_filters or {"PatchFilters": []},
        approval_rules=fake.approval_rules or {"PatchRules": []},
        approved_patches=list(fake.approved_patches or []),
        approved_patches_compliance_level=fake.approved_patches_compliance_level or "UNSPECIFIED",
        approved_patches_enable_non_security=bool(fake.approved_patches_enable_non_security),
        rejected_patches=list(fake.rejected_patches or []),
        rejected_patches_action=fake.rejected_patches_action or "ALLOW_AS_DEPENDENCY",
        sources=list(fake.sources or []),
        available_security_updates_compliance_status=getattr(fake, "_course_available_security", None),
        created=getattr(fake, "_course_created", None),
        modified=getattr(fake, "_course_modified", None),
    )


def find_baseline(fleet: backend.FleetBackend, baseline_id: str) -> Baseline | None:
    """A baseline by id (custom: pb-..., predefined: its ARN; a predefined one also by its pb-... suffix)."""
    fake = _custom(fleet, baseline_id)
    if fake is not None:
        return _from_moto(fake)
    predefined = state_of(fleet).predefined
    if baseline_id in predefined:
        return predefined[baseline_id]
    for baseline in predefined.values():
        if baseline.id.endswith("/" + baseline_id):
            return baseline
    return None


def all_baselines(fleet: backend.FleetBackend) -> list[Baseline]:
    return [*state_of(fleet).predefined.values(), *(_from_moto(b) for b in fleet.moto.baselines.values())]


def default_baseline(fleet: backend.FleetBackend, os_name: str) -> Baseline | None:
    st = state_of(fleet)
    chosen = st.defaults.get(os_name)
    if chosen and find_baseline(fleet, chosen):
        return find_baseline(fleet, chosen)
    return next((b for b in st.predefined.values() if b.operating_system == os_name), None)


def baseline_for(fleet: backend.FleetBackend, os_name: str, patch_group: str) -> Baseline | None:
    """The group's baseline for this operating system, else the OS's default baseline."""
    registered = state_of(fleet).groups.get(patch_group, {}).get(os_name) if patch_group else None
    found = find_baseline(fleet, registered) if registered else None
    return found or default_baseline(fleet, os_name)


def _tags(instance: Any) -> dict[str, str]:
    backend_ = instance.ec2_backend
    return {t["key"]: t["value"] for t in backend_.describe_tags(filters={"resource-id": [instance.id]})}


def products_of(instance: Any, os_name: str) -> tuple[str, ...]:
    """PRODUCT values of a node: Windows Server's year comes from the AMI name."""
    if os_name == "WINDOWS":
        try:
            images = instance.ec2_backend.describe_images(ami_ids=[instance.image_id])
        except Exception:  # the AMI was deregistered
            images = []
        found = re.search(r"Windows_Server-(\d{4})", images[0].name or "") if images else None
        return (f"WindowsServer{found.group(1)}",) if found else PRODUCTS["WINDOWS"]
    return PRODUCTS.get(os_name, ())


def patch_group_of(instance: Any) -> str:
    tags = _tags(instance)
    return tags.get("Patch Group") or tags.get("PatchGroup") or ""


# -- approval -----------------------------------------------------------------------------------------------------
@dataclass
class Approval:
    """How a baseline treats one update (PatchStatus of DescribeEffectivePatchesForPatchBaseline)."""

    status: str | None  # APPROVED | PENDING_APPROVAL | EXPLICIT_APPROVED | EXPLICIT_REJECTED | None (not in baseline)
    compliance_level: str = "UNSPECIFIED"
    approval_date: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.status in ("APPROVED", "EXPLICIT_APPROVED")


def _values_for(update: Update, key: str, os_name: str, products: tuple[str, ...] = ()) -> list[str] | None:
    """The update's values for a PatchFilter key (None: the sandbox does not model this key)."""
    match key:
        case "PRODUCT":
            return list(products or PRODUCTS.get(os_name, ()))
        case "PRODUCT_FAMILY":
            return [PRODUCT_FAMILY.get(os_name, "")]
        case "CLASSIFICATION":
            return [update.classification]
        case "SEVERITY" | "MSRC_SEVERITY":
            return [update.severity]
        case "PATCH_SET":
            return ["OS"]
        case "PATCH_ID" | "ADVISORY_ID":
            return [update.advisory]
        case "NAME":
            return [update.name]
        case "CVE_ID":
            return list(update.cves)
        case "ARCH":
            return ["x86_64"]
    return None


def _filters_match(update: Update, filters: list[dict[str, Any]], os_name: str, products: tuple[str, ...]) -> bool:
    for f in filters:
        wanted = f.get("Values") or []
        have = _values_for(update, f.get("Key", ""), os_name, products)
        if have is None:
            continue
        # an update without a value (a Bugfix's severity) matches only "*"
        if not any(fnmatch.fnmatchcase(v, w) if v else w == "*" for v in have for w in wanted):
            return False
    return True


def _listed(update: Update, patterns: list[str], approved_list: bool) -> bool:
    """Is the update named in an ApprovedPatches/RejectedPatches list (formats of the package-name-formats page)?"""
    if update.windows:
        names = [update.name, update.advisory]
    else:
        names = [update.uid]
        if approved_list:
            names += [update.advisory, *update.cves]
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names if n)


def _level_rank(level: str) -> int:
    return COMPLIANCE_LEVELS.index(level) if level in COMPLIANCE_LEVELS else len(COMPLIANCE_LEVELS)


def approval(
    baseline: Baseline, update: Update, release: datetime, now: datetime, products: tuple[str, ...] = ()
) -> Approval:
    """Whether the baseline approves the update at `now` (on a node of these products), and at which level."""
    if _listed(update, baseline.rejected_patches, approved_list=False):
        return Approval("EXPLICIT_REJECTED")
    os_name = baseline.operating_system
    if _listed(update, baseline.approved_patches, approved_list=True):
        return Approval("EXPLICIT_APPROVED", baseline.approved_patches_compliance_level or "UNSPECIFIED", release)
    if not _filters_match(update, (baseline.global_filters or {}).get("PatchFilters", []), os_name, products):
        return Approval(None)
    best: Approval | None = None
    for rule in (baseline.approval_rules or {}).get("PatchRules", []):
        if not update.windows and not update.advisory and not rule.get("EnableNonSecurity"):
            continue  # a non-security update needs EnableNonSecurity
        if not _filters_match(update, (rule.get("PatchFilterGroup") or {}).get("PatchFilters", []), os_name, products):
            continue
        level = rule.get("ComplianceLevel") or "UNSPECIFIED"
        if rule.get("ApproveUntilDate"):
            until = datetime.fromisoformat(rule["ApproveUntilDate"]).replace(tzinfo=UTC) + timedelta(days=1)
            candidate = Approval("APPROVED" if release < until else None, level, release if release < until else None)
        else:
            approve_at = release + timedelta(days=int(rule.get("ApproveAfterDays") or 0))
            candidate = Approval("APPROVED" if approve_at <= now else "PENDING_APPROVAL", level, approve_at)
        if candidate.status is None:
            continue
        # several rules match: approved beats pending, then the more severe compliance level wins
        key = (candidate.status != "APPROVED", _level_rank(candidate.compliance_level))
        if best is None or key < (best.status != "APPROVED", _level_rank(best.compliance_level)):
            best = candidate
    return best or Approval(None)


# -- a host's patch states ----------------------------------------------------------------------------------------
@dataclass
class PatchReport:
    """One reported patch: PatchComplianceData plus what compliance needs."""

    update: Update
    title: str
    state: str
    compliance_level: str
    installed_time: datetime | None


def _seed_from_ami(fleet: backend.FleetBackend, host: Host, catalogue: tuple[Update, ...]) -> None:
    """The first time Patch Manager looks at a host: updates older than the AMI are installed already."""
    if getattr(host, "_patch_seeded", False):
        return
    for update in catalogue:
        if update.days_before >= AMI_AGE_DAYS:
            when = released(fleet, update) + timedelta(days=2)
            host.installed_updates.setdefault(update.uid, when.isoformat())
    host._patch_seeded = True  # type: ignore[attr-defined]


def _pending_reboot(host: Host) -> set[str]:
    pending: set[str] | None = getattr(host, "_pending_reboot_updates", None)
    if pending is None:
        pending = set()
        host._pending_reboot_updates = pending  # type: ignore[attr-defined]
    return pending


def reboot(host: Host, at: datetime | None = None) -> None:
    """The host restarted: patches waiting for a reboot are now in effect."""
    host.reboots += 1
    host.pending_reboot = False
    _pending_reboot(host).clear()
    host.last_reboot = at or clock.now()  # type: ignore[attr-defined]


def _applicable(host: Host, update: Update) -> bool:
    if not update.requires:
        return True
    return update.requires in (host.services if host.is_windows else host.packages)


def patch_reports(
    fleet: backend.FleetBackend,
    host: Host,
    baseline: Baseline,
    now: datetime,
    products: tuple[str, ...] = (),
    failed: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[PatchReport], int, list[tuple[Update, Approval]]]:
    """(reported patches, NotApplicableCount, approved missing applicable updates) for the host at `now`;
    `failed`: updates the Install being reported failed to install (a Scan reports them MISSING)."""
    catalogue = CATALOGUES.get(baseline.operating_system, ())
    pending = _pending_reboot(host)
    reports: list[PatchReport] = []
    not_applicable = 0
    to_install: list[tuple[Update, Approval]] = []
    for update in catalogue:
        release = released(fleet, update)
        if release > now:
            continue  # not released yet
        verdict = approval(baseline, update, release, now, products)
        title = update.title(release)
        installed = host.installed_updates.get(update.uid)
        if installed is not None:
            when = datetime.fromisoformat(installed) if installed else release
            if verdict.status == "EXPLICIT_REJECTED":
                state = "INSTALLED_REJECTED" if baseline.rejected_patches_action == "BLOCK" else "INSTALLED_OTHER"
                level = "UNSPECIFIED"
            elif verdict.approved:
                state = "INSTALLED_PENDING_REBOOT" if update.uid in pending else "INSTALLED"
                level = verdict.compliance_level
            else:
                state, level = "INSTALLED_OTHER", "UNSPECIFIED"
            reports.append(PatchReport(update, title, state, level, when))
        elif verdict.approved:
            if not _applicable(host, update):
                if host.is_windows:  # "only reported on Windows Server operating systems" (compliance states)
                    not_applicable += 1
                    reports.append(PatchReport(update, title, "NOT_APPLICABLE", verdict.compliance_level, None))
                continue
            state = "FAILED" if update.uid in failed else "MISSING"
            reports.append(PatchReport(update, title, state, verdict.compliance_level, None))
            to_install.append((update, verdict))
    return reports, not_applicable, to_install


def _counts(reports: list[PatchReport], not_applicable: int) -> dict[str, int]:
    def count(state: str) -> int:
        return sum(1 for r in reports if r.state == state)

    non_compliant = [r for r in reports if r.state in NON_COMPLIANT_STATES]
    critical = [r for r in non_compliant if r.compliance_level == "CRITICAL"]
    security = [r for r in non_compliant if r.update.classification in ("Security", "SecurityUpdates")]
    return {
        "InstalledCount": count("INSTALLED"),
        "InstalledOtherCount": count("INSTALLED_OTHER"),
        "InstalledPendingRebootCount": count("INSTALLED_PENDING_REBOOT"),
        "InstalledRejectedCount": count("INSTALLED_REJECTED"),
        "MissingCount": count("MISSING"),
        "FailedCount": count("FAILED"),
        "UnreportedNotApplicableCount": 0,
        "NotApplicableCount": not_applicable,
        "AvailableSecurityUpdateCount": 0,
        "CriticalNonCompliantCount": len(critical),
        "SecurityNonCompliantCount": len(security),
        "OtherNonCompliantCount": len([r for r in non_compliant if r not in critical and r not in security]),
    }


def patch_data(report: PatchReport) -> dict[str, Any]:
    """One PatchComplianceData of DescribeInstancePatches."""
    return {
        "Title": report.title,
        "KBId": report.update.kb_id,
        "Classification": report.update.classification,
        "Severity": report.update.severity,
        "State": report.state,
        "InstalledTime": report.installed_time or datetime(1970, 1, 1, tzinfo=UTC),
        "CVEIds": ",".join(report.update.cves),
    }


# -- AWS-RunPatchBaseline -----------------------------------------------------------------------------------------
def _log(at: datetime, level: str, text: str) -> str:
    return f"{at:%m/%d/%Y %H:%M:%S} root [{level}]: {text}\n"


def _repo_error(host: Host) -> str:
    text = host.files.get(BROKEN_REPO, "")
    found = re.search(r"^\[([^\]]+)\]", text, re.MULTILINE)
    repo = found.group(1) if found else "broken"
    url = f"https://{repo}.repo.example.invalid/repodata/repomd.xml"
    if host.package_manager == "dnf":
        return (
            f"Errors during downloading metadata for repository '{repo}':\n"
            f"  - Curl error (6): Couldn't resolve host name for {url} "
            f"[Could not resolve host: {repo}.repo.example.invalid]\n"
            f"Error: Failed to download metadata for repo '{repo}': Cannot download repomd.xml: "
            "Cannot download repodata/repomd.xml: All mirrors were tried\n"
        )
    return (
        f"\n\n One of the configured repositories failed ({repo}),\n"
        " and yum doesn't have enough cached data to continue.\n"
        f"failure: repodata/repomd.xml from {repo}: [Errno 256] No more mirrors to try.\n"
        f'{url}: [Errno 14] curl#6 - "Could not resolve host: {repo}.repo.example.invalid; Unknown error"\n'
    )


def _locked(host: Host, update: Update) -> bool:
    text = host.files.get(VERSIONLOCK.get(host.package_manager, ""), "")
    for line in text.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        pattern = re.sub(r"^\d+:", "", pattern)
        if any(fnmatch.fnmatchcase(n, pattern) for n in (update.name, update.uid)):
            return True
    return False


def _summary(state: dict[str, Any]) -> str:
    keys = (
        "PatchGroup", "BaselineId", "SnapshotId", "OwnerInformation", "Operation", "OperationStartTime",
        "OperationEndTime", "RebootOption", "InstalledCount", "InstalledOtherCount", "InstalledPendingRebootCount",
        "InstalledRejectedCount", "MissingCount", "FailedCount", "NotApplicableCount",
    )  # fmt: skip
    lines = []
    for key in keys:
        value = state.get(key, "")
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{key:<28}: {value}")
    return "\n".join(lines) + "\n"


def _fail(name: str, stdout: str, stderr: str, seconds: float) -> PluginResult:
    return PluginResult(name, "Failed", 1, stdout, stderr + "failed to run commands: exit status 1\n", seconds)


def run_patch_baseline(host: Host, ctx: RunContext) -> list[PluginResult]:
    """AWS-RunPatchBaseline on one node: PatchWindows or PatchLinux runs, the other step is skipped."""
    results = []
    for name, _, _, precondition in steps_of(documents.COMMAND_DOCUMENTS[DOCUMENT]):
        wanted = (precondition or {}).get("StringEquals", ["platformType", host.platform_type])[1]
        if wanted != host.platform_type:
            text = (
                "Step execution skipped due to unsatisfied preconditions: "
                f"'{json.dumps(precondition)}' failed for step {name}"
            )
            results.append(PluginResult(name, "Success", 0, text, "", 0, "Success", skipped=True))
            continue
        results.append(_operate(host, ctx, name))
    return results


def _operate(host: Host, ctx: RunContext, plugin: str) -> PluginResult:
    fleet = backend.fleet_for(ctx.account_id, ctx.region)
    params = ctx.parameters
    operation = str(params.get("Operation") or "Scan")
    reboot_option = str(params.get("RebootOption") or "RebootIfNeeded")
    snapshot = str(params.get("SnapshotId") or "") or str(uuid.uuid4())
    start: datetime = ctx.extra.get("at") or clock.now()
    execution_id = str(ctx.extra.get("command_id") or ctx.extra.get("execution_id") or "")
    os_name = operating_system(host)
    out = [
        _log(start, "INFO", "Patch Baseline Operations (simulated by the course sandbox)"),
        _log(start, "INFO", f"Instance Id: {host.instance_id}, Region: {ctx.region}"),
        _log(start, "INFO", f"Operation: {operation}, RebootOption: {reboot_option}, Snapshot Id: {snapshot}"),
    ]
    catalogue = CATALOGUES.get(os_name)
    if catalogue is None:
        return _fail(
            plugin,
            "".join(out),
            f"The course sandbox has no simulated patch repository for {host.platform_name} {host.platform_version}; "
            "its labs patch Amazon Linux 2, Amazon Linux 2023 and Windows Server.\n",
            5,
        )
    for name in ("BaselineOverride", "InstallOverrideList"):
        if params.get(name) and (operation == "Install" or name == "BaselineOverride"):
            return _fail(plugin, "".join(out), f"The course sandbox does not read {name}; run without it.\n", 5)
    if not host.is_windows and BROKEN_REPO in host.files:
        out.append(_log(start, "ERROR", f"Error while refreshing the {host.package_manager} metadata"))
        return _fail(plugin, "".join(out), _repo_error(host), 35)
    _seed_from_ami(fleet, host, catalogue)
    instance = ctx.instance
    patch_group = patch_group_of(instance)
    baseline = baseline_for(fleet, os_name, patch_group)
    assert baseline is not None
    products = products_of(instance, os_name)
    out.append(_log(start, "INFO", f"Patch group: '{patch_group}'" if patch_group else "No patch group tag"))
    out.append(_log(start, "INFO", f"Patch baseline: {baseline.id} ({baseline.name}), operating system {os_name}"))
    seconds = SCAN_SECONDS
    installed_now: list[Update] = []
    failed_now: list[Update] = []
    if operation == "Install":
        host.failed_updates.clear()
        _, _, to_install = patch_reports(fleet, host, baseline, start, products)
        if to_install:
            names = ", ".join(u.uid for u, _ in to_install)
            out.append(_log(start, "INFO", f"Installing {len(to_install)} approved update(s): {names}"))
        for update, _ in to_install:
            seconds += INSTALL_SECONDS_EACH
            at = start + timedelta(seconds=seconds)
            if not host.is_windows and _locked(host, update):
                host.failed_updates.add(update.uid)
                failed_now.append(update)
                out.append(_log(at, "ERROR", f"Failed to install {update.uid}: the package is locked by versionlock"))
                continue
            host.installed_updates[update.uid] = at.isoformat()
            if not host.is_windows and update.name in host.packages:
                host.packages[update.name] = update.version
            installed_now.append(update)
            out.append(_log(at, "INFO", f"Installed {update.uid}"))
        if not to_install:
            out.append(_log(start, "INFO", "No approved updates are missing: nothing to install"))
        pending = _pending_reboot(host)
        if reboot_option == "NoReboot":
            if installed_now:
                pending.update(u.uid for u in installed_now)
                host.pending_reboot = True
                host.last_no_reboot_install = start  # type: ignore[attr-defined]
                out.append(_log(start + timedelta(seconds=seconds), "INFO", "RebootOption NoReboot: not rebooting"))
        elif installed_now or pending:
            seconds += REBOOT_SECONDS
            reboot(host, start + timedelta(seconds=seconds))
            why = "patches were installed" if installed_now else "patches were pending a reboot"
            out.append(_log(start + timedelta(seconds=seconds), "INFO", f"Rebooted the instance ({why})"))
    end = start + timedelta(seconds=seconds)
    failed = host.failed_updates if operation == "Install" else frozenset()
    reports, not_applicable, _ = patch_reports(fleet, host, baseline, end, products, failed)
    counts = _counts(reports, not_applicable)
    patch_state: dict[str, Any] = {
        "InstanceId": host.instance_id,
        "PatchGroup": patch_group,
        "BaselineId": baseline.id,
        "SnapshotId": snapshot,
        "OwnerInformation": str(ctx.extra.get("owner_information") or ""),
        **counts,
        "OperationStartTime": start,
        "OperationEndTime": end,
        "Operation": operation,
        "RebootOption": reboot_option,
    }
    last_no_reboot = getattr(host, "last_no_reboot_install", None)
    if last_no_reboot is not None:
        patch_state["LastNoRebootInstallOperationTime"] = last_no_reboot
    _record(fleet, host, patch_state, reports, baseline, patch_group, end, execution_id)
    host.files[WINDOWS_STATE_FILE if host.is_windows else STATE_FILE] = json.dumps(
        {r.update.kb_id: r.state for r in reports}, indent=2, sort_keys=True
    )
    out.append(_log(end, "INFO", "Report upload successful."))
    text = "".join(out) + "\n" + _summary(patch_state)
    if failed_now:
        return _fail(plugin, text, f"{len(failed_now)} update(s) failed to install.\n", seconds)
    return PluginResult(plugin, "Success", 0, text, "", seconds)


def _record(
    fleet: backend.FleetBackend,
    host: Host,
    patch_state: dict[str, Any],
    reports: list[PatchReport],
    baseline: Baseline,
    patch_group: str,
    at: datetime,
    execution_id: str,
) -> None:
    """Store the node's patch state and its "Patch" compliance items (each run replaces the previous ones)."""
    items = [
        {
            "Id": r.update.kb_id,
            "Title": r.title,
            "Status": "COMPLIANT" if r.state in COMPLIANT_STATES else "NON_COMPLIANT",
            "Severity": r.compliance_level if r.compliance_level in COMPLIANCE_LEVELS else "UNSPECIFIED",
            "Details": {
                "Classification": r.update.classification,
                "PatchSeverity": r.update.severity,
                "PatchState": r.state,
                "PatchBaselineId": baseline.id,
                "PatchGroup": patch_group,
                "InstalledTime": r.installed_time.strftime("%Y-%m-%dT%H:%M:%SZ") if r.installed_time else "",
                "DocumentName": DOCUMENT,
            },
        }
        for r in reports
        if r.state in COMPLIANT_STATES or r.state in NON_COMPLIANT_STATES
    ]
    entry = {"state": patch_state, "patches": [patch_data(r) for r in reports]}
    summary = compliance.execution_summary(at, execution_id, "Command")
    # A live command holds the host's lock here while the fleet's lock may be held by a catch-up that waits for
    # this host: wait a little, then write without the fleet lock rather than deadlock.
    locked = fleet.lock.acquire(timeout=2.0)
    try:
        fleet.patch_states[host.instance_id] = entry
        if locked:
            compliance.record(fleet, host.instance_id, "Patch", items, summary)
        else:
            fleet.compliance.setdefault(host.instance_id, {})["Patch"] = items
            fleet.compliance_meta[(host.instance_id, "Patch")] = summary
    finally:
        if locked:
            fleet.lock.release()


def install() -> None:
    """Register the Patch Manager actions (patching_api.py) and the AWS-RunPatchBaseline handler."""
    from . import patching_api

    patching_api.install()
