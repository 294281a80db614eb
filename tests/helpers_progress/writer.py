"""One "kernel" of the concurrency test: a process that records answers and checks as fast as it can."""

from __future__ import annotations

import sys
from typing import Any

SHARED_QUESTION = "shared-01"
SHARED_EVERY = 10
EXIT_DEGRADED = 3


def write_many(path: str, worker: int, count: int, barrier: Any) -> None:
    """Record `count` answers and `count` checks with ids unique to `worker`, plus some on a shared question.

    Exits with EXIT_DEGRADED if the store fell back to memory or told the learner anything: rows that
    only reached memory would be lost, which is what the test must catch.
    """
    from labs_support.progress import ProgressStore

    barrier.wait(timeout=120)  # every process opens the (not yet existing) file at the same moment
    store = ProgressStore(path)
    for i in range(count):
        store.record_quiz_answer(
            question_id=f"w{worker}-{i:04d}",
            topic="concurrency",
            domain=1 + i % 6,
            task="1.1",
            correct=i % 2 == 0,
            chosen=["A", "C"],
        )
        store.record_check(check_id=f"concurrency.w{worker}-{i:04d}", module="concurrency", domain=2, passed=True)
        if i % SHARED_EVERY == 0:
            store.record_quiz_answer(
                question_id=SHARED_QUESTION,
                topic="concurrency",
                domain=1,
                task="1.1",
                correct=True,
                chosen=["B"],
            )
    if not store.persistent or store.notices:
        sys.exit(EXIT_DEGRADED)


def record_inherited(store: Any, worker: int, count: int) -> None:
    """In a forked child: keep recording with the store object inherited from the parent."""
    for i in range(count):
        store.record_check(check_id=f"fork.w{worker}-{i:04d}", module="fork", domain=1, passed=True)
    if not store.persistent or store.notices:
        sys.exit(EXIT_DEGRADED)
