"""Stack operations that can wait for the outside world, as AWS's do.

Most operations finish in milliseconds and the API call that started them returns when they are done,
so boto3 waiters return at once. A custom resource, though, waits for its handler to PUT a response,
for up to an hour. Such an operation runs in a worker thread: when it starts waiting, the API call
returns and the stack stays *_IN_PROGRESS for the learner to watch; the wait runs on the lab clock.
A stack operation started inside another one (a nested stack) runs inline, in the same thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import clock

_local = threading.local()


class Operation:
    """One running stack operation."""

    def __init__(self) -> None:
        self.settled = threading.Event()  # finished, or waiting for the outside world
        self.done = threading.Event()
        self.cancelled = threading.Event()  # DeleteStack asked to cancel what is in progress
        self._wake: threading.Event | None = None

    def cancel(self) -> None:
        """Stop waiting: the waiter sees `cancelled` and gives up its resource."""
        self.cancelled.set()
        if self._wake is not None:
            self._wake.set()


def current() -> Operation | None:
    """The operation this thread is running, if any."""
    return getattr(_local, "operation", None)


def run(work: Callable[[], None], on_error: Callable[[BaseException], None]) -> Operation | None:
    """Run `work` as an operation and return once it is done or waiting; inline if already inside one."""
    if current() is not None:
        work()
        return None
    operation = Operation()

    def target() -> None:
        _local.operation = operation
        try:
            work()
        except clock.Aborted:
            pass  # the sandbox was reset under it: nothing left to report to
        except BaseException as error:
            on_error(error)
        finally:
            _local.operation = None
            operation.done.set()
            operation.settled.set()

    threading.Thread(target=target, name="cloudformation-operation", daemon=True).start()
    operation.settled.wait()
    return operation


def wait_for(event: threading.Event, lab_seconds: float) -> bool:
    """Wait (on the lab clock) for something outside the operation; the API call returns meanwhile.

    True if `event` was set, False on timeout or cancellation (check `current().cancelled`).
    """
    if event.is_set():
        return True  # answered already (a handler that responds before it returns): nothing to wait for
    operation = current()
    if operation is not None:
        operation._wake = event
        operation.settled.set()
    try:
        happened = clock.wait(event, lab_seconds)
    finally:
        if operation is not None:
            operation._wake = None
    return happened and not (operation is not None and operation.cancelled.is_set())
