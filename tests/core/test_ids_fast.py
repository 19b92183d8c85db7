"""``fast_id`` makes ULIDs: valid, time-ordered, unique."""

from __future__ import annotations

import time

from ulid import ULID

from goldenpath.core.ids import fast_id


def test_fast_ids_are_ulids_of_now_unique_and_ordered() -> None:
    before = int(time.time() * 1000)
    ids = [fast_id() for _ in range(10_000)]
    after = int(time.time() * 1000)
    assert len(set(ids)) == len(ids)
    for text in ids[:500]:
        parsed = ULID.from_str(text)
        assert str(parsed) == text and len(text) == 26
        assert before <= parsed.milliseconds <= after
    assert [i[:10] for i in ids] == sorted(i[:10] for i in ids)  # the time part never goes back
