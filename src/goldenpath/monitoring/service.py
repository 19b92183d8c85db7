"""``ws.monitoring``: judge a window of a deployment's served traffic against each version's
reference profile, and read the figures back (docs/monitoring.md).

``run(name, window=...)`` reads the last ``window`` of the prediction log (by its hour
partitions, at most ``limits.monitor_window_rows_max`` rows: ``window.py``), computes each
version's drift and quality figures (``figures.py``, ``drift.py``) with their verdicts
(``verdicts.py``) and writes them to ``monitoring_figures`` in one transaction, so trends
read without the log. Both calls need ``deployment.read`` and ``prediction.read`` on the
deployment's project: the figures are derived from predictions. A deployment's supervisor
runs the same call as the deployment's own principal every ``monitor.interval``.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from goldenpath.core.clock import utcnow
from goldenpath.core.config import parse_seconds
from goldenpath.core.errors import GoldenpathError, InvalidInput, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.governance.access import AccessControl
from goldenpath.monitoring import figures as figures_module
from goldenpath.monitoring import verdicts
from goldenpath.monitoring.window import read_window
from goldenpath.serving.spec import folder_of
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import deployments, monitoring_figures

PROFILE_FORMAT = "goldenpath.reference-profile/1"
FIGURES_LIMIT_MAX = 10_000


@dataclass(frozen=True)
class MonitorReport:
    """One window's figures for each version the deployment served in it (or serves now)."""

    deployment: str
    window_start: datetime
    window_end: datetime
    rows: int  # predictions read in the window
    capped: bool  # limits.monitor_window_rows_max stopped the read
    partitions: list[str]
    files_read: int
    versions: list[figures_module.VersionFigures] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdicts.worst(v.verdict for v in self.versions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "rows": self.rows,
            "capped": self.capped,
            "partitions": self.partitions,
            "files_read": self.files_read,
            "verdict": self.verdict,
            "versions": [v.as_dict() for v in self.versions],
        }


def parse_window(window: timedelta | str) -> timedelta:
    """A window as a ``timedelta``: ``"1h"``, ``"30m"``, ``"90s"`` or a ``timedelta``, from
    1 second to 24 hours; :class:`InvalidInput` naming it otherwise."""
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
        if not 1 <= seconds <= 86_400:
            raise InvalidInput(
                f"window {window} is out of range: from 1s to 24h", hint="e.g. --window 1h"
            )
        return window
    try:
        return timedelta(seconds=parse_seconds(window, what="window"))
    except ValueError as exc:
        raise InvalidInput(str(exc), hint="e.g. --window 1h, --window 15m") from None


