from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goldenpath.core.errors import InvalidName
from goldenpath.core.names import Ref, parse_ref, validate_name


@pytest.mark.parametrize("name", ["a", "transactions", "fraud-2024", "user_events", "a" * 63])
def test_valid_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        *["", "../x", "a b", "a" * 64, "a" * 300, "Upper", "1abc", "-x", "x/y", "x.y", "é"],
        # Trailing characters after a valid prefix: ``$`` matches before a final newline, so
        # only a full match refuses these (NAME_PATTERN.match would accept "tx\n").
        *["tx\n", "tx\r\n", "tx\x00", "tx\x00../../etc", "tx ", "tx\t", "tx!", "tx/", "tx."],
        *["tx\u200b", "tx\u0661", "a" * 63 + "\n", "\ntx", "tx\nrm"],
    ],
)
def test_invalid_names_are_refused_with_a_hint(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        validate_name(name, kind="dataset name")
    assert "invalid dataset name" in caught.value.message
    assert caught.value.hint
    assert caught.value.exit_code == 2


@given(st.text(max_size=80))
def test_accepted_names_stay_under_the_root(name: str) -> None:
    root = Path("/srv/storage")
    try:
        validate_name(name)
    except InvalidName:
        return
    assert (root / name).resolve().parent == root


def test_parse_ref() -> None:
    assert parse_ref("tx") == Ref("tx")
    assert parse_ref("tx@3") == Ref("tx", 3)
    assert str(Ref("tx", 3)) == "tx@3"


def test_versions_up_to_the_32_bit_limit_are_accepted() -> None:
    assert parse_ref("tx@2147483647") == Ref("tx", 2**31 - 1)
    assert parse_ref("tx@007") == Ref("tx", 7)


@pytest.mark.parametrize(
    "ref",
    [
        *["tx@0", "tx@x", "tx@", "tx@-1", "tx@1.5", "../tx@1", "tx\n@1", "tx@1\n", "tx@ 1"],
        # Too large for the metadata's 32-bit version columns (was a traceback / HTTP 500).
        *["tx@2147483648", "tx@99999999999999999999999", "tx@" + "9" * 5000],
        # Digits that are not ASCII (str.isdigit() accepts them all; int() refuses "³").
        *["tx@\u0663", "tx@\uff13", "tx@\u00b3", "tx@1\u0663", "tx@\U0001d7d9"],
    ],
)
def test_bad_refs_are_refused(ref: str) -> None:
    with pytest.raises(InvalidName) as caught:
        parse_ref(ref)
    assert caught.value.exit_code == 2
    assert caught.value.hint
    assert len(caught.value.message) < 200  # a huge reference is not echoed back whole
