"""Concurrent writers of one small file never trip on each other (a checkpoint written by the
server and the CLI at once made the second writer's rename fail)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from goldenpath.core.atomic import write_atomically


def test_concurrent_writers_all_succeed_and_one_whole_version_wins(tmp_path: Path) -> None:
    target = tmp_path / "audit-checkpoint.json"
    versions = [f"writer {i}\n".encode() * 200 for i in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(50):
                write_atomically(target, data, mode=0o644)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() in versions
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_a_secret_is_written_owner_only(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    write_atomically(key, b"secret")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
