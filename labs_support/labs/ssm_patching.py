"""Checks of the module 'Patching at scale' (ssm-patching).

They read the sandbox through the real Systems Manager and EC2 APIs only: patch baselines and patch groups, the
maintenance windows with their targets, tasks and executions, the nodes' patch states
(DescribeInstancePatchStates) and their Patch compliance. The exercise check says precisely which requirement is not
met yet, and for each production node that is not compliant, why (no patch report, failed or missing patches, a
pending reboot, the wrong baseline).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..checks import CheckFailed, lab_check
from ..patching_views import all_pages, task_target_specs
from ..sandbox import Sandbox

OS = "AMAZON_LINUX_2023"
LAB_GROUPS = ("web", "db")
LAB_FLEET_SIZE = 20
WEB_BASELINE = "web-baseline"
LAB_WINDOW = "nightly-patching"
PROD_GROUP = "prod"
PROD_BASELINE = "prod-al2023"
PROD_WINDOW = "prod-patching"
PROD_FLEET_SIZE = 10
DOCUMENT = "AWS-RunPatchBaseline"
# The approval rules each custom baseline must have: (classifications, severities or None for "any") ->
# (ApproveAfterDays, ComplianceLevel)
WEB_RULES = {
    (("Security",), ("Critical",)): (0, "CRITICAL"),
    (("Security",), ("Important",)): (7, "HIGH"),
    (("Bugfix",), None): (7, "MEDIUM"),
}
PROD_RULES = {
    (("Security",), ("Critical", "Important")): (3, "CRITICAL"),
    (("Bugfix",), None): (7, "MEDIUM"),
}
NON_COMPLIANT_COUNTS = {
    "MissingCount": "missing",
    "FailedCount": "failed",
    "InstalledPendingRebootCount": "installed, pending a reboot",
    "InstalledRejectedCount": "installed but rejected",
}


# -- reading ------------------------------------------------------------------------------------------------------


def _tagged(ec2: Any, key: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """Running (or starting) instances with one of these tag values, by id, in launch order."""
    filters = [
        {"Name": f"tag:{key}", "Values": values},
        {"Name": "instance-state-name", "Values": ["pending", "running"]},
    ]
    return {
        i["InstanceId"]: i
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for r in page["Reservations"]
        for i in r["Instances"]
    }


def _name(instance: dict[str, Any]) -> str:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return f"{tags['Name']} ({instance['InstanceId']})" if "Name" in tags else instance["InstanceId"]


def _baselines_named(ssm: Any, name: str) -> list[dict[str, Any]]:
    found = all_pages(
        ssm,
        "describe_patch_baselines",
        "BaselineIdentities",
        Filters=[{"Key": "OWNER", "Values": ["Self"]}, {"Key": "NAME_PREFIX", "Values": [name]}],
    )
    return [b for b in found if b["BaselineName"] == name]


def _registered(ssm: Any, group: str) -> str | None:
    """The baseline id registered for the patch group for Amazon Linux 2023, if any."""
    for mapping in all_pages(ssm, "describe_patch_groups", "Mappings"):
        identity = mapping["BaselineIdentity"]
        if mapping["PatchGroup"] == group and identity["OperatingSystem"] == OS:
            return identity["BaselineId"]
    return None


def _window(ssm: Any, name: str, hint: str) -> dict[str, Any]:
    found = all_pages(
        ssm, "describe_maintenance_windows", "WindowIdentities", Filters=[{"Key": "Name", "Values": [name]}]
    )
    if not found:
        raise CheckFailed(f"There is no maintenance window called {name}.", hint=hint)
    if len(found) > 1:
        raise CheckFailed(
            f"There are {len(found)} maintenance windows called {name}.",
            hint="Keep one: delete the others with delete_maintenance_window(WindowId=...).",
        )
    return ssm.get_maintenance_window(WindowId=found[0]["WindowId"])


def _patch_tasks(ssm: Any, window_id: str) -> list[dict[str, Any]]:
    """The window's Run Command tasks that run AWS-RunPatchBaseline, in full (GetMaintenanceWindowTask)."""
    return [
        ssm.get_maintenance_window_task(WindowId=window_id, WindowTaskId=t["WindowTaskId"])
        for t in all_pages(ssm, "describe_maintenance_window_tasks", "Tasks", WindowId=window_id)
        if t["TaskArn"].split("/")[-1] == DOCUMENT
    ]


