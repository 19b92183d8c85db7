"""Keeping the training process and everything it starts inside its run (issue 23, §1).

``python .../goldenpath/training/containment.py WORKDIR PARENT_PID`` (run as a script: it
imports nothing of goldenpath until it has forked) is a small *keeper*:

1. it asks the kernel to SIGKILL it when its parent (``gp train``) dies
   (``prctl(PR_SET_PDEATHSIG)``), then checks that the parent is still the one that started
   it (a parent that died before the ``prctl`` left it with another);
2. it applies the run's resource limits (``training.limits``: they hold for every process
   started below);
3. where the kernel allows it, it enters a new user, PID and mount namespace (``unshare``;
   allowed without privileges where user namespaces are on) and forks the namespace's init
   (PID 1: it mounts the namespace's own /proc, forks the training process as PID 2 and
   reaps orphans until it ends). When the training process ends, however it ends, init
   returns and the kernel kills every process left in the namespace, ``setsid()`` or not.
   Each of them dies with its parent (``PR_SET_PDEATHSIG``), so a SIGKILL of ``gp train``
   ends them all, and the parent kills init (hence the namespace) at the time limit.
   Without namespaces, the keeper trains itself and only its process group is killed at the
   end (a process that leaves the group with ``setsid`` then survives; the train log says
   which containment the run had).

The keeper waits for the training process and exits as it did, so the parent's ``wait4``
measures the CPU time of the whole tree.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import select
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 16384, 1 << 18

NAMESPACE = "PID namespace"
GROUP_ONLY = "process group only"

# Each limit is the soft limit; the hard one is this much above it, a reserve that the
# training process takes once it hits the limit, to say so in its result (a process at its
# file limit cannot open result.json; at its memory limit it cannot build the message).
MEMORY_RESERVE_BYTES = 64 << 20
CPU_RESERVE_SECONDS = 5
FILES_RESERVE = 16
_RLIMITS = {
    "memory": (resource.RLIMIT_AS, MEMORY_RESERVE_BYTES),
    "cpu_seconds": (resource.RLIMIT_CPU, CPU_RESERVE_SECONDS),
    "open_files": (resource.RLIMIT_NOFILE, FILES_RESERVE),
}
_applied: dict[str, int] = {}


def apply_limits(limits: Mapping[str, int | None]) -> None:
    """Set this process's resource limits (inherited by every process it starts):
    ``memory`` (bytes of address space, RLIMIT_AS), ``cpu_seconds`` (RLIMIT_CPU),
    ``open_files`` (RLIMIT_NOFILE); None or absent: unchanged."""
    for name, value in limits.items():
        if value is None or name not in _RLIMITS:
            continue
        which, reserve = _RLIMITS[name]
        _, hard = resource.getrlimit(which)
        ceiling = value + reserve if hard == resource.RLIM_INFINITY else min(hard, value + reserve)
        resource.setrlimit(which, (min(value, ceiling), ceiling))
        _applied[name] = int(value)


def _release_reserve() -> None:
    for name in _applied:
        which, _ = _RLIMITS[name]
        _, hard = resource.getrlimit(which)
        resource.setrlimit(which, (hard, hard))


def _human_bytes(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024
    return f"{count} bytes"  # pragma: no cover


def _vm_peak() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def peak_memory_line() -> str:
    """What this process used at most, to choose ``training.limits.memory`` by."""
    peak = _vm_peak()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    space = "unknown" if peak is None else _human_bytes(peak)
    return (
        f"peak address space {space} (what training.limits.memory bounds), "
        f"peak RSS {_human_bytes(rss)}"
    )


def limit_reached(exc: BaseException) -> str | None:
    """If ``exc`` (or what caused it) is a run's limit being hit, the line that names the
    limit and the figure reached (the reserve above the limit is taken first, so the result
    can be written); else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CpuLimitReached) and "cpu_seconds" in _applied:
            _release_reserve()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return (
                f"stopped at the CPU limit of {_applied['cpu_seconds']:,} s "
                f"(training.limits.cpu_seconds): it used {usage.ru_utime + usage.ru_stime:,.1f} s"
                " of CPU"
            )
        if isinstance(current, MemoryError) and "memory" in _applied:
            _release_reserve()
            peak = _vm_peak()
            reached = "" if peak is None else f": its address space reached {_human_bytes(peak)}"
            return (
                f"stopped at the memory limit of {_human_bytes(_applied['memory'])} "
                f"(training.limits.memory){reached}"
            )
        if (
            isinstance(current, OSError)
            and current.errno == errno.EMFILE
            and "open_files" in _applied
        ):
            _release_reserve()
            try:
                count = len(os.listdir("/proc/self/fd")) - 1  # less the listing's own
                reached = f": {count:,} files were open"
            except OSError:
                reached = ""
            return (
                f"stopped at the open files limit of {_applied['open_files']:,} "
                f"(training.limits.open_files){reached}"
            )
        current = current.__cause__ or current.__context__
    return None


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(parent_pid: int | None) -> None:
    """SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform == "linux":
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(70)  # the parent died before the prctl: nobody waits for this run


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def enter_namespace() -> str | None:
    """Unshare a user, PID and mount namespace (mapping this user onto itself); None if it
    worked, else why not (the containment falls back to the process group)."""
    if sys.platform != "linux":
        return f"not Linux ({sys.platform})"
    uid, gid = os.geteuid(), os.getegid()
    libc = _libc()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        return f"user namespace map: {exc.strerror}"
    return None


def _mount_own_proc() -> bool:
    """A /proc of the namespace's own processes (so os.getpid() and /proc agree); best
    effort: without it, /proc still shows this process as /proc/self. Whether it worked."""
    libc = _libc()
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    return bool(libc.mount(b"proc", b"/proc", b"proc", flags, None) == 0)


def run_contained(
    train: Callable[[bool], int], parent_pid: int | None, limits: Mapping[str, int | None]
) -> int:
    """Run ``train`` (the training process's work; its argument says whether /proc shows
    only the run's own processes) contained as the module docstring says, under
    ``limits``; return the exit code (or end by the same signal as the training process)."""
    die_with_parent(parent_pid)
    apply_limits(limits)
    why_not = enter_namespace()
    if why_not is not None:
        print(f"containment: {GROUP_ONLY} ({why_not})", file=sys.stderr, flush=True)
        return train(False)
    print(
        f"containment: {NAMESPACE} (every process train.py starts ends with the run)",
        file=sys.stderr,
        flush=True,
    )
    # The training process sees the keeper's end as the end of this pipe.
    keeper_alive, keeper_side = os.pipe()
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # PID 1 of the new namespace: its init, which reaps
        os.close(keeper_side)
        os.close(status_read)
        try:
            die_with_parent(None)
            if select.select([keeper_alive], [], [], 0)[0]:
                os._exit(70)  # the keeper died before the prctl
            os.close(keeper_alive)
            own_proc = _mount_own_proc()
            status = _init(lambda: train(own_proc))
            os.write(status_write, str(status).encode())
        finally:
            os._exit(0)
    os.close(keeper_alive)
    os.close(status_write)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the parent ends the run, with SIGKILL
    status = _wait(pid)
    told = os.read(status_read, 64)
    if told:  # how the training process ended, as its init saw it
        status = int(told)
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # these two cannot be handled
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status)


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _init(train: Callable[[], int]) -> int:
    """PID 1's work: fork the training process (PID 2: a process like any other, which its
    own signals can kill; PID 1 ignores them), reap every orphan until it ends, and return
    its wait status. Returning ends PID 1, and the kernel then kills what is left."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            die_with_parent(1)
            code = train()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1 << 8
        if reaped == pid:
            return status


