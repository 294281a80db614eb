"""Sandbox time: UTC wall-clock time that never runs backwards, so events sort the way they happened.

Operations in the sandbox complete synchronously, in milliseconds. Timestamps of consecutive events
are kept strictly increasing at AWS's resolution, the millisecond (CloudFormation event ids embed it, so
two events of one resource must not share one); where AWS's timing is itself the lesson (a timeout, a
rollout in waves) a module advances this clock instead of sleeping, and the notebook states the compression.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_last = datetime.min.replace(tzinfo=UTC)
_offset = timedelta(0)
_TICK = timedelta(milliseconds=1)


def now() -> datetime:
    """The sandbox's current time (UTC), at least a millisecond later than any time handed out before."""
    global _last
    with _lock:
        current = datetime.now(UTC) + _offset
        if current < _last + _TICK:
            current = _last + _TICK
        _last = current
        return current


def advance(seconds: float) -> None:
    """Move sandbox time forward (a compressed wait)."""
    global _offset
    with _lock:
        _offset += timedelta(seconds=seconds)
