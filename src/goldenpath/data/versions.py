"""What the dataset service returns: versions, listings and ingest results (with JSON forms)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from goldenpath.core.humanize import plural
from goldenpath.data.schema import SchemaChanges

if TYPE_CHECKING:
    from goldenpath.data.validation import ValidationReport


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset: what it holds and where it came from."""

    dataset: str
    version: int
    id: str
    mode: str
    row_count: int
    batch_rows: int
    quarantined_rows: int
    schema: list[dict[str, Any]]
    schema_changes: dict[str, Any]
    fingerprint: str
    source: dict[str, Any]
    contract_sha256: str | None
    created_at: datetime
    created_by: str
    delta_version: int
    # The fingerprint of the batch that made this version (None: recorded before it existed).
    batch_fingerprint: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ref"] = self.ref
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetVersion:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "created_at": datetime.fromisoformat(data["created_at"])})


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset in a listing."""

    name: str
    versions: int
    latest_version: int
    rows: int
    has_contract: bool
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSummary:
        return cls(
            **{
                **data,
                "created_at": datetime.fromisoformat(data["created_at"]),
                "updated_at": datetime.fromisoformat(data["updated_at"]),
            }
        )


@dataclass(frozen=True)
class IngestResult:
    """What an ingest produced.

    ``outcome`` is ``accepted`` (every row kept), ``quarantined`` (some rows held back) or
    ``unchanged``: the batch is already in the dataset, nothing was written, and ``version``
    is the version that holds it. ``warnings`` are things worth telling the user, such as a
    version recorded with no rows.
    """

    version: DatasetVersion
    outcome: str  # accepted | quarantined | unchanged
    report: ValidationReport | None
    schema_changes: SchemaChanges
    warnings: tuple[str, ...] = ()

    @property
    def unchanged(self) -> bool:
        """Whether the batch was already in the dataset (nothing was written)."""
        return self.outcome == "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version.as_dict(),
            "ref": self.version.ref,
            "outcome": self.outcome,
            "validation": self.report.as_dict() if self.report else None,
            "schema_changes": self.schema_changes.as_dict(),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestResult:
        from goldenpath.data.validation import ValidationReport

        report = data["validation"]
        return cls(
            DatasetVersion.from_dict(data["version"]),
            data["outcome"],
            ValidationReport.from_dict(report) if report else None,
            SchemaChanges(**data["schema_changes"]),
            tuple(data.get("warnings", ())),
        )


@dataclass(frozen=True)
class PendingCheck:
    """The table rules that pushes left pending, checked over the rows they pushed.

    ``versions``: the pushed versions whose rows were checked together (``rows`` of them);
    ``report``: the table rules' results (None when the dataset has no contract any more).
    """

    dataset: str
    versions: list[int]
    rows: int
    report: ValidationReport | None

    @property
    def passed(self) -> bool:
        return self.report is None or self.report.passed

    def summary(self) -> str:
        """``transactions: table rules over 3 pushed rows (@4, @5): ...``."""
        where = ", ".join(f"@{n}" for n in self.versions)
        what = "no rules to check" if self.report is None else self.report.summary()
        rows = plural(self.rows, "pushed row")
        return f"{self.dataset}: table rules over {rows} ({where}): {what}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "versions": list(self.versions),
            "rows": self.rows,
            "passed": self.passed,
            "report": None if self.report is None else self.report.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingCheck:
        from goldenpath.data.validation import ValidationReport

        report = data.get("report")
        return cls(
            data["dataset"],
            list(data["versions"]),
            data["rows"],
            None if report is None else ValidationReport.from_dict(report),
        )
