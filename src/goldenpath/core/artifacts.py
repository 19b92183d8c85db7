"""Content-addressed artifacts (model files, run logs, reports) under the storage root.

A file lives at ``<storage>/artifacts/sha256/<first two hex digits>/<sha256>``. It is written
under a temporary name in the same directory, fsynced and renamed, so a reader never sees part
of one, and two writers of the same bytes end with the same single file. The metadata database
records a digest only after :meth:`ArtifactStore.put_bytes` or :meth:`ArtifactStore.put_file`
has returned, so every recorded digest names a whole, durable file (a crash between the two
leaves at most an unreferenced file, never a reference to a missing one).

Reading checks the bytes against their name: a file changed on disk is refused, not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from goldenpath.core.atomic import fsync_dir
from goldenpath.core.errors import Conflict, InvalidInput, NotFound

_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    """A stored artifact: its sha256 (hex) and size in bytes."""

    digest: str
    size: int


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Content-addressed files under ``storage_root/artifacts``."""

    def __init__(self, storage_root: Path) -> None:
        self.root = storage_root / "artifacts" / "sha256"

    def path(self, digest: str) -> Path:
        """Where the artifact ``digest`` lives (whether or not it exists)."""
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise InvalidInput(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_bytes(self, data: bytes) -> Artifact:
        """Store ``data``; return its address. Storing the same bytes twice is one file."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.path(digest).is_file():
            self._store(lambda out: out.write(data), lambda: digest)
        return Artifact(digest, len(data))

    def put_file(self, source: Path) -> Artifact:
        """Store a copy of the file ``source`` (streamed, hashed as it is copied)."""
        hasher = hashlib.sha256()
        size = 0

        def copy(out: BinaryIO) -> None:
            nonlocal size
            with source.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                    out.write(chunk)

        digest = self._store(copy, hasher.hexdigest)
        return Artifact(digest, size)

    def _store(self, write: Callable[[BinaryIO], object], digest: Callable[[], str]) -> str:
        """Write to a temporary file beside the store, fsync it, rename it to its address
        (``digest()``, asked once the bytes are written) and fsync the directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            name = digest()
            target = self.path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return name

    def read_bytes(self, digest: str) -> bytes:
        """The artifact's bytes, after checking they still hash to ``digest``."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"artifact {digest[:12]}… is missing from {self.root}",
                hint="the storage root was changed or cleaned by hand; restore it from a backup",
            ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise Conflict(
                f"artifact {digest[:12]}… at {path} does not match its sha256: it was changed "
                "on disk, and is not used",
                hint="restore the file from a backup",
            )
        return data
