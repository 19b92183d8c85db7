"""What ``train.py`` may touch: a scrubbed environment and, on Linux, a Landlock sandbox.

The training process runs contributors' code. It gets:

* **an environment of its own** (:func:`child_environment`): the locale, ``PATH``, the
  thread-count variables the numeric libraries read, ``TMPDIR`` and ``HOME`` inside its
  work dir, and the names ``training.environment`` in gp.yaml passes on. Nothing else: not
  ``GP_TOKEN``, ``GP_AUDIT_KEY``, cloud credentials or database URLs.
* **a filesystem view** (:func:`enforce`, Landlock, kernel 5.13+): its work dir read-write;
  the project folder, the Python installation (every ``sys.path`` entry and prefix) and the
  system's libraries and ``/etc`` read-only; nothing of the workspace (``GP_HOME``, its
  storage, its database, the audit key), even where one of those lies inside an allowed
  folder: that folder is then allowed entry by entry around it.
* **no network** unless ``training.network: true``: Landlock ABI 4+ refuses TCP bind and
  connect; ABI 6+ also keeps it from signalling processes outside the run and from abstract
  Unix sockets. Unix sockets bound at a path (a local PostgreSQL's) are outside what
  Landlock restricts: docs/security.md says so.

Where Landlock is missing (an older kernel, not Linux, disabled), the run log says so in its
first lines and the run records it; the environment is scrubbed either way. This module is
imported by the keeper's training process before anything of the project: standard library
only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Passed on to train.py: what the locale, the numeric libraries and Python itself read.
PASSED = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "PYTHONPATH",  # how a test harness or an installation finds its packages
    "PYTHONHASHSEED",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "SOURCE_DATE_EPOCH",
)
PASSED_PREFIXES = ("LC_",)
# Never passed on, even when training.environment names them.
SECRET_PREFIXES = ("GP_",)

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, by the ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_ABI1 = (1 << 13) - 1
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR
READ_EXECUTE = READ | EXECUTE

# Read-only beside the Python installation: the system's libraries and configuration.
SYSTEM_READ = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys")
DEVICES_READ = ("/dev/urandom", "/dev/random", "/dev/zero")
DEVICES_WRITE = ("/dev/null", "/dev/shm")  # /dev/shm: multiprocessing's semaphores
RULES_MAX = 2000
BOUNDARY = (
    "the training sandbox: train.py reads only its project and Python, writes only its work "
    "dir (its current directory), and has no network unless training.network: true; "
    "see docs/security.md"
)
# Whether this process entered the sandbox (so a PermissionError is the sandbox's doing).
enforced = False


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def child_environment(
    workdir: Path | str, passed: Iterable[str] = (), source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The training process's environment: :data:`PASSED`, ``LC_*``, the names in
    ``passed`` (``training.environment``) from ``source`` (``os.environ``), never a
    ``GP_*`` one; ``HOME`` and ``TMPDIR`` inside ``workdir``."""
    source = os.environ if source is None else source
    wanted = set(PASSED) | set(passed)
    env = {
        key: value
        for key, value in source.items()
        if (key in wanted or key.startswith(PASSED_PREFIXES))
        and not key.startswith(SECRET_PREFIXES)
    }
    env.setdefault("PATH", os.defpath)
    env["HOME"] = str(Path(workdir) / "home")
    env["TMPDIR"] = str(Path(workdir) / "tmp")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def python_paths() -> list[str]:
    """Where this Python finds its standard library and packages."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    found += [os.path.dirname(os.path.realpath(sys.executable))]
    found += [entry for entry in sys.path if entry]
    return _existing(found)


def _existing(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for path in paths:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in out:
            out.append(real)
    return out


def plan(
    workdir: Path,
    project_dir: Path,
    protected: Sequence[Path | str],
    *,
    network: bool,
) -> dict[str, Any]:
    """What the sandbox allows, as JSON for the training request: ``write`` (the work dir),
    ``read`` (project, Python, system), ``protected`` (never allowed), ``network``."""
    return {
        "write": [os.path.realpath(workdir)],
        "read": _existing([str(project_dir), *python_paths(), *SYSTEM_READ]),
        "protected": sorted({os.path.realpath(p) for p in protected}),
        "network": network,
    }


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def allowed_roots(root: str, protected: Sequence[str]) -> list[str]:
    """``root``, or, where a protected path lies inside it, every entry of it around the
    protected ones (down to the protected path itself, which is left out)."""
    if any(_inside(root, p) for p in protected):
        return []  # root is itself protected, or inside a protected folder
    if not any(_inside(p, root) for p in protected):
        return [root]
    out: list[str] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        out.extend(allowed_roots(os.path.join(root, entry.name), protected))
        if len(out) > RULES_MAX:
            raise OSError(
                f"{root} holds a protected path among more than {RULES_MAX:,} entries: "
                "move the workspace (GP_HOME) out of the project or Python folders"
            )
    return out


def _libc() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _syscall(libc: Any, number: int, *args: Any) -> int:
    """``syscall(number, *args)`` with every integer passed as a full C long (a variadic
    call would pass a Python int as a 32-bit int)."""
    wide = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return int(libc.syscall(ctypes.c_long(number), *wide))


def abi_version() -> tuple[int, str | None]:
    """(the kernel's Landlock ABI, None) or (0, why there is none)."""
    if sys.platform != "linux":
        return 0, f"not Linux ({sys.platform})"
    version = _syscall(_libc(), SYS_LANDLOCK_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    if version < 0:
        errno = ctypes.get_errno()
        why = "disabled at boot" if errno == 95 else os.strerror(errno)  # EOPNOTSUPP
        return 0, f"Landlock is not available ({why})"
    return int(version), None


def describe(*, network: bool) -> dict[str, Any]:
    """What a run on this machine is held to, as recorded in its environment: ``landlock``
    (the ABI, 0 if none), ``filesystem`` and ``network`` (held or not), ``reason`` (why
    not, if not)."""
    abi, why_not = abi_version()
    return {
        "landlock": abi,
        "filesystem": abi > 0,
        "network": "on" if network else ("off" if abi >= 4 else "not restricted"),
        "reason": why_not,
    }


def summary() -> str:
    """One line for ``gp status``: what training runs are held to here."""
    abi, why_not = abi_version()
    if why_not is not None:
        return f"environment scrubbed only; {why_not}"
    network = "and network" if abi >= 4 else "(network not restricted: needs ABI 4)"
    return f"Landlock ABI {abi}: filesystem {network}"


def _fs_rights(abi: int) -> int:
    rights = FS_ABI1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def enforce(sandbox: Mapping[str, Any], *, own_proc: bool) -> str:
    """Restrict this process (and all it starts) to ``sandbox`` (from :func:`plan`); return
    the line for the run log that says what holds (or that nothing does, and why).
    ``own_proc``: /proc shows only the run's own processes (a PID namespace with its own
    /proc), so it may be read; otherwise only this process's own /proc entry."""
    network = bool(sandbox.get("network"))
    abi, why_not = abi_version()
    if why_not is not None:
        return f"sandbox: none: {why_not}; train.py can read and write what you can"
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4 and not network:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    libc = _libc()
    ruleset = _syscall(libc, SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return f"sandbox: none: landlock_create_ruleset: {os.strerror(ctypes.get_errno())}"
    try:
        protected = list(sandbox.get("protected", ()))
        rules: list[tuple[str, int]] = [(p, handled) for p in sandbox["write"]]
        for root in sandbox["read"]:
            rules += [(p, READ_EXECUTE) for p in allowed_roots(root, protected)]
        rules += [(p, READ) for p in DEVICES_READ]
        rules += [(p, READ | WRITE_FILE | MAKE_REG | REMOVE_FILE) for p in DEVICES_WRITE]
        rules.append(("/proc" if own_proc else f"/proc/{os.getpid()}", READ))
        for path, rights in rules:
            _add_rule(libc, ruleset, path, rights & handled)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"sandbox: none: no_new_privs: {os.strerror(ctypes.get_errno())}"
        if _syscall(libc, SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return f"sandbox: none: landlock_restrict_self: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(ruleset)
    global enforced
    enforced = True
    if network:
        net = "network on (training.network: true)"
    elif abi >= 4:
        net = "network off (TCP)"
    else:
        net = f"network not restricted (needs Landlock ABI 4, the kernel has {abi})"
    return (
        f"sandbox: Landlock ABI {abi}: writes only its work dir, reads the project and "
        f"Python, nothing of the workspace; {net}"
    )


def _add_rule(libc: Any, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not there (an optional system folder): nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        attr = _PathBeneathAttr(rights, fd)
        added = _syscall(
            libc, SYS_LANDLOCK_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(attr), 0
        )
        if added != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)
