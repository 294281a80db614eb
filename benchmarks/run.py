"""The course's performance harness.

    python benchmarks/run.py                 # every notebook, plus the sandbox micro-benchmarks
    python benchmarks/run.py notebooks/00-start-here.ipynb

For each notebook it executes headless (a fresh kernel, as a learner's Run All) and reports the whole
run, the slowest cell, the slowest *lab* cell (every cell except the one that starts the sandbox, whose
one-off warm-up is reported on its own), and the kernel's peak memory (VmHWM, the high-water mark of
its resident set). Then it times the sandbox itself in this process. Results go to stdout and to
benchmarks/out/results.json; the README quotes them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
WARM_UP_MARK = "start_sandbox("


def _peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory (Linux), else its current RSS."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20


def _cell_seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def bench_notebook(path: Path) -> dict:
    """Run one notebook in a fresh kernel and measure it."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=True, resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    peak = 0.0
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        peak = _peak_rss_mb(pid)
    total = time.perf_counter() - started
    cells = [(i, c, _cell_seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    slowest = max(cells, key=lambda t: t[2])
    warm = [t for t in cells if WARM_UP_MARK in t[1].source]
    lab = [t for t in cells if WARM_UP_MARK not in t[1].source]
    slowest_lab = max(lab, key=lambda t: t[2]) if lab else None
    return {
        "notebook": str(path.relative_to(REPO)),
        "seconds": round(total, 2),
        "cells": len(cells),
        "slowest_cell": {"index": slowest[0], "seconds": round(slowest[2], 3), "source": _first_line(slowest[1])},
        "sandbox_start_seconds": round(max((t[2] for t in warm), default=0.0), 3),
        "slowest_lab_cell": None
        if slowest_lab is None
        else {"index": slowest_lab[0], "seconds": round(slowest_lab[2], 3), "source": _first_line(slowest_lab[1])},
        "kernel_peak_mb": round(peak, 1),
    }


def _first_line(cell: nbformat.NotebookNode) -> str:
    return next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")[:60]


TEN_RESOURCES = """
Resources:
  Q1: {Type: AWS::SQS::Queue}
  Q2: {Type: AWS::SQS::Queue}
  T1: {Type: AWS::SNS::Topic}
  T2: {Type: AWS::SNS::Topic}
  B1: {Type: AWS::S3::Bucket}
  B2: {Type: AWS::S3::Bucket}
  P1: {Type: AWS::SSM::Parameter, Properties: {Name: !Sub "/${AWS::StackName}/p1", Type: String, Value: a}}
  P2: {Type: AWS::SSM::Parameter, Properties: {Name: !Sub "/${AWS::StackName}/p2", Type: String, Value: b}}
  G1: {Type: AWS::Logs::LogGroup}
  D1:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: k, AttributeType: S}]
      KeySchema: [{AttributeName: k, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
"""


def bench_sandbox(repeats: int = 20) -> dict:
    """Sandbox start/reset, a 10-resource stack through the engine, and a plain moto baseline."""
    import labs_support as ls

    started = time.perf_counter()
    sb = ls.start_sandbox()
    first_start = time.perf_counter() - started
    resets = []
    for _ in range(5):
        t = time.perf_counter()
        sb = ls.start_sandbox()
        resets.append(time.perf_counter() - t)
    # Engine and plain moto are timed the same way (a warm-up create, then `repeats` creates, median), three
    # times each, alternating, so that the machine's ups and downs fall on both alike.
    engine_runs, moto_runs = [], []
    for _ in range(3):
        engine_runs.append(_engine_creates(repeats))
        moto_runs.append(_moto_baseline(repeats))
    sb = ls.start_sandbox()
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="ten-0", TemplateBody=TEN_RESOURCES)
    assert cfn.describe_stacks(StackName="ten-0")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    t = time.perf_counter()
    for _ in range(100):
        cfn.describe_stacks(StackName="ten-0")
    describe_ms = (time.perf_counter() - t) * 10
    sb.stop()
    engine_ms, moto_ms = statistics.median(engine_runs), statistics.median(moto_runs)
    return {
        "sandbox_first_start_seconds": round(first_start, 2),
        "sandbox_reset_seconds_median": round(statistics.median(resets), 3),
        "engine_10_resource_create_ms_median": round(engine_ms, 1),
        "moto_10_resource_create_ms_median": round(moto_ms, 1),
        "engine_over_moto_percent": round((engine_ms / moto_ms - 1) * 100),
        "describe_stacks_ms": round(describe_ms, 2),
    }


def _engine_creates(repeats: int) -> float:
    """Median ms of a 10-resource CreateStack through the engine, in a freshly reset sandbox."""
    import labs_support as ls

    cfn = ls.start_sandbox().client("cloudformation")
    cfn.create_stack(StackName="warm", TemplateBody=TEN_RESOURCES)
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        cfn.create_stack(StackName=f"ten-{i}", TemplateBody=TEN_RESOURCES)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _moto_baseline(repeats: int) -> float:
    """The same stack through moto's own CloudFormation, in a clean subprocess (no fidelity layer)."""
    import subprocess

    code = f"""
import os, statistics, sys, time
sys.modules['rfc3987_syntax'] = None
os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x', AWS_DEFAULT_REGION='us-east-1')
import boto3
from moto import mock_aws
with mock_aws():
    cfn = boto3.client('cloudformation')
    cfn.create_stack(StackName='warm', TemplateBody={TEN_RESOURCES!r})
    times = []
    for i in range({repeats}):
        t = time.perf_counter(); cfn.create_stack(StackName=f'ten-{{i}}', TemplateBody={TEN_RESOURCES!r})
        times.append(time.perf_counter() - t)
print(round(statistics.median(times) * 1000, 1))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


STACK_SET_TEMPLATE = """
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Setting: {Type: AWS::SSM::Parameter, Properties: {Name: /bench/setting, Type: String, Value: "1"}}
"""


def bench_stack_set(repeats: int = 5) -> dict:
    """A StackSet operation across 12 instances (6 accounts x 2 Regions, one wave per Region): wall time with
    the lab clock's waves, and without them (the waves' lab time divided by the clock's speed taken off)."""
    import labs_support as ls
    from labs_support.emulator.cloudformation.stacksets import INSTANCE_LAB_SECONDS

    sb = ls.start_sandbox()
    cfn = sb.client("cloudformation")
    cfn.activate_organizations_access()
    root = sb.organization["root"]
    # six accounts below the root, the management account excluded: five members and one new account
    org = sb.client("organizations")
    extra = org.create_account(Email="bench@example.com", AccountName="bench")["CreateAccountStatus"]["AccountId"]
    assert extra
    walls = []
    for i in range(repeats):
        name = f"bench-{i}"
        cfn.create_stack_set(
            StackSetName=name,
            TemplateBody=STACK_SET_TEMPLATE.replace("setting", f"setting-{i}"),
            PermissionModel="SERVICE_MANAGED",
        )
        t = time.perf_counter()
        op = cfn.create_stack_instances(
            StackSetName=name,
            DeploymentTargets={"OrganizationalUnitIds": [root]},
            Regions=["us-east-1", "eu-west-1"],
            OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100},
        )
        done = ls.wait_for_stack_set_operation(cfn, name, op["OperationId"])
        walls.append(time.perf_counter() - t)
        results = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op["OperationId"])
        assert done["Status"] == "SUCCEEDED" and len(results["Summaries"]) == 12, done
    waves_seconds = 2 * INSTANCE_LAB_SECONDS / sb.lab_clock_speed  # two sequential Regions, one wave each
    # the default preferences: one account at a time, so 12 waves
    cfn.create_stack_set(
        StackSetName="bench-defaults", TemplateBody=STACK_SET_TEMPLATE, PermissionModel="SERVICE_MANAGED"
    )
    t = time.perf_counter()
    op = cfn.create_stack_instances(
        StackSetName="bench-defaults",
        DeploymentTargets={"OrganizationalUnitIds": [root]},
        Regions=["us-east-1", "eu-west-1"],
    )
    assert ls.wait_for_stack_set_operation(cfn, "bench-defaults", op["OperationId"])["Status"] == "SUCCEEDED"
    one_at_a_time = time.perf_counter() - t
    sb.stop()
    wall = statistics.median(walls)
    return {
        "stack_set_12_instances_wall_seconds_median": round(wall, 3),
        "stack_set_12_instances_without_lab_clock_seconds": round(wall - waves_seconds, 3),
        "stack_set_lab_clock_waves_seconds": round(waves_seconds, 3),
        "stack_set_12_instances_one_at_a_time_wall_seconds": round(one_at_a_time, 3),
        "stack_set_12_waves_lab_clock_seconds": round(12 * INSTANCE_LAB_SECONDS / 600, 3),
    }


