"""The audit signing key and its history, kept beside it, outside the metadata database.

The key is made once: when the workspace is created (or by the first checkpoint of a workspace
that never had one). After that only :meth:`AuditKeys.rotate` replaces it, and the history file
(``audit-ed25519.keys.json`` beside ``audit-ed25519.pem``) keeps every retired public key so
older checkpoints still verify. Each new key is vouched for by the one it replaces (an
Ed25519 signature over the new public key) unless the operator declared the old key lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from goldenpath.core import signing
from goldenpath.core.atomic import write_atomically
from goldenpath.core.errors import Conflict, GoldenpathError, InvalidInput, NotFound
from goldenpath.core.locks import file_lock


@dataclass(frozen=True)
class KeyRecord:
    """One signing key the workspace has had: its public half and when it served."""

    key_id: str
    public_key: str  # raw bytes, hex
    created_at: str
    retired_at: str | None = None
    endorsed_by: str | None = None  # the key it replaced, if that key vouched for it
    endorsement: str | None = None  # that key's signature of signing.endorsement_message

    @classmethod
    def of(cls, key: Ed25519PrivateKey, at: str) -> KeyRecord:
        public = key.public_key()
        return cls(signing.key_id(public), signing.public_hex(public), at)


@dataclass(frozen=True)
class KeyState:
    """What verification learns about the keys: the current one and every known public key."""

    current_id: str | None
    current_error: str | None  # why the current key could not be loaded
    active_id: str | None  # the history's current key
    known: dict[str, Ed25519PublicKey]
    history_exists: bool


@dataclass(frozen=True)
class Rotation:
    """A finished key rotation, and how to undo its files if the audit event cannot be written."""

    old_key_id: str | None
    new_key_id: str
    endorsed: bool
    undo: Callable[[], None]


class AuditKeys:
    """The signing key at ``key_file`` and its history beside it."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self.history_file = key_file.with_suffix(".keys.json")

    @contextmanager
    def locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold ``<key>.lock``: exclusive while a rotation (or the first key) changes the files
        and records its event; shared while a checkpoint signs or verify reads, so neither
        sees a rotation half done. Without a key directory there is nothing to race with."""
        with ExitStack() as held:
            try:
                if exclusive:
                    self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                path = self.key_file.with_suffix(".lock")
                lock = file_lock(path, shared=not exclusive, mode=0o600)
                held.enter_context(lock)
            except OSError:
                pass  # no key directory (or not ours to write): nothing to race with
            yield

    # -- history ---------------------------------------------------------------------------

    def history(self) -> list[KeyRecord]:
        """Every key the workspace has had, oldest first (empty if there is no history)."""
        try:
            data = json.loads(self.history_file.read_text(encoding="utf-8"))
            return [KeyRecord(**record) for record in data["keys"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(
                f"the audit key history {self.history_file} is unreadable: {exc}",
                hint="restore it from a backup",
            ) from None

    def _write_history(self, records: list[KeyRecord]) -> None:
        text = json.dumps({"keys": [asdict(r) for r in records]}, indent=2) + "\n"
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomically(self.history_file, text.encode(), mode=0o644)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write the audit key history {self.history_file}: {exc.strerror or exc}",
                hint="check GP_AUDIT_KEY and the permissions of its directory",
            ) from None

    # -- the key -----------------------------------------------------------------------------

    def create_first(self, at: str) -> Ed25519PrivateKey:
        """The workspace's first key: made now, or adopted if one is already at the path (a
        ``GP_AUDIT_KEY`` prepared by the operator, or a workspace from before the history)."""
        if self.key_file.exists():
            key = signing.load_key(self.key_file)
        else:
            key = Ed25519PrivateKey.generate()
            signing.write_key(self.key_file, key)
        if not self.history():
            self._write_history([KeyRecord.of(key, at)])
        return key

    def signing_key(self) -> Ed25519PrivateKey:
        """The current key, only if it is the one the history names as current."""
        key = signing.load_key(self.key_file)
        records = self.history()
        current = signing.key_id(key.public_key())
        active = _active(records)
        if active is not None and active.key_id != current:
            raise Conflict(
                f"the audit signing key {self.key_file} (key {current[:16]}) is not the "
                f"workspace's key {active.key_id[:16]} (see {self.history_file})",
                hint="restore the right key (check GP_AUDIT_KEY); if it is lost: "
                "gp audit rotate-key --old-key-lost",
            )
        return key

    def rotate(self, at: str, *, old_key_lost: bool = False) -> Rotation:
        """Replace the key with a new one, keeping the old public key in the history."""
        records = self.history()
        active = _active(records)
        old: Ed25519PrivateKey | None = None
        try:
            old = self.signing_key()
        except GoldenpathError as exc:
            if (active is not None or self.key_file.exists()) and not old_key_lost:
                raise Conflict(
                    f"cannot rotate the audit key: {exc.message}",
                    hint="restore the key and retry, or if it is lost for good: "
                    "gp audit rotate-key --old-key-lost (the rotation is audited)",
                ) from None
        if old is not None and active is None:  # a key from before the history: adopt it
            active = KeyRecord.of(old, at)
            records = [active]
        new = Ed25519PrivateKey.generate()
        record = KeyRecord.of(new, at)
        if old is not None and active is not None:
            message = signing.endorsement_message(record.key_id, record.public_key, at)
            record = KeyRecord(
                record.key_id,
                record.public_key,
                at,
                endorsed_by=active.key_id,
                endorsement=old.sign(message).hex(),
            )
        retired = [
            KeyRecord(**{**asdict(r), "retired_at": at}) if r.retired_at is None else r
            for r in records
        ]
        undo = self._snapshot()
        try:
            self._write_history([*retired, record])
            signing.write_key(self.key_file, new)
        except BaseException:
            undo()
            raise
        return Rotation(active.key_id if active else None, record.key_id, old is not None, undo)

    def _snapshot(self) -> Callable[[], None]:
        """A function that puts the key and the history back as they are now."""
        saved = {path: _read(path) for path in (self.key_file, self.history_file)}

        def undo() -> None:
            for path, data in saved.items():
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomically(path, data, mode=0o600)

        return undo

    # -- verification ------------------------------------------------------------------------

    def inspect(self, problems: list[str], notes: list[str]) -> KeyState:
        """The keys as verification sees them; appends what is wrong with the history."""
        current_id, current_error = None, None
        known: dict[str, Ed25519PublicKey] = {}
        try:
            current = signing.load_key(self.key_file).public_key()
            current_id = signing.key_id(current)
        except NotFound:
            current_error = (
                f"the audit signing key {self.key_file} is missing "
                "(deleted, or GP_AUDIT_KEY not set as when the workspace was created)"
            )
        except GoldenpathError as exc:
            current_error = exc.message
        try:
            records = self.history()
        except GoldenpathError as exc:
            problems.append(exc.message)
            records = []
        previous: KeyRecord | None = None
        for record in records:
            try:
                public = signing.public_from_hex(record.public_key)
            except InvalidInput:
                problems.append(f"key {record.key_id[:16]} in {self.history_file} is malformed")
                continue
            if signing.key_id(public) != record.key_id:
                problems.append(f"key {record.key_id[:16]} in {self.history_file} is altered")
                continue
            known[record.key_id] = public
            if previous is not None:
                _check_endorsement(record, previous, known, problems, notes)
            previous = record
        active = _active(records)
        if current_id is not None and (not records or current_id in known):
            known.setdefault(current_id, current)
        return KeyState(
            current_id,
            current_error,
            active.key_id if active else None,
            known,
            self.history_file.exists(),
        )


def _check_endorsement(
    record: KeyRecord,
    previous: KeyRecord,
    known: dict[str, Ed25519PublicKey],
    problems: list[str],
    notes: list[str],
) -> None:
    if record.endorsement is None:
        notes.append(
            f"key {record.key_id[:16]} replaced {previous.key_id[:16]} at {record.created_at} "
            "without its endorsement (rotated with --old-key-lost)"
        )
        return
    message = signing.endorsement_message(record.key_id, record.public_key, record.created_at)
    endorser = known.get(record.endorsed_by or "")
    if endorser is None or not signing.signature_valid(endorser, record.endorsement, message):
        problems.append(
            f"key {record.key_id[:16]} claims an endorsement by {str(record.endorsed_by)[:16]} "
            "that does not verify: the key history was forged"
        )


def _active(records: list[KeyRecord]) -> KeyRecord | None:
    live = [r for r in records if r.retired_at is None]
    return live[-1] if live else None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def public_record(key: Ed25519PublicKey) -> dict[str, Any]:
    """The public key fields an exported checkpoint carries, so it verifies on its own."""
    return {"key_id": signing.key_id(key), "public_key": signing.public_hex(key)}
