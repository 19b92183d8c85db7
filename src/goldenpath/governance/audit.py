"""The audit trail: one hash-chained row per state change, in the same transaction as it.

``record`` appends an event linked to the previous one (``core/audit_chain.py``); the database
refuses updates and deletes of audit rows (triggers, migration 0002). ``AuditService.verify``
re-computes the chain and pinpoints edited, deleted, inserted and reordered events;
``checkpoint`` signs the head with a key kept outside the database, so that cutting off the
newest events is detected too.
"""

from __future__ import annotations

import builtins
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, func, select

from goldenpath.core import signing
from goldenpath.core.actor import Actor
from goldenpath.core.audit_chain import GENESIS, canonical_time, chain_hash
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict
from goldenpath.core.ids import new_id
from goldenpath.core.redact import redact, redact_value, suspicious
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import audit_checkpoints, audit_events

# The append: one statement, one round trip. It inserts the event as ``seq = head + 1`` only if
# the head it links to is still there (``EXISTS``) and no other event took that place (``ON
# CONFLICT (seq) DO NOTHING``, which on PostgreSQL waits for a concurrent writer of the same
# place to commit or roll back). So the chain can never fork or link to a rolled-back event,
# without a lock; a writer that loses the race re-reads the head and tries again. It is driver
# SQL, run as is: SQLAlchemy's statement machinery cost more than the statement itself on
# SQLite (benchmarks/RESULTS.md).
_APPEND = """
INSERT INTO audit_events (seq, id, at, actor, action, object_type, object_ref, details,
                          prev_hash, hash)
SELECT {seq}, {id}, {at}, {actor}, {action}, {object_type}, {object_ref}, {details},
       {prev_hash}, {hash}
WHERE {linked}
ON CONFLICT (seq) DO NOTHING
"""
_LINKED = "EXISTS (SELECT 1 FROM audit_events WHERE seq = {link_seq} AND hash = {link_hash})"
_FIRST = "NOT EXISTS (SELECT 1 FROM audit_events)"
_PARAMS = [
    "seq",
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_ref",
    "details",
    "prev_hash",
    "hash",
    "link_seq",
    "link_hash",
]


def _append_sql(dialect: str, first: bool) -> str:
    style = "%({})s" if dialect == "postgresql" else ":{}"  # psycopg's and sqlite3's named style
    names = {name: style.format(name) for name in _PARAMS}
    if dialect == "postgresql":
        names["details"] = f"CAST({names['details']} AS JSON)"
    linked = _FIRST if first else _LINKED.format(**names)
    return _APPEND.format(linked=linked, **names)


_APPENDS = {
    (dialect, first): _append_sql(dialect, first)
    for dialect in ("sqlite", "postgresql")
    for first in (False, True)
}
_HEAD = select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
# The head each engine last appended: a hint that saves the head query (a stale one only costs
# a retry, since the statement checks it).
_HEADS: WeakKeyDictionary[Engine, tuple[int, str]] = WeakKeyDictionary()
_MAX_ATTEMPTS = 1000
_COLUMNS = "seq, id, at, actor, action, object_type, object_ref, details, prev_hash, hash"


class AccessChecker(Protocol):
    """What the audit service needs of access control."""

    def require(self, permission: str, project: str | None = None) -> None: ...


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which object, and when; with its place in the hash chain."""

    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_ref: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


@dataclass(frozen=True)
class AuditProblem:
    """One sign of tampering: its kind, the event it is seen at, and what it means."""

    kind: str  # edited | deleted | inserted | reordered | truncated | checkpoint
    seq: int | None
    message: str


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the whole trail."""

    events: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblem]
    checkpoint: dict[str, Any] | None
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditVerification:
        return cls(
            data["events"],
            data["head_seq"],
            data["head_hash"],
            [AuditProblem(**p) for p in data["problems"]],
            data["checkpoint"],
            data["seconds"],
            data["notes"],
        )


