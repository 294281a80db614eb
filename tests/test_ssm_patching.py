"""Patch Manager as AWS answers: predefined and custom baselines, approval rules, patch groups, AWS-RunPatchBaseline.

Each test proves one AWS behaviour and cites the documentation it rests on. The patch repositories are simulated
(labs_support/emulator/ssm/patching.py: a fixed catalogue per OS whose release dates count back from the moment
Patch Manager first looks at an account and Region). Tests that count patches by age use a Region of their own, so
their "patch clock" starts when they do. Amazon Linux 2023 nodes start with kernel and openssl installed (they are
older than the AMI); the predefined baseline then finds curl, sudo, glibc (Security, Critical/Important) and
systemd (Bugfix) missing, openssh-server (2 days old) not yet approved, and nginx not applicable.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from aws_errors import api_error

import labs_support
from labs_support.emulator.ssm import schedule
from labs_support.sandbox import Sandbox

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"
PROFILE = "PatchingManagedNode"
DEFAULT_MISSING = ["curl.x86_64", "glibc.x86_64", "sudo.x86_64", "systemd.x86_64"]
# Regions whose patch clock starts when a test first uses them
_regions = iter(
    [
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-south-1",
        "ca-central-1",
        "sa-east-1",
    ]
)
_names = itertools.count(1)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A sandbox whose lab clock runs fast (a patch Install's lab minutes pass in milliseconds), with an instance
    profile that makes instances managed nodes (AmazonSSMManagedInstanceCore)."""
    sandbox = labs_support.start_sandbox()
    sandbox.lab_clock_speed = 60_000
    labs_support.ssm_instance_profile(sandbox, PROFILE)
    yield sandbox
    sandbox.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def launch(
    sb: Sandbox, count: int = 1, tags: dict[str, str] | None = None, region: str | None = None, **extra: Any
) -> list[str]:
    """N managed Amazon Linux 2023 nodes (or another AMI with ImageId=...), tagged."""
    ec2 = sb.client("ec2", region=region)
    image = (
        extra.pop("ImageId", None) or sb.client("ssm", region=region).get_parameter(Name=AL2023)["Parameter"]["Value"]
    )
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    reservation = ec2.run_instances(
        ImageId=image, MinCount=count, MaxCount=count, IamInstanceProfile={"Name": PROFILE}, **extra
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def wait(ssm: Any, command_id: str) -> list[dict[str, Any]]:
    """The command's invocations once all have finished (a real-time guard, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while True:
        invocations = ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"]
        if invocations and all(i["Status"] not in ("Pending", "InProgress", "Delayed") for i in invocations):
            return invocations
        assert time.monotonic() < deadline, "the command did not finish"
        time.sleep(0.02)


def patch(ssm: Any, ids: list[str], operation: str, **parameters: str) -> list[dict[str, Any]]:
    """Run AWS-RunPatchBaseline and wait for it."""
    params = {"Operation": [operation], **{k: [v] for k, v in parameters.items()}}
    command = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=ids, Parameters=params)["Command"]
    return wait(ssm, command["CommandId"])


def state(ssm: Any, instance_id: str) -> dict[str, Any]:
    return ssm.describe_instance_patch_states(InstanceIds=[instance_id])["InstancePatchStates"][0]


def kbs(ssm: Any, instance_id: str, state_filter: str) -> list[str]:
    patches = ssm.describe_instance_patches(
        InstanceId=instance_id, Filters=[{"Key": "State", "Values": [state_filter]}]
    )["Patches"]
    return sorted(p["KBId"] for p in patches)


def plugin(invocation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in invocation["CommandPlugins"] if p["Name"] == name)


def custom_baseline(ssm: Any, **kwargs: Any) -> str:
    return ssm.create_patch_baseline(Name=unique("fidelity-baseline"), OperatingSystem="AMAZON_LINUX_2023", **kwargs)[
        "BaselineId"
    ]


def security_rule(days: int, severities: list[str], level: str = "UNSPECIFIED") -> dict[str, Any]:
    return {
        "PatchFilterGroup": {
            "PatchFilters": [
                {"Key": "CLASSIFICATION", "Values": ["Security"]},
                {"Key": "SEVERITY", "Values": severities},
            ]
        },
        "ApproveAfterDays": days,
        "ComplianceLevel": level,
    }


# -- baselines ------------------------------------------------------------------------------------------------
def test_predefined_baselines_exist_in_every_region_and_are_each_operating_systems_default(sb: Sandbox) -> None:
    """Patch Manager provides a predefined baseline per operating system; it is the default until you register
    your own. GetDefaultPatchBaseline without OperatingSystem answers for Windows.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetDefaultPatchBaseline.html
    """
    ssm = sb.client("ssm")
    aws_owned = ssm.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["AWS"]}])["BaselineIdentities"]
    by_name = {b["BaselineName"]: b for b in aws_owned}
    al2023 = by_name["AWS-AmazonLinux2023DefaultPatchBaseline"]
    assert al2023["OperatingSystem"] == "AMAZON_LINUX_2023" and al2023["DefaultBaseline"] is True
    assert by_name["AWS-AmazonLinux2DefaultPatchBaseline"]["DefaultBaseline"] is True
    assert ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"] == al2023["BaselineId"]
    windows = ssm.get_default_patch_baseline()
    assert windows["OperatingSystem"] == "WINDOWS"
    assert windows["BaselineId"] == by_name["AWS-DefaultPatchBaseline"]["BaselineId"]
    other_region = sb.client("ssm", region="eu-west-1").describe_patch_baselines(
        Filters=[{"Key": "NAME_PREFIX", "Values": ["AWS-AmazonLinux2023"]}]
    )["BaselineIdentities"]
    assert [b["BaselineName"] for b in other_region] == ["AWS-AmazonLinux2023DefaultPatchBaseline"]


def test_amazon_linux_predefined_baseline_approves_critical_and_important_security_and_bugfix_after_7_days(
    sb: Sandbox,
) -> None:
    """AWS-AmazonLinux2023DefaultPatchBaseline: Security patches of severity Critical or Important and Bugfix
    patches, auto-approved 7 days after release; predefined baselines assign compliance level Unspecified.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    """
    ssm = sb.client("ssm")
    baseline = ssm.get_patch_baseline(
        BaselineId=ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    )
    rules = baseline["ApprovalRules"]["PatchRules"]
    filters = [{f["Key"]: f["Values"] for f in r["PatchFilterGroup"]["PatchFilters"]} for r in rules]
    assert filters == [
        {"PRODUCT": ["*"], "CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important"]},
        {"PRODUCT": ["*"], "CLASSIFICATION": ["Bugfix"]},
    ]
    assert {r["ApproveAfterDays"] for r in rules} == {7}
    assert {r["ComplianceLevel"] for r in rules} == {"UNSPECIFIED"}


def test_predefined_baselines_cannot_be_changed_or_deleted(sb: Sandbox) -> None:
    """Predefined baselines can be used as they are configured; you can't customize them.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    """
    ssm = sb.client("ssm")
    baseline_id = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    assert api_error(ssm.update_patch_baseline, BaselineId=baseline_id, Description="mine")[0] == "ValidationException"
    assert api_error(ssm.delete_patch_baseline, BaselineId=baseline_id)[0] == "ValidationException"


def test_an_approval_rule_needs_approve_after_days_or_approve_until_date(sb: Sandbox) -> None:
    """ApproveAfterDays is marked not required, "but your request must include a value for either
    ApproveAfterDays or ApproveUntilDate" (not for Debian Server or Ubuntu Server).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ssm-patchbaseline-rule.html
    """
    ssm = sb.client("ssm")
    rule = {"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}}
    code, _ = api_error(
        ssm.create_patch_baseline,
        Name=unique("no-delay"),
        OperatingSystem="AMAZON_LINUX_2023",
        ApprovalRules={"PatchRules": [rule]},
    )
    assert code == "ValidationException"


# -- Scan -----------------------------------------------------------------------------------------------------
def test_scan_reports_missing_approved_patches_and_non_compliant_patch_compliance(sb: Sandbox) -> None:
    """Scan reports approved patches that are not installed as MISSING (non-compliant) and installed approved
    ones as INSTALLED; the node's patch state and its "Patch" compliance items are recorded. Predefined baselines
    give every patch compliance level Unspecified.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstancePatchState.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    [node] = launch(sb, region=region)
    [invocation] = patch(ssm, [node], "Scan")
    assert invocation["Status"] == "Success"
    st = state(ssm, node)
    assert st["Operation"] == "Scan" and st["PatchGroup"] == ""
    assert st["BaselineId"] == ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    assert (st["InstalledCount"], st["MissingCount"], st["InstalledOtherCount"], st["FailedCount"]) == (2, 4, 0, 0)
    assert st["NotApplicableCount"] == 0  # the nginx update does not apply, but NOT_APPLICABLE is Windows-only
    assert st["OperationStartTime"] < st["OperationEndTime"]
    assert kbs(ssm, node, "Missing") == DEFAULT_MISSING
    assert kbs(ssm, node, "INSTALLED") == ["kernel.x86_64", "openssl.x86_64"]
    items = ssm.list_compliance_items(ResourceIds=[node], Filters=[{"Key": "ComplianceType", "Values": ["Patch"]}])[
        "ComplianceItems"
    ]
    non_compliant = sorted(i["Id"] for i in items if i["Status"] == "NON_COMPLIANT")
    assert non_compliant == DEFAULT_MISSING
    assert {i["Severity"] for i in items} == {"UNSPECIFIED"}
    assert {i["ExecutionSummary"]["ExecutionId"] for i in items} == {invocation["CommandId"]}
    summary = ssm.list_resource_compliance_summaries(
        Filters=[{"Key": "ComplianceType", "Values": ["Patch"]}, {"Key": "ResourceId", "Values": [node]}]
    )["ResourceComplianceSummaryItems"]
    assert summary[0]["Status"] == "NON_COMPLIANT"
    assert summary[0]["NonCompliantSummary"]["NonCompliantCount"] == 4


def test_aws_runpatchbaseline_runs_the_linux_step_and_skips_the_windows_one(sb: Sandbox) -> None:
    """AWS-RunPatchBaseline's steps have platformType preconditions: on Linux, PatchWindows is skipped.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/document-schemas-features.html
    """
    ssm = sb.client("ssm")
    [node] = launch(sb)
    [invocation] = patch(ssm, [node], "Scan")
    windows, linux = plugin(invocation, "PatchWindows"), plugin(invocation, "PatchLinux")
    assert windows["Status"] == "Success"
    assert windows["Output"].startswith("Step execution skipped due to unsatisfied preconditions")
    assert linux["Status"] == "Success" and "MissingCount" in linux["Output"]


def test_approval_rule_with_approve_after_days_approves_only_patches_old_enough(sb: Sandbox) -> None:
    """An approval rule approves the patches its filters match ApproveAfterDays after their release; the
    rule's ComplianceLevel is the severity of a missing patch. Patches not approved are not reported missing.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ssm-patchbaseline-rule.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    baseline = custom_baseline(ssm, ApprovalRules={"PatchRules": [security_rule(7, ["Critical"], "CRITICAL")]})
    group = unique("critical-only")
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline, PatchGroup=group)
    [node] = launch(sb, tags={"Patch Group": group}, region=region)
    patch(ssm, [node], "Scan")
    assert kbs(ssm, node, "Missing") == ["curl.x86_64"]  # Critical, 21 days old; openssh-server is 2 days old
    assert kbs(ssm, node, "Installed") == ["kernel.x86_64"]
    assert kbs(ssm, node, "InstalledOther") == ["openssl.x86_64"]  # Important: installed, not in the baseline
    st = state(ssm, node)
    assert st["BaselineId"] == baseline and st["CriticalNonCompliantCount"] == 1
    items = ssm.list_compliance_items(ResourceIds=[node], Filters=[{"Key": "Status", "Values": ["NON_COMPLIANT"]}])[
        "ComplianceItems"
    ]
    assert [(i["Id"], i["Severity"]) for i in items] == [("curl.x86_64", "CRITICAL")]

    rule = security_rule(1, ["Critical"], "CRITICAL")
    ssm.update_patch_baseline(BaselineId=baseline, ApprovalRules={"PatchRules": [rule]})
    patch(ssm, [node], "Scan")
    assert kbs(ssm, node, "Missing") == ["curl.x86_64", "openssh-server.x86_64"]


def test_approve_until_date_approves_patches_released_on_or_before_the_date(sb: Sandbox) -> None:
    """ApproveUntilDate: "Any patches released on or before this date are installed automatically"; release
    dates are evaluated in UTC. A filter group without SEVERITY matches every severity.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ssm-patchbaseline-rule.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-selecting-patches.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    available = ssm.describe_available_patches(Filters=[{"Key": "PRODUCT", "Values": ["AmazonLinux2023"]}])["Patches"]
    glibc = next(p for p in available if p["Name"] == "glibc")
    rule = {
        "PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]},
        "ApproveUntilDate": glibc["ReleaseDate"].strftime("%Y-%m-%d"),
    }
    baseline = custom_baseline(ssm, ApprovalRules={"PatchRules": [rule]})
    group = unique("until")
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline, PatchGroup=group)
    [node] = launch(sb, tags={"PatchGroup": group}, region=region)
    patch(ssm, [node], "Scan")
    # released on or before glibc: curl (21 days), sudo (14), python3 (12, Medium), glibc (10); not vim-minimal (9)
    assert kbs(ssm, node, "Missing") == ["curl.x86_64", "glibc.x86_64", "python3.x86_64", "sudo.x86_64"]


def test_patch_group_tag_picks_the_groups_baseline_and_an_untagged_node_uses_the_default(sb: Sandbox) -> None:
    """A node's patch group is its `Patch Group` or `PatchGroup` tag; Patch Manager uses the baseline registered
    for that group and the node's OS, else the OS's default baseline (also for a group with no baseline).

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html
    """
    ssm = sb.client("ssm")
    baseline = custom_baseline(ssm, ApprovalRules={"PatchRules": [security_rule(0, ["Critical", "Important"])]})
    group = unique("web")
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline, PatchGroup=group)
    [spaced] = launch(sb, tags={"Patch Group": group})
    [joined] = launch(sb, tags={"PatchGroup": group})
    [untagged] = launch(sb)
    [orphan] = launch(sb, tags={"Patch Group": unique("no-baseline")})
    patch(ssm, [spaced, joined, untagged, orphan], "Scan")
    default = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    states = {
        s["InstanceId"]: s
        for s in ssm.describe_instance_patch_states(InstanceIds=[spaced, joined, untagged, orphan])[
            "InstancePatchStates"
        ]
    }
    assert states[spaced]["BaselineId"] == states[joined]["BaselineId"] == baseline
    assert states[spaced]["PatchGroup"] == states[joined]["PatchGroup"] == group
    assert states[untagged]["BaselineId"] == states[orphan]["BaselineId"] == default
    found = ssm.get_patch_baseline_for_patch_group(PatchGroup=group, OperatingSystem="AMAZON_LINUX_2023")
    assert found["BaselineId"] == baseline
    other_os = ssm.get_patch_baseline_for_patch_group(PatchGroup=group, OperatingSystem="AMAZON_LINUX_2")
    assert other_os["BaselineId"] == ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2")["BaselineId"]
    assert group in ssm.get_patch_baseline(BaselineId=baseline)["PatchGroups"]
    mappings = ssm.describe_patch_groups(Filters=[{"Key": "NAME_PREFIX", "Values": [group]}])["Mappings"]
    assert [(m["PatchGroup"], m["BaselineIdentity"]["BaselineId"]) for m in mappings] == [(group, baseline)]
    group_state = ssm.describe_patch_group_state(PatchGroup=group)
    assert group_state["Instances"] == 2 and group_state["InstancesWithMissingPatches"] == 2
    by_group = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup=group, Filters=[{"Key": "MissingCount", "Values": ["0"], "Type": "GreaterThan"}]
    )["InstancePatchStates"]
    assert sorted(s["InstanceId"] for s in by_group) == sorted([spaced, joined])


def test_a_patch_group_has_one_baseline_per_operating_system(sb: Sandbox) -> None:
    """ "A patch group can be registered with only one patch baseline for each operating system type";
    registering a second one answers AlreadyExistsException. A baseline registered with a group can't be deleted.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_RegisterPatchBaselineForPatchGroup.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeletePatchBaseline.html
    """
    ssm = sb.client("ssm")
    first = custom_baseline(ssm, ApprovalRules={"PatchRules": [security_rule(7, ["Critical"])]})
    second = custom_baseline(ssm, ApprovalRules={"PatchRules": [security_rule(3, ["Critical"])]})
    group = unique("one-per-os")
    ssm.register_patch_baseline_for_patch_group(BaselineId=first, PatchGroup=group)
    code, _ = api_error(ssm.register_patch_baseline_for_patch_group, BaselineId=second, PatchGroup=group)
    assert code == "AlreadyExistsException"
    assert api_error(ssm.delete_patch_baseline, BaselineId=first)[0] == "ResourceInUseException"
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=first, PatchGroup=group)
    ssm.register_patch_baseline_for_patch_group(BaselineId=second, PatchGroup=group)
    ssm.delete_patch_baseline(BaselineId=first)


def test_registering_a_default_baseline_changes_what_untagged_nodes_use(sb: Sandbox) -> None:
    """RegisterDefaultPatchBaseline makes a baseline the default of its operating system: nodes in no patch group
    use it.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_RegisterDefaultPatchBaseline.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    predefined = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    mine = custom_baseline(ssm, ApprovalRules={"PatchRules": [security_rule(7, ["Critical"])]})
    assert ssm.register_default_patch_baseline(BaselineId=mine)["BaselineId"] == mine
    assert ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"] == mine
    defaults = ssm.describe_patch_baselines(Filters=[{"Key": "OPERATING_SYSTEM", "Values": ["AMAZON_LINUX_2023"]}])
    assert {b["BaselineId"] for b in defaults["BaselineIdentities"] if b["DefaultBaseline"]} == {mine}
    [node] = launch(sb, region=region)
    patch(ssm, [node], "Scan")
    assert state(ssm, node)["BaselineId"] == mine
    assert kbs(ssm, node, "Missing") == ["curl.x86_64"]
    ssm.register_default_patch_baseline(BaselineId=predefined)
    assert ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"] == predefined


# -- rejected patches -----------------------------------------------------------------------------------------
def test_a_rejected_patch_with_block_is_never_installed_and_an_installed_one_is_installed_rejected(
    sb: Sandbox,
) -> None:
    """RejectedPatches override approval rules. With RejectedPatchesAction BLOCK a rejected package is never
    installed and, if already installed, reported INSTALLED_REJECTED (non-compliant); with ALLOW_AS_DEPENDENCY
    (the default) an installed rejected package is INSTALLED_OTHER. Rejected lists take full package names with
    one wildcard.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreatePatchBaseline.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-approved-rejected-package-name-formats.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html
    """
    ssm = sb.client("ssm")
    rules = {"PatchRules": [security_rule(0, ["Critical", "Important"])]}
    rejected = ["kernel-*", "curl-*"]
    block = custom_baseline(ssm, ApprovalRules=rules, RejectedPatches=rejected, RejectedPatchesAction="BLOCK")
    allow = custom_baseline(ssm, ApprovalRules=rules, RejectedPatches=rejected)
    assert ssm.get_patch_baseline(BaselineId=allow)["RejectedPatchesAction"] == "ALLOW_AS_DEPENDENCY"
    blocked_group, allowed_group = unique("block"), unique("allow")
    ssm.register_patch_baseline_for_patch_group(BaselineId=block, PatchGroup=blocked_group)
    ssm.register_patch_baseline_for_patch_group(BaselineId=allow, PatchGroup=allowed_group)
    [blocked] = launch(sb, tags={"Patch Group": blocked_group})
    [allowed] = launch(sb, tags={"Patch Group": allowed_group})
    patch(ssm, [blocked, allowed], "Install", RebootOption="RebootIfNeeded")
    assert kbs(ssm, blocked, "InstalledRejected") == ["kernel.x86_64"]
    assert state(ssm, blocked)["InstalledRejectedCount"] == 1
    assert kbs(ssm, allowed, "InstalledOther") == ["kernel.x86_64"]
    assert state(ssm, allowed)["InstalledRejectedCount"] == 0
    for node in (blocked, allowed):
        reported = ssm.describe_instance_patches(InstanceId=node)["Patches"]
        assert "curl.x86_64" not in [p["KBId"] for p in reported]  # rejected: not installed, not reported missing
        assert kbs(ssm, node, "Installed") == ["glibc.x86_64", "openssh-server.x86_64", "openssl.x86_64", "sudo.x86_64"]
    statuses = {
        s["ResourceId"]: s["Status"]
        for s in ssm.list_resource_compliance_summaries(Filters=[{"Key": "ComplianceType", "Values": ["Patch"]}])[
            "ResourceComplianceSummaryItems"
        ]
    }
    assert (statuses[blocked], statuses[allowed]) == ("NON_COMPLIANT", "COMPLIANT")


# -- Install --------------------------------------------------------------------------------------------------
def test_install_then_scan_makes_the_node_compliant_and_reboots_it_when_something_was_installed(sb: Sandbox) -> None:
    """Install installs the approved, missing patches; with RebootOption RebootIfNeeded (the default) the node is
    rebooted when patches were installed. A later Scan reports it compliant.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    [node] = launch(sb, region=region)
    [install] = patch(ssm, [node], "Install")
    output = plugin(install, "PatchLinux")["Output"]
    assert install["Status"] == "Success" and "Rebooted the instance" in output
    st = state(ssm, node)
    assert (st["Operation"], st["RebootOption"]) == ("Install", "RebootIfNeeded")
    assert (st["InstalledCount"], st["MissingCount"], st["InstalledPendingRebootCount"]) == (6, 0, 0)
    patch(ssm, [node], "Scan")
    assert state(ssm, node)["Operation"] == "Scan"
    summary = ssm.list_resource_compliance_summaries(
        Filters=[{"Key": "ComplianceType", "Values": ["Patch"]}, {"Key": "ResourceId", "Values": [node]}]
    )["ResourceComplianceSummaryItems"][0]
    assert summary["Status"] == "COMPLIANT" and summary["CompliantSummary"]["CompliantCount"] == 6
    [again] = patch(ssm, [node], "Install")
    assert "Rebooted" not in plugin(again, "PatchLinux")["Output"]  # nothing installed, nothing pending


def test_no_reboot_leaves_patches_installed_pending_reboot_and_non_compliant_until_a_reboot_and_scan(
    sb: Sandbox,
) -> None:
    """RebootOption NoReboot: installed patches are INSTALLED_PENDING_REBOOT and the node Non-Compliant; after a
    reboot and a Scan it is Compliant. RebootIfNeeded reboots a node with patches pending a reboot.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html
    """
    region = next(_regions)
    ssm, ec2 = sb.client("ssm", region=region), sb.client("ec2", region=region)
    first, second = launch(sb, count=2, region=region)
    patch(ssm, [first, second], "Install", RebootOption="NoReboot")
    st = state(ssm, first)
    assert (st["InstalledPendingRebootCount"], st["InstalledCount"], st["RebootOption"]) == (4, 2, "NoReboot")
    assert isinstance(st["LastNoRebootInstallOperationTime"], datetime)
    assert kbs(ssm, first, "InstalledPendingReboot") == DEFAULT_MISSING
    items = ssm.list_compliance_items(ResourceIds=[first], Filters=[{"Key": "Status", "Values": ["NON_COMPLIANT"]}])
    assert sorted(i["Id"] for i in items["ComplianceItems"]) == DEFAULT_MISSING

    patch(ssm, [first], "Scan")  # no reboot yet: still pending
    assert state(ssm, first)["InstalledPendingRebootCount"] == 4
    ec2.reboot_instances(InstanceIds=[first])
    patch(ssm, [first], "Scan")
    assert (state(ssm, first)["InstalledPendingRebootCount"], state(ssm, first)["InstalledCount"]) == (0, 6)

    [install] = patch(ssm, [second], "Install", RebootOption="RebootIfNeeded")
    assert "patches were pending a reboot" in plugin(install, "PatchLinux")["Output"]
    assert (state(ssm, second)["InstalledPendingRebootCount"], state(ssm, second)["InstalledCount"]) == (0, 6)


# -- failures -------------------------------------------------------------------------------------------------
def test_a_node_whose_repository_is_unreachable_fails_scan_and_install_with_exit_code_1(sb: Sandbox) -> None:
    """A patching operation that cannot read the package repositories fails (the package manager's error is in
    the output) and reports no patch state. Simulated trigger: /etc/yum.repos.d/broken.repo on the node.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-troubleshooting.html
    """
    ssm = sb.client("ssm")
    user_data = "#!/bin/bash\necho '[broken]' > /etc/yum.repos.d/broken.repo\n"
    [node] = launch(sb, UserData=user_data)
    for operation in ("Scan", "Install"):
        [invocation] = patch(ssm, [node], operation)
        linux = plugin(invocation, "PatchLinux")
        assert (invocation["Status"], linux["ResponseCode"]) == ("Failed", 1)
        assert "Failed to download metadata for repo 'broken'" in linux["Output"]
    assert ssm.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"] == []


def test_a_patch_that_fails_to_install_is_failed_and_non_compliant(sb: Sandbox) -> None:
    """FAILED: the patch is approved but couldn't be installed (non-compliant); the Install command fails. A Scan
    reports patches that were "located during the scan but haven't been installed" MISSING. Simulated trigger: the
    package is listed in dnf's versionlock list.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    [node] = launch(sb, region=region)
    lock = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        InstanceIds=[node],
        Parameters={"commands": ["echo 'curl-*' > /etc/dnf/plugins/versionlock.list"]},
    )["Command"]
    wait(ssm, lock["CommandId"])
    [install] = patch(ssm, [node], "Install")
    assert install["Status"] == "Failed"
    assert kbs(ssm, node, "Failed") == ["curl.x86_64"]
    st = state(ssm, node)
    assert (st["FailedCount"], st["InstalledCount"], st["MissingCount"]) == (1, 5, 0)
    failed = ssm.list_compliance_items(ResourceIds=[node], Filters=[{"Key": "Status", "Values": ["NON_COMPLIANT"]}])
    assert [i["Id"] for i in failed["ComplianceItems"]] == ["curl.x86_64"]
    patch(ssm, [node], "Scan")  # a scan sees the patch missing
    assert kbs(ssm, node, "Missing") == ["curl.x86_64"] and kbs(ssm, node, "Failed") == []


