"""Content-addressed artifacts: one file per content, whole or absent, checked on read."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath.core.artifacts import ArtifactStore
from goldenpath.core.errors import Conflict, InvalidInput, NotFound


def test_the_same_bytes_are_one_file_by_either_path(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    first = store.put_bytes(b"model bytes")
    source = tmp_path / "model.bin"
    source.write_bytes(b"model bytes")
    assert store.put_file(source) == first == store.put_bytes(b"model bytes")
    assert store.read_bytes(first.digest) == b"model bytes" and first.size == 11
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [first.digest]


def test_a_file_changed_on_disk_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    stored = store.put_bytes(b"onnx graph")
    store.path(stored.digest).write_bytes(b"another graph")
    with pytest.raises(Conflict, match="does not match its sha256"):
        store.read_bytes(stored.digest)
    store.path(stored.digest).unlink()
    with pytest.raises(NotFound, match="missing"):
        store.read_bytes(stored.digest)


def test_a_failed_write_leaves_no_file_and_a_bad_address_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "no-such-file")
    assert not [p for p in store.root.rglob("*") if p.is_file()]
    for bad in ("../../etc/passwd", "A" * 64, "ab"):
        with pytest.raises(InvalidInput):
            store.path(bad)