class MonitoringService:
    def __init__(
        self,
        store: MetadataStore,
        home: Path,
        access: AccessControl,
        deployments: Any,
        models: Any,
        limits: Limits,
    ) -> None:
        self._store = store
        self._home = home
        self._access = access
        self._deployments = deployments
        self._models = models
        self._limits = limits

    def run(
        self,
        name: str,
        window: timedelta | str = timedelta(hours=1),
        *,
        min_samples: int = verdicts.MIN_SAMPLES,
        now: datetime | None = None,
    ) -> MonitorReport:
        """Judge the last ``window`` of deployment ``name``'s predictions (ending ``now``,
        default the current time) and record the figures; the report."""
        span = parse_window(window)
        if type(min_samples) is not int or min_samples < 1:
            raise InvalidInput(f"min_samples must be a whole number >= 1, got {min_samples!r}")
        if now is not None and now.utcoffset() is None:
            raise InvalidInput("now must be timezone-aware", hint="e.g. datetime.now(UTC)")
        info = self._deployments.get(name)
        self._access.require("prediction.read", info.project)
        end = now or utcnow()
        start = end - span
        read = read_window(
            str(self._deployments.table_path(info.name)),
            folder_of(self._home, info.name) / "spool",
            start,
            end,
            self._limits.monitor_window_rows_max,
        )
        import pyarrow.compute as pc

        found = sorted(set(read.rows["model_version"].to_pylist()))
        served = [info.primary_version]
        if info.candidate_version is not None:
            served.append(info.candidate_version)
        versions = list(dict.fromkeys([*served, *found]))
        profiles = {v: self._profile(info.model, v) for v in versions}
        results = []
        for version in versions:
            rows = read.rows.filter(pc.equal(read.rows["model_version"], version))
            figures = figures_module.compute(
                rows, version, profiles[version], min_samples=min_samples
            )
            if not rows.num_rows:
                role = "primary" if version == info.primary_version else (info.candidate_mode or "")
                figures = figures_module.VersionFigures(
                    version, role, 0, figures.verdict, figures.figures
                )
            results.append(figures)
        if info.candidate_mode == "canary" and info.candidate_version is not None:
            results.append(
                self._canary(read.rows, info.primary_version, info.candidate_version, min_samples)
            )
        report = MonitorReport(
            info.name,
            start,
            end,
            read.rows.num_rows,
            read.capped,
            list(read.partitions),
            read.files_read,
            results,
        )
        self._record(info.name, report)
        return report

    @staticmethod
    def _canary(
        rows: Any, primary: int, candidate: int, min_samples: int
    ) -> figures_module.VersionFigures:
        """The canary against the primary on this window (``canary.py``), as the candidate's
        figures with subject ``canary`` and kind ``canary``."""
        import pyarrow.compute as pc

        from goldenpath.monitoring import canary

        def side(version: int) -> tuple[list[float], list[int], list[float]]:
            mine = rows.filter(pc.equal(rows["model_version"], version))
            scores = [
                s
                for s in (figures_module.score_of(o) for o in mine["output"].to_pylist())
                if s is not None
            ]
            codes = [int(s) for s in mine["status"].to_pylist() if s is not None]
            latency = [float(x) for x in mine["latency_ms"].to_pylist() if x is not None]
            return scores, codes, latency

        p_scores, p_codes, p_latency = side(primary)
        c_scores, c_codes, c_latency = side(candidate)
        result, found = canary.compare(
            p_scores, c_scores, p_codes, c_codes, p_latency, c_latency, min_samples=min_samples
        )
        figures = [
            figures_module.Figure(canary.SUBJECT, canary.SUBJECT, metric, value, result)
            for metric, value in found.items()
        ]
        return figures_module.VersionFigures(
            candidate, "canary", min(len(p_codes), len(c_codes)), result, figures
        )

    def _profile(self, model: str, version: int) -> dict[str, Any]:
        ref = f"{model}@{version}"
        try:
            profile = self._models.profile(ref)
        except NotFound as exc:
            raise InvalidInput(
                f"{ref} has no reference profile to compare its traffic with ({exc})",
                hint="register the version with its validation data (gp train does); "
                "a version without a profile cannot be monitored",
            ) from None
        except GoldenpathError:
            raise
        if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
            raise InvalidInput(
                f"{ref} has no reference profile this monitor reads (format "
                f"{profile.get('format') if isinstance(profile, dict) else None!r}, expected "
                f"{PROFILE_FORMAT})",
                hint="register the version again with this release",
            )
        return profile

    def _record(self, name: str, report: MonitorReport) -> None:
        now = utcnow()
        with self._store.begin() as conn:
            deployment_id = conn.execute(
                select(deployments.c.id).where(deployments.c.name == name)
            ).scalar_one()
            rows = [
                {
                    "id": new_id(),
                    "deployment_id": deployment_id,
                    "window_start": report.window_start,
                    "window_end": report.window_end,
                    "computed_at": now,
                    "model_version": version.model_version,
                    "role": version.role[:8],
                    "samples": version.samples,
                    "subject": figure.subject[:128],
                    "kind": figure.kind,
                    "metric": figure.metric,
                    "value": figure.value,
                    "verdict": figure.verdict,
                }
                for version in report.versions
                for figure in version.figures
            ]
            if rows:
                conn.execute(monitoring_figures.insert(), rows)

    def figures(
        self,
        name: str,
        *,
        since: datetime | None = None,
        metric: str | None = None,
        subject: str | None = None,
        limit: int = 1_000,
    ) -> builtins.list[dict[str, Any]]:
        """Recorded figures of deployment ``name``, newest window first (at most ``limit``);
        ``since`` keeps windows that ended at or after it."""
        if type(limit) is not int or not 1 <= limit <= FIGURES_LIMIT_MAX:
            raise InvalidInput(f"limit must be 1-{FIGURES_LIMIT_MAX}, got {limit!r}")
        if since is not None and since.utcoffset() is None:
            raise InvalidInput("since must be timezone-aware", hint="e.g. datetime.now(UTC)")
        info = self._deployments.get(name)
        self._access.require("prediction.read", info.project)
        t = monitoring_figures
        query = (
            select(t)
            .join(deployments, deployments.c.id == t.c.deployment_id)
            .where(deployments.c.name == info.name)
        )
        if since is not None:
            query = query.where(t.c.window_end >= since)
        if metric is not None:
            query = query.where(t.c.metric == metric)
        if subject is not None:
            query = query.where(t.c.subject == subject)
        query = query.order_by(t.c.window_end.desc(), t.c.id).limit(limit)
        with self._store.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [
            {
                "window_start": r["window_start"].isoformat(),
                "window_end": r["window_end"].isoformat(),
                "computed_at": r["computed_at"].isoformat(),
                "model_version": r["model_version"],
                "role": r["role"],
                "samples": r["samples"],
                "subject": r["subject"],
                "kind": r["kind"],
                "metric": r["metric"],
                "value": r["value"],
                "verdict": r["verdict"],
            }
            for r in found
        ]
