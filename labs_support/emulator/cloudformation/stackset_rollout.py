"""How a StackSet operation walks its targets: Region order, waves of accounts, and where it stops.

AWS's definitions (StackSetOperationPreferences, API Reference):
- Regions run one at a time in RegionOrder (then the rest, in the order given) with SEQUENTIAL, the default,
  or all at once with PARALLEL.
- MaxConcurrentCount (default 1) or MaxConcurrentPercentage (rounded down, but at least 1) caps the accounts
  acted on at one time in a Region.
- FailureToleranceCount (default 0) or FailureTolerancePercentage (rounded down) is the number of accounts per
  Region that may fail before CloudFormation stops the operation in that Region; once stopped, later Regions
  are not attempted.
- ConcurrencyMode STRICT_FAILURE_TOLERANCE (the default) starts at min(MaxConcurrent, tolerance + 1) and lowers
  the concurrency by the failures so far, so failed accounts never exceed tolerance + 1;
  SOFT_FAILURE_TOLERANCE keeps MaxConcurrent whatever fails.

The planner here is pure: it hands out waves and is told what failed; stacksets.py runs the stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ValidationError


@dataclass(frozen=True)
class Preferences:
    """StackSetOperationPreferences, read and checked."""

    region_order: tuple[str, ...] = ()
    parallel: bool = False
    max_count: int | None = None
    max_percentage: int | None = None
    tolerance_count: int | None = None
    tolerance_percentage: int | None = None
    strict: bool = True

    @classmethod
    def from_api(cls, given: dict[str, Any] | None) -> Preferences:
        given = given or {}
        for count, percentage in (
            ("MaxConcurrentCount", "MaxConcurrentPercentage"),
            ("FailureToleranceCount", "FailureTolerancePercentage"),
        ):
            if given.get(count) is not None and given.get(percentage) is not None:
                raise ValidationError(f"You can specify either {count} or {percentage}, but not both.")  # wording ours
        for name in ("MaxConcurrentPercentage", "FailureTolerancePercentage"):
            value = given.get(name)
            if value is not None and not 0 <= int(value) <= 100:
                raise ValidationError(f"{name} must be between 0 and 100.")  # wording ours
        if given.get("MaxConcurrentCount") is not None and int(given["MaxConcurrentCount"]) < 1:
            raise ValidationError("MaxConcurrentCount must be at least 1.")  # wording ours
        return cls(
            region_order=tuple(given.get("RegionOrder") or ()),
            parallel=given.get("RegionConcurrencyType") == "PARALLEL",
            max_count=_int(given.get("MaxConcurrentCount")),
            max_percentage=_int(given.get("MaxConcurrentPercentage")),
            tolerance_count=_int(given.get("FailureToleranceCount")),
            tolerance_percentage=_int(given.get("FailureTolerancePercentage")),
            strict=given.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE") != "SOFT_FAILURE_TOLERANCE",
        )

    def to_api(self) -> dict[str, Any]:
        """The preferences as DescribeStackSetOperation shows them (only what was set, and the Region order)."""
        shown: dict[str, Any] = {"RegionOrder": list(self.region_order)}
        if self.parallel:
            shown["RegionConcurrencyType"] = "PARALLEL"
        for key, value in (
            ("MaxConcurrentCount", self.max_count),
            ("MaxConcurrentPercentage", self.max_percentage),
            ("FailureToleranceCount", self.tolerance_count),
            ("FailureTolerancePercentage", self.tolerance_percentage),
        ):
            if value is not None:
                shown[key] = value
        if not self.strict:
            shown["ConcurrencyMode"] = "SOFT_FAILURE_TOLERANCE"
        return shown

    def max_concurrent(self, accounts: int) -> int:
        """Accounts acted on at one time in a Region of `accounts` accounts."""
        if self.max_percentage is not None:
            return max(1, accounts * self.max_percentage // 100)
        return self.max_count if self.max_count is not None else 1

    def tolerance(self, accounts: int) -> int:
        """Accounts that may fail in a Region of `accounts` accounts before the operation stops there."""
        if self.tolerance_percentage is not None:
            return accounts * self.tolerance_percentage // 100
        return self.tolerance_count or 0

    def concurrency(self, accounts: int, failures: int) -> int:
        """The size of the next wave in a Region that has had `failures` failed accounts so far."""
        if not self.strict:
            return self.max_concurrent(accounts)
        return max(1, min(self.max_concurrent(accounts), self.tolerance(accounts) + 1 - failures))

    def ordered(self, regions: list[str]) -> list[str]:
        """The Regions in the order the operation visits them: RegionOrder first, then the rest as given."""
        first = [r for r in self.region_order if r in regions]
        return first + [r for r in regions if r not in first]


@dataclass
class RegionRun:
    """The progress of an operation in one Region."""

    region: str
    accounts: list[str]
    preferences: Preferences
    done: int = 0
    failures: int = 0
    stopped: bool = False

    @property
    def exceeded(self) -> bool:
        return self.failures > self.preferences.tolerance(len(self.accounts))

    @property
    def finished(self) -> bool:
        return self.stopped or self.exceeded or self.done >= len(self.accounts)

    def next_wave(self) -> list[str]:
        size = self.preferences.concurrency(len(self.accounts), self.failures)
        wave = self.accounts[self.done : self.done + size]
        self.done += len(wave)
        return wave

    def untouched(self) -> list[str]:
        return self.accounts[self.done :]


@dataclass
class Rollout:
    """Hands out the waves of one operation: lists of (account, Region) that run at the same time."""

    preferences: Preferences
    regions: list[RegionRun] = field(default_factory=list)
    failed: bool = False
    stop_requested: bool = False

    @classmethod
    def plan(cls, targets: dict[str, list[str]], preferences: Preferences) -> Rollout:
        """`targets` maps each Region to its accounts in order."""
        ordered = preferences.ordered(list(targets))
        return cls(preferences, [RegionRun(r, list(targets[r]), preferences) for r in ordered])

    def _active(self) -> list[RegionRun]:
        if self.failed or self.stop_requested:
            return []
        unfinished = [r for r in self.regions if not r.finished]
        return unfinished if self.preferences.parallel else unfinished[:1]

    def next_wave(self) -> list[tuple[str, str]]:
        """The next instances to run together; [] when the operation is over."""
        return [(account, run.region) for run in self._active() for account in run.next_wave()]

    def record(self, results: list[tuple[str, str, bool]]) -> None:
        """Tell the planner how a wave ended: (account, Region, succeeded) for each instance."""
        by_region = {r.region: r for r in self.regions}
        for _account, region, ok in results:
            if not ok:
                by_region[region].failures += 1
        if any(r.exceeded for r in self.regions):
            self.failed = True

    def cancelled(self) -> list[tuple[str, str]]:
        """The instances never started: every account left in every Region."""
        return [(account, run.region) for run in self.regions for account in run.untouched()]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
