"""Schedules on the sandbox clock: State Manager associations and maintenance windows run when they fall due.

Expressions as Systems Manager takes them
(https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html):
`rate(30 minutes)`, `rate(1 hour)`, `rate(7 days)`, and six-field `cron(minutes hours day-of-month month
day-of-week year)` with `*`, `?`, lists, ranges, `/` steps and day names (SUN-SAT, or 1-7 with 1 = Sunday).
`at(yyyy-mm-ddThh:mm:ss)` runs once.

There is no timer thread. Scheduled work runs when somebody looks: every Systems Manager call first runs,
in time order, whatever fell due since the last one (`catch_up`), each run stamped with the time it fell due.
`fast_forward` moves the sandbox clock on (a lab's "wait a week") and catches up every account and Region.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import clock

log = logging.getLogger(__name__)

_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


class ScheduleError(ValueError):
    """An expression Systems Manager would refuse."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression."""

    expression: str
    every: timedelta | None = None
    fields: tuple[set[int] | None, ...] | None = None  # minute, hour, dom, month, dow (1=Sun), year
    once: datetime | None = None

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first time strictly after `moment` (a rate counts from `anchor`, the time it was set up)."""
        if self.once is not None:
            return self.once if self.once > moment else None
        if self.every is not None:
            base = anchor or moment
            if moment < base:
                return base + self.every
            steps = int((moment - base) / self.every) + 1
            return base + steps * self.every
        return _next_cron(self.fields or (), moment)


def parse(expression: str, minimum: timedelta | None = None) -> Schedule:
    """Parse a rate/cron/at expression; `minimum` is the shortest interval the caller allows."""
    text = (expression or "").strip()
    if m := _RATE.match(text):
        amount, unit = int(m.group(1)), m.group(2)
        every = (
            timedelta(minutes=amount)
            if unit.startswith("minute")
            else (timedelta(hours=amount) if unit.startswith("hour") else timedelta(days=amount))
        )
        if amount <= 0 or (minimum and every < minimum):
            raise ScheduleError(f"Schedule expression {text} is not valid.")
        return Schedule(text, every=every)
    if m := _AT.match(text):
        return Schedule(text, once=datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC))
    if m := _CRON.match(text):
        parts = m.group(1).split()
        if len(parts) not in (5, 6):
            raise ScheduleError(f"Schedule expression {text} is not valid.")
        parts += ["*"] * (6 - len(parts))
        ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]
        names = [None, None, None, _MONTHS, _DAYS, None]
        try:
            fields = tuple(_field(p, lo, hi, n) for p, (lo, hi), n in zip(parts, ranges, names, strict=True))
        except ValueError:
            raise ScheduleError(f"Schedule expression {text} is not valid.") from None
        return Schedule(text, fields=fields)
    raise ScheduleError(f"Schedule expression {text} is not valid.")


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> set[int] | None:
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = hi if "/" in text else start
        if not (lo <= start <= hi and lo <= end <= hi):
            raise ValueError(text)
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


def _next_cron(fields: tuple[set[int] | None, ...], moment: datetime) -> datetime | None:
    minute, hour, dom, month, dow, year = fields
    start = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
    day = start.replace(hour=0, minute=0)
    for _ in range(366 * 5):
        weekday = (day.weekday() + 1) % 7 + 1  # Monday=0 -> 2 ... Sunday=6 -> 1
        if (
            (month is None or day.month in month)
            and (year is None or day.year in year)
            and (dom is None or day.day in dom)
            and (dow is None or weekday in dow)
        ):
            for h in sorted(hour) if hour is not None else range(24):
                for m in sorted(minute) if minute is not None else range(60):
                    candidate = day.replace(hour=h, minute=m)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
    return None


# -- jobs ------------------------------------------------------------------------------------------------
@dataclass
class Job:
    """Something that runs on a schedule: `run(due)` does it, stamped at `due`; `next_due` None means done."""

    key: str
    next_due: datetime | None
    run: Callable[[datetime], datetime | None]  # returns the next due time


_catching_up = threading.local()
# called after the due jobs on every catch-up (State Manager's "target changes are detected")
AFTER_CATCH_UP: list[Callable[[Any], None]] = []


def catch_up(fleet: Any) -> None:
    """Run, in time order, every job of this fleet that fell due by now."""
    if getattr(_catching_up, "active", False):
        return  # a job's own SSM calls must not start the queue again
    _catching_up.active = True
    try:
        with fleet.lock:
            now = clock.now()  # what fell due by the time of this call; a run's own lab time is not chased
            for _ in range(10000):
                jobs = getattr(fleet, "jobs", {})
                due = [j for j in list(jobs.values()) if j.next_due is not None and j.next_due <= now]
                if not due:
                    break
                job = min(due, key=lambda j: (j.next_due, j.key))
                ran_at = job.next_due
                assert ran_at is not None
                try:
                    job.next_due = job.run(ran_at)
                except Exception as error:  # a job must never block every later Systems Manager call
                    job.next_due = None
                    log.warning("scheduled job %s stopped: %s", job.key, error)
                if job.next_due is not None and job.next_due <= ran_at:
                    job.next_due = None  # a job that would run twice at once stops
            for hook in AFTER_CATCH_UP:
                try:
                    hook(fleet)
                except Exception as error:
                    log.warning("catch-up hook failed: %s", error)
    finally:
        _catching_up.active = False


def add_job(fleet: Any, job: Job) -> None:
    with fleet.lock:
        if not hasattr(fleet, "jobs"):
            fleet.jobs = {}
        fleet.jobs[job.key] = job


def remove_job(fleet: Any, key: str) -> None:
    with fleet.lock:
        getattr(fleet, "jobs", {}).pop(key, None)


def fast_forward(seconds: float) -> None:
    """Move the sandbox clock on and run everything that fell due meanwhile, in every account and Region."""
    from .backend import fleets

    clock.advance(seconds)
    for account_fleets in list(fleets.values()):
        for fleet in list(account_fleets.values()):
            catch_up(fleet)