def _details_text(details: Mapping[str, Any] | None) -> str:
    """The JSON text stored (and hashed) for ``details``, never holding a secret: the trail is
    exported to SIEMs and cannot be edited later."""
    text = json.dumps(dict(details or {}), default=str)
    if not suspicious(text):  # the common case: one regex search, no re-encoding
        return text
    return json.dumps(redact_value(json.loads(text)))


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    object_type: str,
    object_ref: str,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Append an audit event on ``conn`` (inside the caller's transaction); return its id."""
    event_id, at, body = new_id(), utcnow(), _details_text(details)
    object_ref = redact(object_ref)
    dialect, engine = conn.dialect.name, conn.engine
    params: dict[str, Any] = {
        "id": event_id,
        # SQLite stores the text SQLAlchemy would; psycopg sends the aware datetime.
        "at": canonical_time(at) if dialect == "sqlite" else at,
        "actor": actor.name,
        "action": action,
        "object_type": object_type,
        "object_ref": object_ref,
        "details": body,
    }
    head = _HEADS.get(engine)
    for _ in range(_MAX_ATTEMPTS):
        if head is None:
            head = conn.execute(_HEAD).one_or_none() or (0, GENESIS)
        prev_seq, prev_hash = head
        digest = chain_hash(
            prev_hash, event_id, at, actor.name, action, object_type, object_ref, body
        )
        params.update(
            seq=prev_seq + 1,
            prev_hash=prev_hash,
            hash=digest,
            link_seq=prev_seq,
            link_hash=prev_hash,
        )
        if conn.exec_driver_sql(_APPENDS[dialect, prev_seq == 0], params).rowcount == 1:
            _HEADS[engine] = (prev_seq + 1, digest)
            return event_id
        head = None  # another writer appended first, or the hint was stale: re-read the head
    raise Conflict(
        f"could not append to the audit trail after {_MAX_ATTEMPTS} attempts",
        hint="other writers keep appending first; retry the operation",
    )


class AuditService:
    """Reading, verifying, checkpointing and exporting the audit trail."""

    def __init__(
        self,
        store: MetadataStore,
        key_file: Path,
        actor: Actor,
        access: AccessChecker | None = None,
    ) -> None:
        self._store = store
        self._key_file = key_file
        self._actor = actor
        self._access = access

    def _require(self, permission: str) -> None:
        if self._access is not None:
            self._access.require(permission)

    @property
    def _head_file(self) -> Path:
        return self._key_file.with_name("audit-checkpoint.json")

    def list(
        self,
        *,
        limit: int = 50,
        action: str | None = None,
        object_ref: str | None = None,
        actor: str | None = None,
    ) -> builtins.list[AuditEvent]:
        """The newest ``limit`` events, newest first, optionally filtered."""
        self._require("audit.read")
        query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action:
            query = query.where(audit_events.c.action.startswith(action))
        if object_ref:
            query = query.where(audit_events.c.object_ref == object_ref)
        if actor:
            query = query.where(audit_events.c.actor == actor)
        with self._store.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEvent(**dict(row)) for row in rows]

    def export(self, out: IO[str], *, since: datetime | None = None) -> int:
        """Write events (oldest first, optionally from ``since``) as JSON Lines; return count."""
        self._require("audit.read")
        query = select(audit_events).order_by(audit_events.c.seq)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        count = 0
        with self._store.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query).mappings():
                out.write(json.dumps(AuditEvent(**dict(row)).as_dict(), sort_keys=True) + "\n")
                count += 1
        return count

    def checkpoint(self) -> dict[str, Any]:
        """Sign the chain's head (its seq, event count and hash) and store the signature in the
        database and beside the key; return the checkpoint."""
        self._require("audit.checkpoint")
        key = signing.load_or_create_key(self._key_file)
        with self._store.begin() as conn:
            record(conn, self._actor, "audit.checkpoint", "audit", "trail")
            head = conn.execute(
                select(audit_events.c.seq, audit_events.c.hash)
                .order_by(audit_events.c.seq.desc())
                .limit(1)
            ).one()
            count = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
            at = utcnow().isoformat()
            message = signing.checkpoint_message(head.seq, count, head.hash, at)
            point = {
                "id": new_id(),
                "seq": head.seq,
                "count": count,
                "head_hash": head.hash,
                "at": at,
                "key_id": signing.key_id(key.public_key()),
                "signature": key.sign(message).hex(),
            }
            conn.execute(
                audit_checkpoints.insert().values(**{**point, "at": datetime.fromisoformat(at)})
            )
        tmp = self._head_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(point, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self._head_file)
        return point

    def _latest_checkpoint(
        self, notes: builtins.list[str], problems: builtins.list[AuditProblem]
    ) -> dict[str, Any] | None:
        """The newest validly signed checkpoint, from the database or the file by the key."""
        candidates: builtins.list[dict[str, Any]] = []
        with self._store.connect() as conn:
            row = (
                conn.execute(
                    select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
                )
                .mappings()
                .first()
            )
        if row is not None:
            candidates.append({**dict(row), "at": row["at"].isoformat(), "from": "database"})
        if self._head_file.exists():
            try:
                candidates.append({**json.loads(self._head_file.read_text()), "from": "file"})
            except (OSError, ValueError):
                problems.append(
                    AuditProblem(
                        "checkpoint", None, f"the checkpoint file {self._head_file} is unreadable"
                    )
                )
        if not candidates:
            notes.append(
                "no checkpoint yet: a cut-off tail cannot be detected (run: gp audit checkpoint)"
            )
            return None
        if not self._key_file.exists():
            notes.append(f"the signing key {self._key_file} is missing: checkpoints not checked")
            return None
        public = signing.load_or_create_key(self._key_file).public_key()
        valid = []
        for point in candidates:
            message = signing.checkpoint_message(
                point["seq"], point["count"], point["head_hash"], point["at"]
            )
            if signing.signature_valid(public, point["signature"], message):
                valid.append(point)
            else:
                problems.append(
                    AuditProblem(
                        "checkpoint",
                        point["seq"],
                        f"the checkpoint in the {point['from']} has an invalid signature",
                    )
                )
        return max(valid, key=lambda p: int(p["seq"])) if valid else None

    def _rows(self, conn: Connection) -> Iterator[tuple[Any, ...]]:
        # The raw driver cursor: ~3x faster than ORM-style rows over a million events.
        result = conn.execution_options(stream_results=True, yield_per=10_000).exec_driver_sql(
            f"SELECT {_COLUMNS} FROM audit_events ORDER BY seq"
        )
        yield from result

    def verify(self) -> AuditVerification:
        """Re-compute the hash chain and compare the head with the newest signed checkpoint."""
        self._require("audit.read")
        started = time.perf_counter()
        problems: builtins.list[AuditProblem] = []
        notes: builtins.list[str] = []
        point = self._latest_checkpoint(notes, problems)
        cp_seq = int(point["seq"]) if point else -1
        cp_hash, cp_count = None, 0
        events, previous, broken, head_seq = 0, GENESIS, False, 0
        with self._store.connect() as conn:
            for seq, event_id, at, actor, action, otype, oref, details, prev, digest in self._rows(
                conn
            ):
                events += 1
                if chain_hash(prev, event_id, at, actor, action, otype, oref, details) != digest:
                    problems.append(
                        AuditProblem(
                            "edited",
                            seq,
                            f"event #{seq} was edited: its content no longer matches its hash",
                        )
                    )
                broken = broken or prev != previous
                if seq <= cp_seq:
                    cp_count += 1
                    if seq == cp_seq:
                        cp_hash = digest
                previous, head_seq = digest, seq
            if broken:
                problems.extend(self._diagnose_links(conn))
        if point is not None:
            problems.extend(_checkpoint_problems(point, head_seq, cp_hash, cp_count))
        return AuditVerification(
            events, head_seq, previous, problems, point, time.perf_counter() - started, notes
        )

    def _diagnose_links(self, conn: Connection) -> builtins.list[AuditProblem]:
        """Explain each broken link: which events were deleted, inserted or reordered."""
        rows = [(r[0], r[8], r[9]) for r in self._rows(conn)]
        seqs = [r[0] for r in rows]
        position = {digest: i for i, (_, _, digest) in enumerate(rows)}
        referenced = {prev for _, prev, _ in rows}
        problems: builtins.list[AuditProblem] = []
        for i, (seq, prev, _) in enumerate(rows):
            expected = rows[i - 1][2] if i else GENESIS
            if prev == expected:
                continue
            j = position.get(prev)
            if j is None and prev == GENESIS:
                problems.append(
                    AuditProblem(
                        "inserted", seq, f"event #{seq} claims to be the first event but is not"
                    )
                )
            elif j is None:
                before = seqs[i - 1] if i else 0
                if seq != before + 1:
                    problems.append(
                        AuditProblem(
                            "deleted",
                            seq,
                            f"events #{before + 1}..#{seq - 1} were deleted "
                            f"(#{seq} links to an event that is gone)",
                        )
                    )
                else:
                    problems.append(
                        AuditProblem(
                            "edited",
                            before,
                            f"event #{before} was rewritten, or an event after "
                            f"it deleted: #{seq} links to a hash no event has",
                        )
                    )
            elif j > i:
                problems.append(
                    AuditProblem(
                        "reordered", seq, f"event #{seq} links to #{seqs[j]}, which comes after it"
                    )
                )
            else:
                between = range(j + 1, i)
                orphans = [k for k in between if rows[k][2] not in referenced]
                if orphans and len(orphans) == len(between):
                    problems.extend(
                        AuditProblem(
                            "inserted",
                            seqs[k],
                            f"event #{seqs[k]} was inserted: no event links to it",
                        )
                        for k in orphans
                    )
                else:
                    problems.append(
                        AuditProblem(
                            "reordered",
                            seq,
                            f"event #{seq} links to #{seqs[j]}, not to #{seqs[i - 1]} before it",
                        )
                    )
        return problems


def _checkpoint_problems(
    point: dict[str, Any], head_seq: int, cp_hash: str | None, cp_count: int
) -> list[AuditProblem]:
    seq, count = int(point["seq"]), int(point["count"])
    if head_seq < seq:
        return [
            AuditProblem(
                "truncated",
                seq,
                f"the trail ends at #{head_seq}, but a checkpoint "
                f"signed at {point['at']} covers up to #{seq} ({count} events)",
            )
        ]
    problems = []
    if cp_hash is None:
        problems.append(
            AuditProblem(
                "deleted",
                seq,
                f"event #{seq}, the head of the checkpoint signed at {point['at']}, is missing",
            )
        )
    elif cp_hash != point["head_hash"]:
        problems.append(
            AuditProblem(
                "edited",
                seq,
                f"the chain up to #{seq} differs from the "
                f"checkpoint signed at {point['at']}: it was rewritten",
            )
        )
    if cp_count < count:
        problems.append(
            AuditProblem(
                "deleted",
                seq,
                f"{count - cp_count} of the {count} events "
                f"covered by the checkpoint signed at {point['at']} are gone",
            )
        )
    return problems
