"""call_before stops pure-Python work at its deadline, in its own thread, and never lets the
stop escape into the caller's code."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from goldenpath.core.deadlines import call_before


class Late(BaseException):
    pass


def spin(seconds: float) -> int:
    """Pure-Python work with calls in it, for ``seconds``."""
    end = time.monotonic() + seconds
    steps = 0
    while time.monotonic() < end:
        steps += len(str(steps))
    return steps


def test_a_call_in_time_returns_its_value() -> None:
    assert call_before(time.monotonic() + 5, Late, lambda: 42) == 42


def test_a_call_past_its_deadline_stops_there() -> None:
    started = time.monotonic()
    with pytest.raises(Late):
        call_before(started + 0.2, Late, lambda: spin(30))
    assert time.monotonic() - started < 1.5


def test_a_call_that_swallows_the_first_stop_is_stopped_by_the_next() -> None:
    swallowed: list[int] = []

    def stubborn() -> None:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                spin(0.01)
            except Late:
                if not swallowed:
                    swallowed.append(1)
                    continue  # swallow the first one, like a destructor would
                raise

    started = time.monotonic()
    with pytest.raises(Late):
        call_before(started + 0.1, Late, stubborn)
    assert swallowed and time.monotonic() - started < 1.5


def test_the_stop_never_escapes_a_call_that_ended_near_its_deadline() -> None:
    """Deadlines land before, during and just after the call's end: each call either
    returns or raises, and nothing arrives afterwards in the caller's code."""
    rng = random.Random(7)
    outcomes = {"returned": 0, "stopped": 0}
    for _ in range(300):
        deadline = time.monotonic() + rng.uniform(0, 0.004)
        try:
            call_before(deadline, Late, lambda: spin(0.002))
            outcomes["returned"] += 1
        except Late:
            outcomes["stopped"] += 1
        spin(0.003)  # a stray stop would land here, outside the try, and fail the test
    assert outcomes["returned"] and outcomes["stopped"], outcomes


def test_a_deadline_on_one_thread_never_stops_another() -> None:
    errors: list[BaseException] = []

    def other() -> None:
        try:
            spin(0.6)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    with pytest.raises(Late):
        call_before(time.monotonic() + 0.1, Late, lambda: spin(30))
    thread.join()
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_watchdog() -> None:
    call_before(time.monotonic() + 5, Late, lambda: None)  # the parent's watchdog is running
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        try:
            call_before(time.monotonic() + 0.1, Late, lambda: spin(10))
            code = 1
        except Late:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
