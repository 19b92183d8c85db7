from __future__ import annotations

import threading
from pathlib import Path

import goldenpath
from tests.conftest import write


def test_concurrent_appends_are_serialised_without_losing_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with goldenpath.connect(home, create=True, actor="admin") as admin:
        for worker in range(3):
            admin.principals.add(f"worker{worker}", kind="service")
            admin.access.grant("contributor", f"worker{worker}", project="default")
    errors: list[BaseException] = []

    def ingest(worker: int) -> None:
        try:
            with goldenpath.connect(home, actor=f"worker{worker}") as ws:
                for batch in range(3):
                    path = write(
                        tmp_path / f"w{worker}-{batch}.csv",
                        f"worker,batch\n{worker},{batch}\n{worker},{batch}\n",
                    )
                    ws.datasets.ingest("shared", path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with goldenpath.connect(home, actor="admin") as ws:
        history = ws.datasets.history("shared")
        assert [v.version for v in history] == list(range(1, 10))
        assert [v.row_count for v in history] == [2 * n for n in range(1, 10)]
        assert ws.datasets.read("shared").num_rows == 18