def bench_run_command(instances: int = 100, repeats: int = 5) -> dict:
    """Run Command across 100 managed nodes: from send_command until list_command_invocations returns every
    invocation finished (default MaxConcurrency 50: two rounds of a 2-lab-second command on the lab clock)."""
    import labs_support as ls

    sb = ls.start_sandbox()
    ssm = sb.client("ssm")
    profile = ls.ssm_instance_profile(sb)
    ids = ls.launch_fleet(sb, instances, tags={"Role": "bench"}, instance_profile=profile)
    assert len(ssm.describe_instance_information(MaxResults=50)["InstanceInformationList"]) == 50
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        sent = ssm.send_command(
            Targets=[{"Key": "tag:Role", "Values": ["bench"]}],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["hostname", "systemctl is-active sshd"]},
        )["Command"]
        ls.wait_for_command(ssm, sent["CommandId"])
        found = []
        for page in ssm.get_paginator("list_command_invocations").paginate(CommandId=sent["CommandId"]):
            found.extend(page["CommandInvocations"])
        walls.append(time.perf_counter() - t)
        assert len(found) == len(ids) and {i["Status"] for i in found} == {"Success"}, {i["Status"] for i in found}
    sb.stop()
    return {
        "run_command_100_instances_wall_seconds_median": round(statistics.median(walls), 3),
        "run_command_100_instances_wall_seconds_max": round(max(walls), 3),
        "run_command_lab_clock_seconds": round(2 * 2 / 600, 3),  # two rounds of 1 s pickup + 1 s of commands
    }


