"""Rate control: MaxConcurrency and MaxErrors, as Run Command, State Manager and maintenance windows apply them.

https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-velocity.html
- MaxConcurrency: how many targets run at once, a number or a percentage of the targets (default 50).
  A percentage is worked out on the number of targets and is at least 1. Run Command does not start at full
  concurrency: it sends the command to one target, waits for it to finish, then sends it to two more, and grows
  exponentially up to MaxConcurrency ("Using concurrency controls", same page).
- MaxErrors: how many errors are allowed before the system stops sending the command to more targets
  (default 0). A percentage is worked out on the number of targets. The count is checked as invocations finish,
  so up to MaxConcurrency - 1 more may fail after the threshold is passed: those already running carry on.
- Delivery timeouts do not count against MaxErrors.

`run` drives a sliding window over the targets on the lab clock (live, or replayed for work that fell due
while time was fast-forwarded): at most MaxConcurrency in flight, a new one
starting as soon as one finishes, until the error count exceeds MaxErrors. It is shared by every caller, so
the three services stop at the same point for the same inputs.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import clock


class RateError(ValueError):
    """A MaxConcurrency/MaxErrors value AWS would not accept."""


def limit(value: str | int | None, targets: int, default: str, minimum: int) -> int:
    """A MaxConcurrency/MaxErrors value as a count for this many targets."""
    text = str(default if value in (None, "") else value).strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            raise RateError(f"{text} is not a valid number or percentage") from None
        if not 0 <= percent <= 100 or (minimum and percent == 0):
            raise RateError(f"{text} is not a valid percentage")
        return max(minimum, math.floor(targets * percent / 100))
    try:
        count = int(text)
    except ValueError:
        raise RateError(f"{text} is not a valid number or percentage") from None
    if count < minimum:  # MaxConcurrency must be at least 1 (the API's pattern), MaxErrors at least 0
        raise RateError(f"{text} is not a valid value")
    return max(minimum, count)


@dataclass
class Outcome:
    """What one target's run came to."""

    ok: bool
    lab_seconds: float
    counts_as_error: bool = True  # False for a delivery timeout


class Timeline:
    """Where a run's time comes from: the live lab clock (it waits), or a replay from a past moment."""

    def __init__(self, replay_from: datetime | None = None) -> None:
        self.replay_from = replay_from
        self.elapsed = 0.0

    def now(self) -> datetime:
        if self.replay_from is None:
            return clock.now()
        return self.replay_from + timedelta(seconds=self.elapsed)

    def wait(self, cancelled: threading.Event, lab_seconds: float) -> bool:
        """Let lab time pass; True if cancelled meanwhile."""
        if cancelled.is_set():
            return True
        self.elapsed += lab_seconds
        if self.replay_from is None and lab_seconds > 0:
            return clock.wait(cancelled, lab_seconds)
        return False


def run(
    targets: list[Any],
    max_concurrency: int,
    max_errors: int,
    start: Callable[[Any], Outcome],
    finish: Callable[[Any, Outcome], None],
    cancelled: threading.Event,
    skip: Callable[[Any, str], None],
    timeline: Timeline | None = None,
    ramp_up: bool = False,
) -> str:
    """Run `start` on each target under rate control; returns 'Success', 'Failed' (errors passed the
    threshold), 'Cancelled' or 'Incomplete' (some failed, but never more than MaxErrors).

    `start` does the work and says how long it takes; `finish` is called when its lab time has passed; `skip`
    gets every target that never started, with the reason ('Cancelled' or 'Failed'). With `ramp_up` (Run Command)
    the window opens as AWS describes it: one target first, then two more once it has finished, growing
    exponentially up to MaxConcurrency.
    """
    timeline = timeline or Timeline()
    pending = list(targets)
    running: list[tuple[float, int, Any, Outcome]] = []
    elapsed = 0.0
    errors = 0
    failures = 0
    stopped = False
    order = 0
    while pending or running:
        allowed = max_concurrency
        if ramp_up:  # 1 until the first finishes, then 2, 4, 8 ... as 1, 3, 7 ... have finished
            finished = order - len(running)
            allowed = min(max_concurrency, 1 << (finished + 1).bit_length() - 1)
        while pending and len(running) < allowed and not stopped:
            target = pending.pop(0)
            outcome = start(target)
            order += 1
            heapq.heappush(running, (elapsed + max(outcome.lab_seconds, 0.001), order, target, outcome))
        if not running:
            break
        ends = running[0][0]
        if timeline.wait(cancelled, max(ends - elapsed, 0.0)):
            # cancelled: what is running ends Cancelled, as does everything not yet sent
            for other in [r[2] for r in running] + pending:
                skip(other, "Cancelled")
            return "Cancelled"
        elapsed = max(elapsed, ends)
        while running and running[0][0] <= ends:  # everything that finished by now is counted before more start
            _, _, target, outcome = heapq.heappop(running)
            finish(target, outcome)
            if not outcome.ok:
                failures += 1
                errors += outcome.counts_as_error
        if errors > max_errors:
            stopped = True
    if stopped:
        for other in pending:
            skip(other, "Failed")
        return "Failed"
    return "Incomplete" if failures else "Success"
