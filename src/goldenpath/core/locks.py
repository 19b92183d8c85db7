"""The one file lock: an advisory ``flock`` on a lock file, released by the OS if its holder
dies (a killed writer never leaves a lock behind, unlike a lock made by creating a file).

It serialises writers across processes *and* threads: each :func:`file_lock` opens the file
anew, and ``flock`` locks conflict between open file descriptions even in one process. Used
for a dataset's and a training set's writers, a prediction log's flush and the audit key.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, *, shared: bool = False, mode: int = 0o644) -> Iterator[None]:
    """Hold the lock on ``path`` (created with permissions ``mode`` if missing) until the block
    ends: exclusive, or ``shared`` with other shared holders. Blocks until it is granted.

    Opening the file raises ``OSError`` before anything is held (a missing directory, no
    permission): callers that can do without the lock catch that."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
