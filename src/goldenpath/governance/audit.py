"""The audit trail: one hash-chained row per state change, in the same transaction as it.

``record`` appends an event linked to the previous one (``core/audit_chain.py``); the database
refuses updates and deletes of audit rows (triggers, migration 0002). ``AuditService.verify``
(``audit_verify.py``) re-computes the chain and pinpoints edited, deleted, inserted and
reordered events; ``checkpoint`` signs the head with a key kept outside the database
(``audit_keys.py``), so that cutting off the newest events is detected too, and
``export_checkpoint`` hands out a copy to keep elsewhere as an anchor.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, func, select

from goldenpath.core import signing
from goldenpath.core.actor import Actor
from goldenpath.core.atomic import write_atomically
from goldenpath.core.audit_chain import GENESIS, canonical_time, chain_hash
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.progress import Progress
from goldenpath.core.redact import redact, redact_value, suspicious
from goldenpath.governance.audit_findings import AuditProblem, AuditVerification
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import audit_checkpoints, audit_events

if TYPE_CHECKING:
    # The keys and the verifier load cryptography (~30 ms): only checkpoints, rotation and
    # verification import them, so a command that only records events does not pay for it.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from goldenpath.governance.audit_keys import AuditKeys

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
__all__ = ["AuditEvent", "AuditProblem", "AuditService", "AuditVerification", "record"]


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
    """Reading, verifying, checkpointing, exporting the audit trail; rotating its key."""

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

    @cached_property
    def _keys(self) -> AuditKeys:
        from goldenpath.governance.audit_keys import AuditKeys

        return AuditKeys(self._key_file)

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
        database and beside the key; return the checkpoint, with the public key, so that a copy
        kept elsewhere can anchor a later ``verify``.

        The key is made here only for a workspace that never had one; a missing or replaced
        key is an error (``rotate_key`` replaces it on purpose)."""
        self._require("audit.checkpoint")
        at = utcnow().isoformat()
        with self._store.connect() as conn:
            ever = self._keys.history_file.exists() or self._head_file.exists() or _had_key(conn)
            signer = conn.execute(
                select(audit_checkpoints.c.key_id).order_by(audit_checkpoints.c.seq.desc()).limit(1)
            ).scalar()
        # Under the key lock, so a rotation cannot land between loading the key and recording
        # which key signed (exclusive when the first key is made: two must not race).
        with self._keys.locked(exclusive=not ever):
            point, previous, public = self._sign_checkpoint(at, ever, signer)
        from goldenpath.governance.audit_keys import public_record

        point = {**point, **public_record(public), "previous": previous}
        write_atomically(self._head_file, (json.dumps(point, indent=2) + "\n").encode(), mode=0o644)
        return point

    def _sign_checkpoint(
        self, at: str, ever: bool, signer: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None, Ed25519PublicKey]:
        """Load (or, for a workspace that never had one, make) the key; record and sign."""
        key = self._keys.signing_key() if ever else self._keys.create_first(at)
        public = key.public_key()
        if not self._keys.history_file.exists():
            # A workspace from before the key history: adopt its key only if it is the one
            # that signed the newest checkpoint.
            if signer is not None and signer != signing.key_id(public):
                raise Conflict(
                    f"the audit signing key {self._key_file} did not sign the newest "
                    f"checkpoint (key {signer[:16]})",
                    hint="restore the right key (check GP_AUDIT_KEY); if it is lost: "
                    "gp audit rotate-key --old-key-lost",
                )
            self._keys.create_first(at)
        with self._store.begin() as conn:
            last = conn.execute(
                select(audit_checkpoints.c.seq, audit_checkpoints.c.signature)
                .order_by(audit_checkpoints.c.seq.desc())
                .limit(1)
            ).first()
            # The previous checkpoint goes into this checkpoint's event, which its signature
            # covers: each checkpoint vouches for the one before it.
            previous = (
                {"seq": last.seq, "digest": signing.signature_digest(last.signature)}
                if last is not None
                else None
            )
            kid = signing.key_id(public)
            details = {"key_id": kid, "previous": previous}
            record(conn, self._actor, "audit.checkpoint", "audit", "trail", details)
            head = conn.execute(_HEAD).one()
            count = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
            message = signing.checkpoint_message(head.seq, count, head.hash, at)
            point = {
                "id": new_id(),
                "seq": head.seq,
                "count": count,
                "head_hash": head.hash,
                "at": at,
                "key_id": kid,
                "signature": key.sign(message).hex(),
            }
            conn.execute(
                audit_checkpoints.insert().values(**{**point, "at": datetime.fromisoformat(at)})
            )
        return point, previous, public

    def rotate_key(self, *, old_key_lost: bool = False) -> dict[str, Any]:
        """Replace the signing key on purpose: the old public key stays in the key history so
        older checkpoints still verify, the old key vouches for the new one, the rotation is
        an audit event, and a first checkpoint is signed with the new key.

        With the old key missing or not the workspace's, refuses unless ``old_key_lost``."""
        self._require("audit.rotate_key")
        with self._keys.locked(exclusive=True):
            rotation = self._keys.rotate(utcnow().isoformat(), old_key_lost=old_key_lost)
            try:
                with self._store.begin() as conn:
                    record(
                        conn,
                        self._actor,
                        "audit.key.rotate",
                        "audit",
                        "signing-key",
                        {
                            "old_key_id": rotation.old_key_id,
                            "new_key_id": rotation.new_key_id,
                            "endorsed": rotation.endorsed,
                        },
                    )
            except BaseException:
                rotation.undo()  # no audit event, no rotation
                raise
        return {
            "old_key_id": rotation.old_key_id,
            "new_key_id": rotation.new_key_id,
            "endorsed": rotation.endorsed,
            "checkpoint": self.checkpoint(),
        }

    def export_checkpoint(self) -> dict[str, Any]:
        """The newest checkpoint with the public key that verifies it: a copy to keep outside
        the workspace and pass to ``verify(anchor=...)``."""
        self._require("audit.read")
        with self._store.connect() as conn:
            row = (
                conn.execute(
                    select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("no audit checkpoint yet", hint="sign one with: gp audit checkpoint")
        point = {**dict(row), "at": row["at"].isoformat()}
        notes: builtins.list[str] = []
        public = self._keys.inspect([], notes).known.get(point["key_id"])
        message = signing.checkpoint_message(
            point["seq"], point["count"], point["head_hash"], point["at"]
        )
        if public is None or not signing.signature_valid(public, point["signature"], message):
            raise Conflict(
                f"the newest checkpoint (#{point['seq']}) does not verify with this "
                "workspace's keys",
                hint="run gp audit verify to see why",
            )
        from goldenpath.governance.audit_keys import public_record

        return {**point, **public_record(public)}

    def verify(
        self, anchor: Mapping[str, Any] | None = None, *, progress: Progress | None = None
    ) -> AuditVerification:
        """Re-compute the hash chain and check it against the newest signed checkpoint, the
        checkpoints the trail recorded, the signing key, the append-only triggers and, if
        given, an external ``anchor`` (a checkpoint exported and kept elsewhere).
        ``progress`` hears how many events have been checked."""
        from goldenpath.governance.audit_verify import Verifier, parse_anchor

        self._require("audit.read")
        parsed = parse_anchor(anchor) if anchor is not None else None
        return Verifier(self._store, self._keys, self._head_file).verify(parsed, progress)


def _had_key(conn: Connection) -> bool:
    """Whether the trail or the database says this workspace has had a signing key."""
    if conn.execute(select(audit_checkpoints.c.seq).limit(1)).first() is not None:
        return True
    actions = ("audit.checkpoint", "audit.key.rotate")
    if conn.execute(
        select(audit_events.c.seq).where(audit_events.c.action.in_(actions)).limit(1)
    ).first():
        return True
    init = conn.execute(
        select(audit_events.c.details).where(audit_events.c.action == "workspace.init").limit(1)
    ).scalar()
    return isinstance(init, dict) and "audit_key" in init