class CpuLimitReached(BaseException):
    """The training process used its CPU seconds (``training.limits.cpu_seconds``)."""


def _cpu_limit_reached(signum: int, frame: Any) -> None:
    raise CpuLimitReached()


def training_pid(keeper_pid: int) -> int | None:
    """The training process the keeper ``keeper_pid`` forked (None if it has none)."""
    try:
        with open(f"/proc/{keeper_pid}/task/{keeper_pid}/children", encoding="ascii") as handle:
            children = handle.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def train_in(workdir: str, sandbox_plan: Mapping[str, Any] | None, own_proc: bool) -> int:
    """The training process's work: its sandbox (training/sandbox.py) entered before
    anything of the project is read, the limits this process applied made known to the
    package's copy of this module (the keeper runs it as a script), SIGXCPU turned into
    :class:`CpuLimitReached` (a line that names the limit), then ``child.run``."""
    from pathlib import Path

    from goldenpath.training import sandbox

    if sandbox_plan is not None:
        try:
            line = sandbox.enforce(sandbox_plan, own_proc=own_proc)
        except OSError as exc:
            print(f"sandbox: cannot be set up: {exc}", file=sys.stderr, flush=True)
            return 71
        print(line, file=sys.stderr, flush=True)

    from goldenpath.training import child, containment

    containment._applied.update(_applied)
    signal.signal(signal.SIGXCPU, containment._cpu_limit_reached)
    return child.run(Path(workdir))


def main(argv: list[str]) -> int:
    """``WORKDIR [PARENT_PID]``: keep the run's training process, under the request's limits."""
    import json

    workdir = argv[0]
    parent = int(argv[1]) if len(argv) > 1 else None
    with open(os.path.join(workdir, "request.json"), encoding="utf-8") as handle:
        request = json.load(handle)
    return run_contained(
        lambda own_proc: train_in(workdir, request.get("sandbox"), own_proc),
        parent,
        request.get("limits") or {},
    )


if __name__ == "__main__":
    # Run as a script (python .../containment.py), so that nothing of goldenpath is imported
    # before the namespace is entered (it must be single-threaded) and the keeper stays small;
    # its folder is not a place to import from.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main(sys.argv[1:]))
