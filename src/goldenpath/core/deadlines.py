"""Stop a thread's pure-Python work at a deadline, in the thread that runs it.

:func:`call_before` runs a function and, once the deadline has passed, raises an exception
of the caller's choosing inside it: one watchdog thread per process sets the exception on the
running thread (``PyThreadState_SetAsyncExc``), and sets it again every
:data:`REFIRE_SECONDS` until the call has ended. The repeat is what makes the bound hold: an
exception that lands in a destructor or a garbage-collector callback is printed and dropped
by Python, and a trace function (the usual way to do this) is removed for good the first time
it raises. The exception arrives between bytecodes, so a long call into C finishes first.

The exception never escapes the call: the function's end marks the ticket done (one plain
attribute store, which Python cannot interrupt), waits out a firing in progress, then clears
any exception still pending on the thread; one that lands during those steps is caught and
re-raised as the function's own outcome, never later in the caller's code.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

REFIRE_SECONDS = 0.05

_set_async = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async.restype = ctypes.c_int
# The same C function with a plain pointer: NULL (None) clears a pending exception, where a
# py_object None would set None itself as the exception.
_clear_async = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class _Ticket:
    __slots__ = ("done", "due", "exception", "fired", "thread")

    def __init__(self, thread: int, exception: type[BaseException], due: float) -> None:
        self.thread = thread
        self.exception = exception
        self.due = due
        self.done = False
        self.fired = False


class _Watchdog:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._tickets: set[_Ticket] = set()
        threading.Thread(target=self._loop, name="gp-deadlines", daemon=True).start()

    def watch(self, ticket: _Ticket) -> None:
        with self._condition:
            self._tickets.add(ticket)
            self._condition.notify()

    def release(self, ticket: _Ticket) -> None:
        """Call with ``ticket.done`` already set."""
        with self._condition:  # waits out a firing in progress
            self._tickets.discard(ticket)
        if ticket.fired:  # defensive: one set while we took the lock lands before here
            _clear_async(ticket.thread, None)

    def _loop(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                wake: float | None = None
                for ticket in list(self._tickets):
                    if ticket.done:
                        self._tickets.discard(ticket)
                        continue
                    if now >= ticket.due:
                        _set_async(ticket.thread, ticket.exception)
                        ticket.fired = True
                        ticket.due = now + REFIRE_SECONDS
                    wake = ticket.due if wake is None else min(wake, ticket.due)
                self._condition.wait(None if wake is None else max(0.0, wake - now))


_watchdog: _Watchdog | None = None
_starting = threading.Lock()


def _reset_after_fork() -> None:
    global _watchdog, _starting
    _watchdog, _starting = None, threading.Lock()  # the thread did not survive the fork


os.register_at_fork(after_in_child=_reset_after_fork)


def _the_watchdog() -> _Watchdog:
    global _watchdog
    if _watchdog is None:
        with _starting:
            if _watchdog is None:
                _watchdog = _Watchdog()
    return _watchdog


def call_before(deadline: float, exception: type[BaseException], function: Callable[[], T]) -> T:
    """Return ``function()``, or raise ``exception`` (a class, instantiated without
    arguments) in it once ``time.monotonic()`` passes ``deadline``. Make ``exception`` a
    :class:`BaseException` that nothing inside catches, so the work really stops."""
    watchdog = _the_watchdog()
    ticket = _Ticket(threading.get_ident(), exception, deadline)
    watchdog.watch(ticket)
    try:
        try:
            return function()
        finally:
            # First, inline and atomic (a plain attribute store, no call for an exception
            # to land in): from here on the watchdog never fires this ticket.
            ticket.done = True
            watchdog.release(ticket)
    except exception:
        watchdog.release(ticket)  # again: the last exception may have landed in the first
        raise
