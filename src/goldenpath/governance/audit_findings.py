"""What a broken audit trail looks like, in words: each finding names its kind and event.

``AuditService.verify`` (``governance/audit.py``) collects the facts in one pass over the trail;
the functions here turn them into :class:`AuditProblem` findings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from goldenpath.core.audit_chain import GENESIS


@dataclass(frozen=True)
class AuditProblem:
    """One sign of tampering: its kind, the event it is seen at, and what it means."""

    # edited | deleted | inserted | reordered | truncated | checkpoint | key | guard | anchor
    kind: str
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
    anchor: dict[str, Any] | None = None  # the external checkpoint it was checked against

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
            data.get("anchor"),
        )


def diagnose_links(rows: list[tuple[int, str, str]]) -> list[AuditProblem]:
    """Explain each broken link of ``(seq, prev_hash, hash)`` rows, in seq order: which events
    were deleted, inserted or reordered."""
    seqs = [r[0] for r in rows]
    position = {digest: i for i, (_, _, digest) in enumerate(rows)}
    referenced = {prev for _, prev, _ in rows}
    problems: list[AuditProblem] = []
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


def checkpoint_problems(
    point: dict[str, Any], head_seq: int, cp_hash: str | None, cp_count: int, label: str
) -> list[AuditProblem]:
    """How the trail fails to reach or match a signed checkpoint (``label`` names it: "the
    checkpoint signed at ..." or "the anchor signed at ...")."""
    seq, count = int(point["seq"]), int(point["count"])
    if head_seq < seq:
        return [
            AuditProblem(
                "truncated",
                seq,
                f"the trail ends at #{head_seq}, but {label} covers up to #{seq} ({count} events)",
            )
        ]
    problems = []
    if cp_hash is None:
        problems.append(
            AuditProblem("deleted", seq, f"event #{seq}, the head of {label}, is missing")
        )
    elif cp_hash != point["head_hash"]:
        problems.append(
            AuditProblem(
                "edited",
                seq,
                f"the chain up to #{seq} differs from {label}: it was rewritten",
            )
        )
    if cp_count < count:
        problems.append(
            AuditProblem(
                "deleted",
                seq,
                f"{count - cp_count} of the {count} events covered by {label} are gone",
            )
        )
    return problems
