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


# Mid-tone accents on a faint tint of themselves, text colour inherited: readable in JupyterLab's light
# and dark themes alike.
_ACCENTS = {"error": "#d0453b", "warning": "#c98a1b", "ok": "#3a9d5d", "info": "#4a7fc1"}


def message_box(title: str, message: str, hint: str | None = None, kind: str = "error") -> str:
    """HTML for a small tinted box with a title, a message and an optional hint."""
    accent = _ACCENTS[kind]
    hint_html = f'<div style="margin-top:4px"><b>Hint:</b> {html.escape(hint)}</div>' if hint else ""
    return (
        f'<div style="border-left:4px solid {accent};background:{accent}1f;padding:6px 12px;margin:4px 0;'
        f'border-radius:4px"><div style="font-weight:600;color:{accent}">{html.escape(title)}</div>'
        f'<div style="white-space:pre-wrap">{html.escape(message)}</div>{hint_html}</div>'
    )