# -- Windows --------------------------------------------------------------------------------------------------
def test_windows_nodes_run_patch_windows_and_report_not_applicable_patches(sb: Sandbox) -> None:
    """On Windows Server, AWS-RunPatchBaseline runs PatchWindows (PatchLinux is skipped). NOT_APPLICABLE: approved
    patches for a feature that isn't installed (an IIS update without IIS); reported on Windows only.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/about-patch-compliance-states.html
    """
    ssm, ec2 = sb.client("ssm"), sb.client("ec2")
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["Windows_Server-2016-English-Full-Base-*"]}]
    )
    [node] = launch(sb, ImageId=images["Images"][0]["ImageId"])
    [invocation] = patch(ssm, [node], "Scan")
    assert plugin(invocation, "PatchLinux")["Output"].startswith("Step execution skipped")
    assert invocation["Status"] == "Success"
    st = state(ssm, node)
    assert st["BaselineId"] == ssm.get_default_patch_baseline()["BaselineId"]
    assert kbs(ssm, node, "NotApplicable") == ["KB5069120"]
    assert kbs(ssm, node, "Missing") == ["KB5068787", "KB5068861", "KB5069344"]


def test_effective_patches_are_described_for_windows_baselines_only(sb: Sandbox) -> None:
    """DescribeEffectivePatchesForPatchBaseline "applies to patch baselines for Windows only"; each patch has a
    DeploymentStatus (APPROVED, PENDING_APPROVAL, EXPLICIT_APPROVED, EXPLICIT_REJECTED).

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeEffectivePatchesForPatchBaseline.html
    """
    ssm = sb.client("ssm")
    linux = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    code, _ = api_error(ssm.describe_effective_patches_for_patch_baseline, BaselineId=linux)
    assert code == "UnsupportedOperatingSystem"
    mine = ssm.create_patch_baseline(
        Name=unique("windows"),
        ApprovalRules={
            "PatchRules": [
                {
                    "PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["SecurityUpdates"]}]},
                    "ApproveAfterDays": 15,
                }
            ]
        },
        ApprovedPatches=["KB890830"],
        RejectedPatches=["KB5068787"],
    )["BaselineId"]
    assert ssm.get_patch_baseline(BaselineId=mine)["OperatingSystem"] == "WINDOWS"  # the default OS
    effective = ssm.describe_effective_patches_for_patch_baseline(BaselineId=mine)["EffectivePatches"]
    status = {e["Patch"]["KbNumber"]: e["PatchStatus"]["DeploymentStatus"] for e in effective}
    assert status["KB5066780"] == "APPROVED"  # 70 days old
    assert status["KB5068861"] == "PENDING_APPROVAL"  # 14 days old, approved after 15
    assert status["KB890830"] == "EXPLICIT_APPROVED"
    assert status["KB5068787"] == "EXPLICIT_REJECTED"


# -- time (last: it moves the sandbox clock a week on) ---------------------------------------------------------
def test_a_patch_approved_later_is_missing_once_its_approval_delay_has_passed(sb: Sandbox) -> None:
    """ApproveAfterDays 7: a patch released 2 days ago is approved 5 days later; the next Scan reports it missing.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    """
    region = next(_regions)
    ssm = sb.client("ssm", region=region)
    [node] = launch(sb, region=region)
    patch(ssm, [node], "Scan")
    assert "openssh-server.x86_64" not in kbs(ssm, node, "Missing")
    schedule.fast_forward(7 * 86400)
    patch(ssm, [node], "Scan")
    assert "openssh-server.x86_64" in kbs(ssm, node, "Missing")
    assert "tzdata.x86_64" in kbs(ssm, node, "Missing")  # Bugfix, 3 days old a week ago
