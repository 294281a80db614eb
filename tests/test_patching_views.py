"""The patching pictures: a maintenance window run as a timeline, and patch compliance as a table.

Both are built from real API answers, so each test makes a small window run (or patch reports) in the sandbox and
asserts what the picture and its text form show: one bar per invocation in its status's colour, the targets that
never started, the cutoff, and a row per node with its counts and its compliance status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import labs_support as ls
from labs_support.errors import LabError
from labs_support.patching_views import NOT_STARTED, STATUS_COLOURS, maintenance_window_timeline, patch_compliance
from labs_support.sandbox import Sandbox

BROKEN = "#!/bin/bash\necho '[retired-mirror]' > /etc/yum.repos.d/broken.repo\n"
HOUR = 3600


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = ls.start_sandbox()
    sandbox.lab_clock_speed = 60_000
    yield sandbox
    sandbox.stop()


def launch(sb: Sandbox, count: int, group: str, name: str, user_data: str = "") -> list[str]:
    profile = ls.ssm_instance_profile(sb)
    return ls.launch_fleet(
        sb, count, tags={"Patch Group": group, "Name": name}, instance_profile=profile, user_data=user_data or None
    )


def window_with_task(ssm: Any, group: str, task: dict[str, Any], duration: int = 2, cutoff: int = 1) -> str:
    window_id = ssm.create_maintenance_window(
        Name=f"views-{group}",
        Schedule="rate(1 hour)",
        Duration=duration,
        Cutoff=cutoff,
        AllowUnassociatedTargets=False,
    )["WindowId"]
    target_id = ssm.register_target_with_maintenance_window(
        WindowId=window_id, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": [group]}]
    )["WindowTargetId"]
    ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=[{"Key": "WindowTargetIds", "Values": [target_id]}],
        TaskType="RUN_COMMAND",
        Priority=1,
        **task,
    )
    return window_id


def bars(markup: str) -> list[tuple[str, str]]:
    """(status, fill colour) of each invocation bar, top to bottom."""
    return re.findall(r'<g class="invocation" data-status="([A-Z_]+)">.*?fill="(#[0-9a-f]{6})"', markup)


@pytest.fixture(scope="module")
def patch_run(sb: Sandbox) -> dict[str, Any]:
    """Six nodes of patch group 'fleet': three healthy, one that cannot reach its repositories, two more healthy.
    All are scanned; then a window installs patches one node at a time with MaxErrors 0, so it stops at the broken
    node: three invocations succeed, one fails, two targets never start."""
    ssm = sb.client("ssm")
    first = launch(sb, 3, "fleet", "healthy")
    [broken] = launch(sb, 1, "fleet", "broken", user_data=BROKEN)
    later = launch(sb, 2, "fleet", "later")
    scan = ssm.send_command(
        Targets=[{"Key": "tag:Patch Group", "Values": ["fleet"]}],
        DocumentName="AWS-RunPatchBaseline",
        Parameters={"Operation": ["Scan"]},
        MaxConcurrency="100%",
        MaxErrors="100%",
    )["Command"]
    ls.wait_for_command(ssm, scan["CommandId"])
    window_id = window_with_task(
        ssm,
        "fleet",
        {
            "TaskArn": "AWS-RunPatchBaseline",
            "MaxConcurrency": "1",
            "MaxErrors": "0",
            "TaskInvocationParameters": {"RunCommand": {"Parameters": {"Operation": ["Install"]}}},
        },
    )
    ls.fast_forward(hours=1, minutes=1)
    [execution] = ssm.describe_maintenance_window_executions(WindowId=window_id)["WindowExecutions"]
    ssm.update_maintenance_window(WindowId=window_id, Enabled=False)  # one run is all the tests need
    return {"window": window_id, "execution": execution, "first": first, "broken": broken, "later": later}


def test_the_timeline_has_one_bar_per_invocation_coloured_by_its_status(sb: Sandbox, patch_run: dict[str, Any]) -> None:
    ssm = sb.client("ssm")
    picture = maintenance_window_timeline(ssm, patch_run["execution"]["WindowExecutionId"])
    markup = picture._repr_html_()
    assert bars(markup) == [("SUCCESS", STATUS_COLOURS["SUCCESS"])] * 3 + [("FAILED", STATUS_COLOURS["FAILED"])]
    assert STATUS_COLOURS["SUCCESS"] != STATUS_COLOURS["FAILED"]
    assert 'class="not-started"' not in markup  # without an EC2 client, targets never started are unknown
    for status in ("success", "failed", "timed out", "cancelled", "not started"):  # the legend
        assert f">{status}</text>" in markup


def test_the_timeline_labels_each_bar_with_the_node_its_command_ran_on(sb: Sandbox, patch_run: dict[str, Any]) -> None:
    ssm = sb.client("ssm")
    execution_id = patch_run["execution"]["WindowExecutionId"]
    text = repr(maintenance_window_timeline(ssm, execution_id))
    rows = [line.split() for line in text.splitlines() if line.startswith("    i-")]
    assert [(r[0], r[-1]) for r in rows] == [(i, "SUCCESS") for i in patch_run["first"]] + [
        (patch_run["broken"], "FAILED")
    ]
    # the labels are the nodes of the invocations' Run Command commands
    [task] = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=execution_id)[
        "WindowExecutionTaskIdentities"
    ]
    invocations = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=execution_id, TaskId=task["TaskExecutionId"]
    )["WindowExecutionTaskInvocationIdentities"]
    assert {json.loads(i["Parameters"])["instanceIds"][0] for i in invocations} == {r[0] for r in rows}
    assert "MaxConcurrency 1, MaxErrors 0): FAILED" in text
    assert text.startswith(f"views-fleet: execution {execution_id[:8]}… FAILED")


def test_with_an_ec2_client_targets_that_never_started_appear_with_their_names(
    sb: Sandbox, patch_run: dict[str, Any]
) -> None:
    ssm, ec2 = sb.client("ssm"), sb.client("ec2")
    picture = maintenance_window_timeline(ssm, patch_run["window"], ec2=ec2)  # a window id: its latest run
    markup, text = picture._repr_html_(), repr(picture)
    assert markup.count('class="not-started"') == 2
    assert f'stroke="{NOT_STARTED}" stroke-dasharray' in markup
    never = [line.split()[0] for line in text.splitlines() if line.rstrip().endswith("never started")]
    assert never == patch_run["later"]
    assert f"{patch_run['broken']} broken (fleet)" in text
    assert "invocations: success: 3, failed: 1, not started: 2" in text


def test_a_cutoff_far_beyond_the_run_is_named_not_drawn(sb: Sandbox, patch_run: dict[str, Any]) -> None:
    text = repr(maintenance_window_timeline(sb.client("ssm"), patch_run["window"]))
    markup = maintenance_window_timeline(sb.client("ssm"), patch_run["window"])._repr_html_()
    assert "Duration 2 h, Cutoff 1 h: no task may start after +1:00:00" in text
    assert "cutoff at +1:00:00" in text and 'class="cutoff"' not in markup


def test_a_cutoff_within_the_run_is_drawn_where_it_falls(sb: Sandbox) -> None:
    """Two 40-minute invocations one at a time in a 2-hour window with a 1-hour cutoff (the second starts before
    it): the axis spans 80 minutes and the cutoff line is drawn at 60."""
    ssm = sb.client("ssm")
    launch(sb, 2, "slow", "slow")
    window_id = window_with_task(
        ssm,
        "slow",
        {
            "TaskArn": "AWS-RunShellScript",
            "MaxConcurrency": "1",
            "MaxErrors": "1",
            "TaskInvocationParameters": {
                "RunCommand": {"Parameters": {"commands": ["sleep 2400"], "executionTimeout": ["3000"]}}
            },
        },
    )
    ls.fast_forward(hours=1, minutes=1)
    ssm.update_maintenance_window(WindowId=window_id, Enabled=False)
    picture = maintenance_window_timeline(ssm, window_id)
    markup = picture._repr_html_()
    assert [s for s, _ in bars(markup)] == ["SUCCESS", "SUCCESS"]
    cutoff = re.search(r'<line class="cutoff" x1="([\d.]+)"', markup)
    assert cutoff is not None
    # the plot starts at x=300 and is 520 wide; the run lasts a little over 4800 s (the agent picks up the work)
    assert float(cutoff.group(1)) == pytest.approx(300 + 520 * 3600 / 4800, abs=1.5)
    assert "off the chart" not in repr(picture)


def test_an_invocation_that_exceeds_its_execution_timeout_is_drawn_timed_out(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    launch(sb, 1, "timeout", "too-slow")
    window_id = window_with_task(
        ssm,
        "timeout",
        {
            "TaskArn": "AWS-RunShellScript",
            "MaxConcurrency": "1",
            "MaxErrors": "1",
            "TaskInvocationParameters": {
                "RunCommand": {"Parameters": {"commands": ["sleep 600"], "executionTimeout": ["120"]}}
            },
        },
    )
    ls.fast_forward(hours=1, minutes=1)
    ssm.update_maintenance_window(WindowId=window_id, Enabled=False)
    picture = maintenance_window_timeline(ssm, window_id)
    assert bars(picture._repr_html_()) == [("TIMED_OUT", STATUS_COLOURS["TIMED_OUT"])]
    assert repr(picture).splitlines()[-2].rstrip().endswith("TIMED_OUT")


def test_an_unknown_execution_or_a_window_that_has_not_run_is_a_lab_error(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    with pytest.raises(LabError, match="has an execution 00000000"):
        maintenance_window_timeline(ssm, "00000000-0000-0000-0000-000000000000")
    window_id = ssm.create_maintenance_window(
        Name="views-never", Schedule="cron(0 3 ? * SUN *)", Duration=2, Cutoff=1, AllowUnassociatedTargets=False
    )["WindowId"]
    with pytest.raises(LabError, match="has not run yet") as raised:
        maintenance_window_timeline(ssm, window_id)
    assert "fast_forward" in (raised.value.hint or "")
    ssm.delete_maintenance_window(WindowId=window_id)


def test_patch_compliance_shows_each_nodes_counts_and_status(sb: Sandbox, patch_run: dict[str, Any]) -> None:
    ssm, ec2 = sb.client("ssm"), sb.client("ec2")
    nodes = [*patch_run["first"], patch_run["broken"], *patch_run["later"]]
    table = patch_compliance(ssm, nodes, ec2=ec2)
    text = repr(table).splitlines()
    assert text[0] == "Patch compliance of 6 node(s): 3 COMPLIANT, 2 NON_COMPLIANT, 1 no patch report"
    by_node = {line.split()[0]: line for line in text[1:]}
    for node in patch_run["first"]:  # installed by the window, with the default reboot option
        assert "Install (RebootIfNeeded)" in by_node[node] and by_node[node].endswith(": COMPLIANT")
        assert "missing" not in by_node[node]
    for node in patch_run["later"]:  # only scanned: the Scan found 4 approved patches missing
        assert "Scan" in by_node[node] and "missing 4" in by_node[node] and by_node[node].endswith("NON_COMPLIANT")
    assert by_node[patch_run["broken"]].endswith("no patch report")  # its operations failed before reporting
    markup = table._repr_html_()
    assert markup.count("<tr>") == 7  # a header and one row per node
    assert markup.count('<span style="color:#d0453b;font-weight:bold">4</span>') == 2  # missing counts, in red
    states = ssm.describe_instance_patch_states(InstanceIds=patch_run["first"])["InstancePatchStates"]
    assert {s["MissingCount"] for s in states} == {0}


def test_patch_compliance_defaults_to_every_managed_node(sb: Sandbox, patch_run: dict[str, Any]) -> None:
    ssm = sb.client("ssm")
    managed = [n["InstanceId"] for n in ssm.describe_instance_information()["InstanceInformationList"]]
    title = repr(patch_compliance(ssm)).splitlines()[0]
    assert title.startswith(f"Patch compliance of {len(managed)} node(s):")
