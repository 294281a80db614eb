"""What the start notebook shows: the exam at a glance, the course map and the environment check."""

from __future__ import annotations

import html
import os
import platform
import socket
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .course import load_course
from .errors import LabError, message_box
from .paths import NOTEBOOKS_DIR
from .show import _Html, _table


def exam_at_a_glance() -> _Html:
    """The exam's format and its six domains with their weights (from course.yaml)."""
    course = load_course()
    exam = course.exam
    facts = (
        f"{exam['questions']} questions ({exam['scored']} scored, {exam['unscored']} unscored and unmarked), "
        f"{exam['minutes']} minutes, scaled score {exam['score_range'][0]}–{exam['score_range'][1]}, "
        f"pass at {exam['passing_score']}. Two question types: multiple choice (one right answer of four) and "
        "multiple response (two or more right answers of five or more). An unanswered question counts as "
        "wrong; there is no penalty for guessing."
    )
    rows = []
    for d in course.domains:
        bar = f'<div style="background:#4a7fc1;height:10px;width:{d.weight * 8}px;border-radius:2px"></div>'
        tasks = "<br>".join(f"{html.escape(k)} {html.escape(v)}" for k, v in d.tasks.items())
        rows.append([f"<b>{d.number}</b>", html.escape(d.name), f"{d.weight}%", bar, f"<small>{tasks}</small>"])
    markup = f"<p>{html.escape(facts)}</p>" + _table(["#", "domain", "weight", "", "task statements"], rows)
    text = facts + "\n" + "\n".join(f"{d.number} {d.name}: {d.weight}%" for d in course.domains)
    return _Html(markup, text)


def course_map() -> _Html:
    """Every module by domain: available ones link to their notebook, planned ones are listed as coming."""
    course = load_course()
    start = NOTEBOOKS_DIR / "00-start-here.ipynb"
    rows, text = [], []
    for d in course.domains:
        modules = [m for m in course.modules if m.domain == d.number]
        if not modules:
            rows.append([f"{d.number}", html.escape(d.name), "<i>modules coming</i>", ""])
            text.append(f"{d.number} {d.name}: modules coming")
            continue
        for i, m in enumerate(modules):
            link = os.path.relpath(m.path, start.parent)
            title = f'<a href="{html.escape(link)}">{html.escape(m.title)}</a>' if m.available else html.escape(m.title)
            status = "ready" if m.available else "<i>coming</i>"
            rows.append([f"{d.number}" if i == 0 else "", html.escape(d.name) if i == 0 else "", title, status])
            text.append(f"{d.number} {m.title}: {'ready' if m.available else 'coming'}")
    return _Html(_table(["#", "domain", "module", "status"], rows), "\n".join(text))


@dataclass(frozen=True)
class _Finding:
    ok: bool
    label: str
    detail: str


def _own_aws_settings() -> list[str]:
    """Names (never values) of the AWS settings this machine has outside the sandbox."""
    from . import sandbox

    saved = sandbox._current._saved_env if sandbox._current is not None else dict(os.environ)
    found = [
        k for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE") if saved.get(k)
    ]
    for name in ("credentials", "config"):
        if (Path.home() / ".aws" / name).exists():
            found.append(f"~/.aws/{name}")
    return found


def environment_check() -> _Html:
    """Prove the sandbox answers, with its own identity, and that nothing can reach real AWS."""
    import boto3

    from . import guard
    from .sandbox import current_sandbox

    findings: list[_Finding] = []
    findings.append(_Finding(platform.python_version().startswith("3.11"), "Python", platform.python_version()))
    versions = {p: metadata.version(p) for p in ("boto3", "moto", "ipywidgets")}
    findings.append(
        _Finding(versions["moto"] == "5.2.5", "Packages", ", ".join(f"{k} {v}" for k, v in versions.items()))
    )
    sb = current_sandbox()
    identity = boto3.client("sts").get_caller_identity()  # a client built by hand, as a learner might
    findings.append(
        _Finding(
            identity["Account"] == sb.accounts["management"],
            "Sandbox identity",
            f"a hand-made boto3 client is {identity['Arn']} (the sandbox's management account)",
        )
    )
    dev = sb.client("sts", account="dev").get_caller_identity()["Arn"]
    findings.append(
        _Finding(
            ":assumed-role/" in dev,
            "Member accounts",
            f"{len(sb.accounts) - 1} member accounts; dev is reached as {dev}",
        )
    )
    own = _own_aws_settings()
    findings.append(
        _Finding(
            True,
            "Your own AWS settings",
            ("found " + ", ".join(own) + "; set aside while the sandbox runs") if own else "none found on this machine",
        )
    )
    try:
        socket.create_connection(("52.94.236.248", 443), timeout=2).close()  # an address of AWS itself
        blocked = False
    except LabError:
        blocked = True
    except OSError:
        blocked = False
    findings.append(
        _Finding(
            blocked and guard.installed(),
            "Guard",
            "a direct connection to an AWS address was refused before it left the machine"
            if blocked
            else "the guard did NOT stop a connection to AWS",
        )
    )
    ok = all(f.ok for f in findings)
    rows = [["✔" if f.ok else "✘", html.escape(f.label), html.escape(f.detail)] for f in findings]
    verdict = (
        message_box("Environment ready", "The sandbox works and nothing can reach real AWS.", kind="ok")
        if ok
        else message_box("Environment problem", "At least one line above failed.", kind="error")
    )
    text = "\n".join(f"[{'ok' if f.ok else 'FAIL'}] {f.label}: {f.detail}" for f in findings)
    if not ok and os.environ.get("LABS_SUPPORT_EXPECT"):
        raise LabError("The environment check failed:\n" + text)
    return _Html(_table(["", "check", "result"], rows) + verdict, text)
