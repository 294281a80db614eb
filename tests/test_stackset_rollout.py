"""Unit tests of the StackSet wave planner (stackset_rollout.py) against AWS's definitions in
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html"""

from __future__ import annotations

import pytest

from labs_support.emulator.cloudformation.errors import ValidationError
from labs_support.emulator.cloudformation.stackset_rollout import Preferences, Rollout


def test_defaults_are_one_account_at_a_time_and_no_tolerance() -> None:
    p = Preferences.from_api(None)
    assert (p.max_concurrent(10), p.tolerance(10), p.strict, p.parallel) == (1, 0, True, False)


@pytest.mark.parametrize(("percentage", "accounts", "expected"), [(10, 5, 1), (50, 5, 2), (100, 5, 5), (1, 200, 2)])
def test_max_concurrent_percentage_rounds_down_but_never_to_zero(percentage: int, accounts: int, expected: int) -> None:
    assert Preferences.from_api({"MaxConcurrentPercentage": percentage}).max_concurrent(accounts) == expected


@pytest.mark.parametrize(("percentage", "accounts", "expected"), [(10, 5, 0), (39, 5, 1), (40, 5, 2), (100, 3, 3)])
def test_failure_tolerance_percentage_rounds_down(percentage: int, accounts: int, expected: int) -> None:
    assert Preferences.from_api({"FailureTolerancePercentage": percentage}).tolerance(accounts) == expected


def test_strict_concurrency_starts_at_tolerance_plus_one_and_drops_with_failures() -> None:
    p = Preferences.from_api({"MaxConcurrentCount": 10, "FailureToleranceCount": 2})
    assert [p.concurrency(20, failures) for failures in (0, 1, 2)] == [3, 2, 1]


def test_soft_concurrency_ignores_failures() -> None:
    p = Preferences.from_api(
        {"MaxConcurrentCount": 4, "FailureToleranceCount": 0, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}
    )
    assert [p.concurrency(20, failures) for failures in (0, 1)] == [4, 4]


def test_region_order_comes_first_then_the_rest_as_given() -> None:
    p = Preferences.from_api({"RegionOrder": ["eu-west-1"]})
    assert p.ordered(["us-east-1", "ap-south-1", "eu-west-1"]) == ["eu-west-1", "us-east-1", "ap-south-1"]


def test_count_and_percentage_together_are_refused() -> None:
    with pytest.raises(ValidationError):
        Preferences.from_api({"FailureToleranceCount": 1, "FailureTolerancePercentage": 10})


def test_sequential_rollout_stops_in_the_region_that_exceeds_tolerance_and_skips_later_regions() -> None:
    rollout = Rollout.plan(
        {"r1": ["a", "b", "c"], "r2": ["a", "b"]}, Preferences.from_api({"FailureToleranceCount": 0})
    )
    assert rollout.next_wave() == [("a", "r1")]
    rollout.record([("a", "r1", False)])
    assert rollout.failed and rollout.next_wave() == []
    assert rollout.cancelled() == [("b", "r1"), ("c", "r1"), ("a", "r2"), ("b", "r2")]


def test_parallel_rollout_runs_a_wave_in_every_region_at_once() -> None:
    rollout = Rollout.plan(
        {"r1": ["a", "b"], "r2": ["a", "b"]}, Preferences.from_api({"RegionConcurrencyType": "PARALLEL"})
    )
    assert rollout.next_wave() == [("a", "r1"), ("a", "r2")]
