"""Sandbox time: UTC wall-clock time that never runs backwards, and a lab clock for AWS's long waits.

Operations in the sandbox complete synchronously, in milliseconds; timestamps of consecutive events are
kept strictly increasing. Where AWS's timing is itself the lesson (a custom resource that never answers
waits an hour), the wait runs on the *lab clock*: it lasts `seconds / SPEED` of real time, and sandbox time
then jumps by the full amount, so the events show the hour AWS would take. Notebooks state the speed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# Lab seconds per real second: one lab hour takes six real seconds.
DEFAULT_SPEED = 600.0

_lock = threading.Lock()
_last = datetime.min.replace(tzinfo=UTC)
_offset = timedelta(0)
_speed = DEFAULT_SPEED
_waits: set[threading.Event] = set()
_generation = 0


def now() -> datetime:
    """The sandbox's current time (UTC), at least a millisecond later than any time handed out before."""
    global _last
    with _lock:
        current = datetime.now(UTC) + _offset
        # at least a millisecond apart: event ids embed the time to the millisecond and must stay unique
        if current < _last + timedelta(milliseconds=1):
            current = _last + timedelta(milliseconds=1)
        _last = current
        return current


def advance(seconds: float) -> None:
    """Move sandbox time forward (a compressed wait)."""
    global _offset
    with _lock:
        _offset += timedelta(seconds=seconds)


def speed() -> float:
    """Lab seconds per real second."""
    return _speed


def set_speed(lab_seconds_per_second: float) -> None:
    """Change the lab clock's speed (a notebook says which speed it uses)."""
    global _speed
    if lab_seconds_per_second <= 0:
        raise ValueError("the lab clock's speed must be positive")
    _speed = float(lab_seconds_per_second)


class Aborted(Exception):
    """The sandbox was reset or stopped while an operation was waiting."""


def wait(event: threading.Event, lab_seconds: float) -> bool:
    """Wait for `event` for up to `lab_seconds` of lab time; True if it was set, False on timeout.

    Sandbox time moves on to where the wait ends on the lab clock: waits that overlap (several worker threads
    waiting at once) end where the longest ends, not at the sum of their lengths. Raises Aborted when the sandbox
    is reset.
    """
    generation = _generation
    started = datetime.now(UTC)
    with _lock:
        _waits.add(event)
        began = started + _offset  # sandbox time when the wait began
    try:
        happened = event.wait(lab_seconds / _speed)
    finally:
        with _lock:
            _waits.discard(event)
    if generation != _generation:
        raise Aborted
    real = (datetime.now(UTC) - started).total_seconds()
    _advance_to(began + timedelta(seconds=lab_seconds if not happened else min(lab_seconds, real * _speed)))
    return happened


def _advance_to(moment: datetime) -> None:
    """Move sandbox time forward to `moment` if it is not there yet."""
    global _offset
    with _lock:
        current = datetime.now(UTC) + _offset
        if moment > current:
            _offset += moment - current


def abort_waits() -> None:
    """End every wait at once (the sandbox is being reset or stopped); the waiters raise Aborted."""
    global _generation
    with _lock:
        _generation += 1
        for event in list(_waits):
            event.set()
        _waits.clear()


def reset() -> None:
    """A new sandbox: end pending waits and go back to the default speed (time itself never runs back)."""
    global _speed
    abort_waits()
    with _lock:
        _speed = DEFAULT_SPEED
