"""Unit tests of the lab clock (labs_support/emulator/clock.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from labs_support.emulator import clock


@pytest.fixture(autouse=True)
def fast_clock() -> Iterator[None]:
    clock.set_speed(60_000)
    yield
    clock.reset()


def test_a_wait_moves_sandbox_time_by_its_lab_length() -> None:
    start = clock.now()
    assert clock.wait(threading.Event(), 600) is False
    assert 599 <= (clock.now() - start).total_seconds() < 601


def test_overlapping_waits_end_where_the_longest_ends_not_at_their_sum() -> None:
    """Three worker threads waiting ten lab minutes at once: sandbox time moves ten minutes, not thirty."""
    start = clock.now()
    threads = [threading.Thread(target=clock.wait, args=(threading.Event(), 600)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 599 <= (clock.now() - start).total_seconds() < 700


def test_a_wait_cut_short_by_its_event_moves_time_only_as_far_as_it_waited() -> None:
    event = threading.Event()
    event.set()
    start = clock.now()
    assert clock.wait(event, 3600) is True
    assert (clock.now() - start).total_seconds() < 60