def _task_parameters(task: dict[str, Any]) -> dict[str, list[str]]:
    run = (task.get("TaskInvocationParameters") or {}).get("RunCommand") or {}
    legacy = {k: v.get("Values", []) for k, v in (task.get("TaskParameters") or {}).items()}
    return {**legacy, **(run.get("Parameters") or {})}


def _states(ssm: Any, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    states = {}
    for start in range(0, len(instance_ids), 50):
        for state in all_pages(
            ssm, "describe_instance_patch_states", "InstancePatchStates", InstanceIds=instance_ids[start : start + 50]
        ):
            states[state["InstanceId"]] = state
    return states


def _compliance(ssm: Any) -> dict[str, str]:
    return {
        s["ResourceId"]: s["Status"]
        for s in all_pages(
            ssm,
            "list_resource_compliance_summaries",
            "ResourceComplianceSummaryItems",
            Filters=[{"Key": "ComplianceType", "Values": ["Patch"], "Type": "EQUAL"}],
        )
    }


def _rules(baseline: dict[str, Any]) -> dict[tuple[tuple[str, ...], tuple[str, ...] | None], dict[str, Any]]:
    """A baseline's approval rules by (classifications, severities); severities None when the rule takes any."""
    rules = {}
    for rule in baseline["ApprovalRules"]["PatchRules"]:
        filters = {f["Key"]: tuple(sorted(f["Values"])) for f in rule["PatchFilterGroup"]["PatchFilters"]}
        severities = filters.get("SEVERITY")
        if severities == ("*",):
            severities = None
        rules[(filters.get("CLASSIFICATION", ("*",)), severities)] = rule
    return rules


def _describe_rule(key: tuple[tuple[str, ...], tuple[str, ...] | None]) -> str:
    classifications, severities = key
    what = "/".join(classifications)
    return f"{what} patches of severity {' and '.join(severities)}" if severities else f"{what} patches"


def _compare_rules(
    name: str,
    baseline: dict[str, Any],
    wanted: dict[tuple[tuple[str, ...], tuple[str, ...] | None], tuple[int, str]],
    hint: str,
) -> None:
    """CheckFailed naming the first difference between the baseline's approval rules and the wanted ones."""
    have = _rules(baseline)
    normalized = {(c, tuple(sorted(s)) if s else None): v for (c, s), v in wanted.items()}
    for key, (days, level) in normalized.items():
        rule = have.get(key)
        if rule is None:
            raise CheckFailed(
                f"{name} has no approval rule for {_describe_rule(key)}: one rule, with exactly these classification "
                "and severity values.",
                hint=hint,
            )
        if rule.get("ApproveUntilDate") or rule.get("ApproveAfterDays") != days:
            got = (
                f"until {rule['ApproveUntilDate']}"
                if rule.get("ApproveUntilDate")
                else f"after {rule.get('ApproveAfterDays')} day(s)"
            )
            raise CheckFailed(
                f"The rule of {name} for {_describe_rule(key)} approves them {got}; "
                f"the policy says after {days} day(s).",
                hint="update_patch_baseline(BaselineId=..., ApprovalRules=...) replaces the rules.",
            )
        if rule.get("ComplianceLevel", "UNSPECIFIED") != level:
            raise CheckFailed(
                f"The rule of {name} for {_describe_rule(key)} reports them with compliance level "
                f"{rule.get('ComplianceLevel', 'UNSPECIFIED')}; the policy says {level}.",
                hint="Set ComplianceLevel in that rule (update_patch_baseline replaces the rules).",
            )
    extra = [k for k in have if k not in normalized]
    if extra:
        raise CheckFailed(
            f"{name} has a rule the policy does not ask for: it approves {_describe_rule(extra[0])}.",
            hint=f"Give {name} exactly the rules of the policy: {len(normalized)} of them.",
        )
    for rule in baseline["ApprovalRules"]["PatchRules"]:
        if rule.get("EnableNonSecurity"):
            raise CheckFailed(
                f"A rule of {name} sets EnableNonSecurity: it would approve updates that have no advisory too.",
                hint="Leave EnableNonSecurity out (false): the policy approves security and bugfix updates only.",
            )


def _node_problems(
    ssm: Any, nodes: dict[str, dict[str, Any]], baseline_id: str | None
) -> tuple[list[str], dict[str, list[str]]]:
    """For each node that is not patch-compliant: a line saying why, and the kinds of problem (for the hint)."""
    states = _states(ssm, list(nodes))
    status = _compliance(ssm)
    lines: list[str] = []
    kinds: dict[str, list[str]] = {}
    for instance_id, instance in nodes.items():
        state = states.get(instance_id)
        if state is None:
            lines.append(f"{_name(instance)}: no patch report yet")
            kinds.setdefault("report", []).append(_name(instance))
            continue
        if baseline_id is not None and state["BaselineId"] != baseline_id:
            lines.append(f"{_name(instance)}: its last report used the baseline {state['BaselineId']}")
            kinds.setdefault("baseline", []).append(_name(instance))
            continue
        bad = [f"{state[key]} {label}" for key, label in NON_COMPLIANT_COUNTS.items() if state.get(key)]
        if bad:
            failed = ""
            if state.get("FailedCount"):
                patches = ssm.describe_instance_patches(
                    InstanceId=instance_id, Filters=[{"Key": "State", "Values": ["Failed"]}]
                )["Patches"]
                failed = f" ({', '.join(p['KBId'] for p in patches)})"
            lines.append(f"{_name(instance)}: {', '.join(bad)}{failed} after its last {state['Operation']}")
            for key in NON_COMPLIANT_COUNTS:
                if state.get(key):
                    kinds.setdefault(key, []).append(_name(instance))
            continue
        if status.get(instance_id) != "COMPLIANT":
            lines.append(f"{_name(instance)}: Patch compliance {status.get(instance_id, 'not reported')}")
            kinds.setdefault("report", []).append(_name(instance))
    return lines, kinds


# -- the lab --------------------------------------------------------------------------------------------------
@lab_check("ssm-patching.baselines", title="The web tier has its own patch baseline; the db tier uses the default")
def check_baselines(sb: Sandbox) -> str:
    ssm = sb.client("ssm")
    found = _baselines_named(ssm, WEB_BASELINE)
    if len(found) != 1:
        raise CheckFailed(
            f"There are {len(found)} custom patch baselines called {WEB_BASELINE}; the lab has one.",
            hint="Run the lab from the sandbox cell down: part 2 creates it once.",
        )
    baseline = ssm.get_patch_baseline(BaselineId=found[0]["BaselineId"])
    if baseline["OperatingSystem"] != OS:
        raise CheckFailed(
            f"{WEB_BASELINE} is a baseline for {baseline['OperatingSystem']}; the fleet runs Amazon Linux 2023.",
            hint=f"Create it with OperatingSystem='{OS}' (the default is WINDOWS).",
        )
    _compare_rules(WEB_BASELINE, baseline, WEB_RULES, hint="Create it with the three rules of part 2 (WEB_RULES).")
    if _registered(ssm, "web") != baseline["BaselineId"]:
        raise CheckFailed(
            f"{WEB_BASELINE} is not registered for the patch group web.",
            hint="register_patch_baseline_for_patch_group(BaselineId=web_baseline, PatchGroup='web').",
        )
    if _registered(ssm, "db") is not None:
        raise CheckFailed(
            "The patch group db has a baseline registered; in the lab it uses the default baseline.",
            hint="deregister_patch_baseline_for_patch_group for db, as the lab does not register one.",
        )
    default = ssm.get_default_patch_baseline(OperatingSystem=OS)["BaselineId"]
    name = ssm.get_patch_baseline(BaselineId=default)["Name"]
    return (
        f"{WEB_BASELINE} (Critical security patches at once, Important ones and bug fixes after 7 days, with "
        f"compliance levels) serves the patch group web; db falls back to the default baseline, {name}."
    )


@lab_check("ssm-patching.window", title="A maintenance window patches both tiers, 10% at a time, and has run")
def check_window(sb: Sandbox) -> str:
    ssm = sb.client("ssm")
    window = _window(ssm, LAB_WINDOW, hint="Create it in part 4.")
    tasks = _patch_tasks(ssm, window["WindowId"])
    if len(tasks) != 1:
        raise CheckFailed(
            f"{LAB_WINDOW} has {len(tasks)} tasks running {DOCUMENT}; the lab registers one.",
            hint="Run the lab from the sandbox cell down.",
        )
    [task] = tasks
    params = _task_parameters(task)
    wanted = {"Operation": ["Install"], "MaxConcurrency": "10%", "MaxErrors": "1"}
    have = {
        "Operation": params.get("Operation"),
        "MaxConcurrency": task["MaxConcurrency"],
        "MaxErrors": task["MaxErrors"],
    }
    if have != wanted:
        raise CheckFailed(f"The patching task has {have}; the lab's has {wanted}.", hint="Register it as part 4 does.")
    targets = task_target_specs(ssm, window["WindowId"], task)
    if targets != [{"Key": "tag:Patch Group", "Values": list(LAB_GROUPS)}]:
        raise CheckFailed(
            f"The patching task targets {targets}.",
            hint="Register the window target as part 4 does: the tag Patch Group with the values web and db.",
        )
    executions = all_pages(
        ssm, "describe_maintenance_window_executions", "WindowExecutions", WindowId=window["WindowId"]
    )
    if not executions:
        raise CheckFailed(
            f"{LAB_WINDOW} has not run yet.",
            hint="Let a day of lab time pass with ls.fast_forward(days=1): the window runs at 03:00 UTC.",
        )
    return (
        f"{LAB_WINDOW} runs {DOCUMENT} (Install) on the web and db tiers every night, MaxConcurrency 10% and "
        f"MaxErrors 1; it has run {len(executions)} time(s)."
    )


@lab_check("ssm-patching.compliant", title="All 20 lab servers are patch compliant")
def check_compliant(sb: Sandbox) -> str:
    ssm, ec2 = sb.client("ssm"), sb.client("ec2")
    fleet = _tagged(ec2, "Patch Group", list(LAB_GROUPS))
    if len(fleet) != LAB_FLEET_SIZE:
        raise CheckFailed(
            f"There are {len(fleet)} running instances in the patch groups web and db; the lab has {LAB_FLEET_SIZE}.",
            hint="Run the lab from the sandbox cell down (part 1 launches the fleet).",
        )
    lines, _ = _node_problems(ssm, fleet, None)
    if lines:
        raise CheckFailed(
            f"{len(lines)} of {LAB_FLEET_SIZE} servers are not patch compliant yet:\n" + "\n".join(lines),
            hint="Part 5 fixes the two legacy servers, patches and reboots the db tier, and lets the window run again.",
        )
    window = _window(ssm, LAB_WINDOW, hint="Create it in part 4.")
    latest = max(
        all_pages(ssm, "describe_maintenance_window_executions", "WindowExecutions", WindowId=window["WindowId"]),
        key=lambda e: e["StartTime"],
        default=None,
    )
    if latest is None or latest["Status"] != "SUCCESS":
        raise CheckFailed(
            f"The latest run of {LAB_WINDOW} is {latest['Status'] if latest else 'missing'}.",
            hint="Let the window run again once the fleet is fixed: ls.fast_forward(days=1).",
        )
    return f"All {LAB_FLEET_SIZE} servers report COMPLIANT Patch compliance, and the latest nightly run succeeded."


# -- the exercise ---------------------------------------------------------------------------------------------------
def _not_sundays_at_two(runs: list[dict[str, Any]]) -> list[str]:
    """The scheduled runs (DescribeMaintenanceWindowSchedule) that are not Sundays at 02:00 UTC."""
    wrong = []
    for run in runs:
        moment = datetime.fromisoformat(run["ExecutionTime"].replace("Z", "+00:00")).astimezone(UTC)
        if (moment.weekday(), moment.hour, moment.minute) != (6, 2, 0):
            wrong.append(f"{moment:%A %H:%M} UTC")
    return wrong


@lab_check(
    "ssm-patching.production",
    title="Exercise: production is patched by its own baseline and window, and every prod server is compliant",
    exercise=True,
)
def check_production(sb: Sandbox) -> str:
    ssm, ec2 = sb.client("ssm"), sb.client("ec2")
    prod = _tagged(ec2, "Patch Group", [PROD_GROUP])
    if len(prod) != PROD_FLEET_SIZE:
        raise CheckFailed(
            f"There are {len(prod)} running instances in the patch group prod; the exercise has {PROD_FLEET_SIZE}.",
            hint="Run the exercise's setup cell again: it starts the exercise over.",
        )
    # 1. the baseline
    found = _baselines_named(ssm, PROD_BASELINE)
    if not found:
        raise CheckFailed(
            f"There is no patch baseline called {PROD_BASELINE} yet.",
            hint=f"ssm.create_patch_baseline(Name='{PROD_BASELINE}', OperatingSystem='{OS}', ApprovalRules=...) with "
            "the two rules of the policy (see part 2 for the shape of a rule).",
        )
    if len(found) > 1:
        raise CheckFailed(
            f"There are {len(found)} patch baselines called {PROD_BASELINE}.",
            hint="Keep one: deregister and delete the others (delete_patch_baseline).",
        )
    baseline = ssm.get_patch_baseline(BaselineId=found[0]["BaselineId"])
    if baseline["OperatingSystem"] != OS:
        raise CheckFailed(
            f"{PROD_BASELINE} is a baseline for {baseline['OperatingSystem']}; the prod servers run Amazon Linux 2023.",
            hint=f"A baseline's operating system can't change: delete it and create it with OperatingSystem='{OS}'.",
        )
    _compare_rules(
        PROD_BASELINE,
        baseline,
        PROD_RULES,
        hint="Two rules: CLASSIFICATION Security with SEVERITY Critical and Important, approved after 3 days, "
        "ComplianceLevel CRITICAL; CLASSIFICATION Bugfix, approved after 7 days, ComplianceLevel MEDIUM.",
    )
    registered = _registered(ssm, PROD_GROUP)
    if registered != baseline["BaselineId"]:
        raise CheckFailed(
            f"{PROD_BASELINE} is not the baseline of the patch group prod"
            + (
                f" ({registered} is)."
                if registered
                else ": no baseline is registered for it, so prod uses the default."
            ),
            hint=f"ssm.register_patch_baseline_for_patch_group(BaselineId=..., PatchGroup='{PROD_GROUP}')"
            + (" after deregistering the other one." if registered else "."),
        )
    # 2. the window
    window = _window(
        ssm,
        PROD_WINDOW,
        hint=f"ssm.create_maintenance_window(Name='{PROD_WINDOW}', Schedule=..., Duration=4, Cutoff=1, "
        "AllowUnassociatedTargets=False).",
    )
    if not window["Enabled"]:
        raise CheckFailed(f"{PROD_WINDOW} is disabled.", hint="update_maintenance_window(WindowId=..., Enabled=True).")
    runs = ssm.describe_maintenance_window_schedule(WindowId=window["WindowId"])["ScheduledWindowExecutions"][:4]
    if not runs:
        raise CheckFailed(
            f"{PROD_WINDOW} ({window['Schedule']}) has no run scheduled.",
            hint="Give it the schedule cron(0 2 ? * SUN *) and no StartDate or EndDate that excludes the coming weeks.",
        )
    wrong_times = _not_sundays_at_two(runs)
    if wrong_times:
        raise CheckFailed(
            f"{PROD_WINDOW} runs {window['Schedule']} ({window.get('ScheduleTimezone', 'UTC')}): its next runs "
            f"include {wrong_times[0]}, not only Sundays at 02:00 UTC.",
            hint="Schedule='cron(0 2 ? * SUN *)' (cron fields: minutes hours day-of-month month day-of-week year).",
        )
    if (window["Duration"], window["Cutoff"]) != (4, 1):
        raise CheckFailed(
            f"{PROD_WINDOW} lasts {window['Duration']} h with a cutoff of {window['Cutoff']} h; the change board "
            "approved 4 hours, with no new task after the third.",
            hint="update_maintenance_window(WindowId=..., Duration=4, Cutoff=1).",
        )
    tasks = _patch_tasks(ssm, window["WindowId"])
    if len(tasks) != 1:
        raise CheckFailed(
            f"{PROD_WINDOW} has {len(tasks)} tasks running {DOCUMENT}; production needs exactly one.",
            hint=f"register_task_with_maintenance_window(TaskType='RUN_COMMAND', TaskArn='{DOCUMENT}', ...)"
            if not tasks
            else "Deregister the extra ones (deregister_task_from_maintenance_window).",
        )
    [task] = tasks
    targets = task_target_specs(ssm, window["WindowId"], task)
    if targets != [{"Key": "tag:Patch Group", "Values": [PROD_GROUP]}]:
        raise CheckFailed(
            f"The patching task of {PROD_WINDOW} targets {targets or 'nothing'}.",
            hint="Register a window target with Targets=[{'Key': 'tag:Patch Group', 'Values': ['prod']}] and give "
            "the task Targets=[{'Key': 'WindowTargetIds', 'Values': [target_id]}].",
        )
    params = _task_parameters(task)
    if params.get("Operation") != ["Install"]:
        raise CheckFailed(
            f"The task runs {DOCUMENT} with Operation {params.get('Operation')}: that does not install anything."
            if params.get("Operation")
            else f"The task gives {DOCUMENT} no Operation.",
            hint="TaskInvocationParameters={'RunCommand': {'Parameters': {'Operation': ['Install'], "
            "'RebootOption': ['RebootIfNeeded']}}}.",
        )
    if params.get("RebootOption", ["RebootIfNeeded"]) != ["RebootIfNeeded"]:
        raise CheckFailed(
            f"The task uses RebootOption {params['RebootOption']}: patches would wait for a reboot nobody plans.",
            hint="Production reboots in its window: RebootOption RebootIfNeeded (the default).",
        )
    if (task["MaxConcurrency"], task["MaxErrors"]) != ("10%", "1"):
        raise CheckFailed(
            f"The task patches with MaxConcurrency {task['MaxConcurrency']} and MaxErrors {task['MaxErrors']}; "
            "the policy says 10% of the servers at a time, and stop at the second failure.",
            hint="update_maintenance_window_task(WindowId=..., WindowTaskId=..., MaxConcurrency='10%', MaxErrors='1').",
        )
    if task.get("CutoffBehavior") != "CANCEL_TASK":
        raise CheckFailed(
            f"The task's CutoffBehavior is {task.get('CutoffBehavior', 'CONTINUE_TASK')}: it would keep patching "
            "after the cutoff.",
            hint="CutoffBehavior='CANCEL_TASK' (update_maintenance_window_task).",
        )
    # 3. it ran
    executions = all_pages(
        ssm, "describe_maintenance_window_executions", "WindowExecutions", WindowId=window["WindowId"]
    )
    if not executions:
        raise CheckFailed(
            f"{PROD_WINDOW} is set up as the policy says, but it has not run yet (next run: "
            f"{window.get('NextExecutionTime', 'none')}).",
            hint="Let lab time pass until Sunday 02:00 UTC: ls.fast_forward(days=7) is sure to get there.",
        )
    # 4. every prod server compliant, patched with the prod baseline
    lines, kinds = _node_problems(ssm, prod, baseline["BaselineId"])
    if lines:
        hints = []
        if "report" in kinds:
            hints.append(
                "a server without a report was never reached (the window stopped) or cannot reach its repositories: "
                "read the output of its failed invocation (get_command_invocation) and look in /etc/yum.repos.d/"
            )
        if "FailedCount" in kinds:
            hints.append(
                "a FAILED patch could not be installed: the invocation's output says why (dnf's version locks are "
                "listed in /etc/dnf/plugins/versionlock.list)"
            )
        if "MissingCount" in kinds or "baseline" in kinds:
            hints.append("servers with missing patches or an old report need another Install run")
        if "InstalledPendingRebootCount" in kinds:
            hints.append("patches pending a reboot count once the server is rebooted and scanned again")
        raise CheckFailed(
            f"{len(lines)} of {PROD_FLEET_SIZE} prod servers are not compliant with {PROD_BASELINE} yet:\n"
            + "\n".join(lines),
            hint="; ".join(hints)
            + ". Fix the servers with Run Command, then patch them again: at the window's next run, or now with "
            f"send_command({DOCUMENT}, Install) under the same rate controls.",
        )
    return (
        f"{PROD_BASELINE} (Critical and Important security patches after 3 days, bug fixes after 7) serves the patch "
        f"group prod; {PROD_WINDOW} installs on Sundays at 02:00 UTC, 10% at a time, stopping at the second error and "
        f"cancelling at the cutoff; it has run {len(executions)} time(s), and all {PROD_FLEET_SIZE} prod servers are "
        "COMPLIANT."
    )