def main(argv: list[str]) -> None:
    os.environ.setdefault("DOP_COURSE_PROGRESS", str(Path(tempfile.mkdtemp()) / "progress.sqlite"))
    notebooks = [Path(a).resolve() for a in argv] or sorted(
        p for p in (REPO / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    results = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "notebooks": []}
    print(f"{'notebook':58} {'run s':>6} {'start s':>7} {'slowest lab cell':>18} {'peak MB':>8}")
    for path in notebooks:
        r = bench_notebook(path)
        results["notebooks"].append(r)
        lab = r["slowest_lab_cell"]
        lab_text = f"{lab['seconds']:.3f}s (#{lab['index']})" if lab else "-"
        print(
            f"{r['notebook']:58} {r['seconds']:6.2f} {r['sandbox_start_seconds']:7.2f} {lab_text:>18} "
            f"{r['kernel_peak_mb']:8.1f}"
        )
        if lab:
            print(f"{'':58}   slowest lab cell: {lab['source']}")
    total = sum(r["seconds"] for r in results["notebooks"])
    results["course_total_seconds"] = round(total, 2)
    print(f"{'whole course':58} {total:6.2f}")
    results["sandbox"] = {**bench_sandbox(), **bench_stack_set(), **bench_run_command()}
    for key, value in results["sandbox"].items():
        print(f"{key:45} {value}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
