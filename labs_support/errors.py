"""Learner-facing errors: every problem the course reports is one of these, shown as a short message.

A `LabError` carries what went wrong and, where we know it, what to do about it. In a notebook the
`friendly` module renders it as a coloured box instead of a traceback; in plain Python it is an
ordinary exception whose text holds both parts.
"""

from __future__ import annotations

import html


class LabError(Exception):
    """A problem the learner can fix, reported as a message and an optional hint."""

    title = "Something needs your attention"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nHint: {self.hint}" if self.hint else self.message

    def _repr_html_(self) -> str:
        return message_box(self.title, self.message, self.hint, kind="error")


class SandboxNotRunning(LabError):
    """A lab step needs the sandbox, and no sandbox is running in this kernel."""

    title = "The sandbox is not running"


class RealAWSBlocked(LabError):
    """The guard refused a request that would have left this machine for a real AWS endpoint."""

    title = "Blocked: this request would have gone to real AWS"


class CourseDataError(LabError):
    """A file the course ships (question bank, solution, catalogue) is malformed."""

    title = "A course data file has a problem"


_COLOURS = {
    "error": ("#fdecea", "#b3261e"),
    "warning": ("#fff4e5", "#8a5300"),
    "ok": ("#e7f5ea", "#1e6b34"),
    "info": ("#e8f0fe", "#1a4d8f"),
}


def message_box(title: str, message: str, hint: str | None = None, kind: str = "error") -> str:
    """HTML for a small coloured box with a title, a message and an optional hint."""
    background, accent = _COLOURS[kind]
    parts = [
        f'<div style="border-left:4px solid {accent};background:{background};padding:8px 12px;'
        f'margin:4px 0;border-radius:4px;font-family:var(--jp-ui-font-family,sans-serif)">',
        f'<div style="font-weight:600;color:{accent}">{html.escape(title)}</div>',
        f'<div style="white-space:pre-wrap">{html.escape(message)}</div>',
    ]
    if hint:
        parts.append(f'<div style="margin-top:4px"><b>Hint:</b> {html.escape(hint)}</div>')
    parts.append("</div>")
    return "".join(parts)
