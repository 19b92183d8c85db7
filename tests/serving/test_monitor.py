"""The monitor (goldenpath.monitoring) on a real deployment, here beside the serving fixtures:
traffic drawn from the reference profile shows no drift, shifted traffic shows drift on exactly
the shifted inputs, a small window judges nothing, the figures land in the table, and the
supervisor's monitor writes them unasked."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import goldenpath
from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.monitoring import verdicts
from goldenpath.serving.spec import folder_of
from goldenpath.workspace import Workspace
from tests.serving.conftest import post

NAME = "t-monitor"
INPUTS = ("currency", "amount", "tx_count_1h", "amount_mean_7d")


@pytest.fixture(scope="module")
def monitored(serving_home: Path) -> Iterator[Any]:
    """fraud@1 deployed with its monitor every second over the last minute."""
    saved = {k: os.environ.get(k) for k in ("GP_HOME", "GP_MONITOR_INTERVAL", "GP_MONITOR_WINDOW")}
    os.environ.update(
        {"GP_HOME": str(serving_home), "GP_MONITOR_INTERVAL": "1s", "GP_MONITOR_WINDOW": "1m"}
    )
    try:
        with goldenpath.connect(serving_home, actor="alice") as ws:
            info = ws.deployments.deploy("fraud@1", NAME)
            try:
                yield info
            finally:
                ws.deployments.stop(NAME)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def sample_rows(ws: Workspace) -> list[dict[str, Any]]:
    """The reference profile's sample rows with every input present."""
    sample = ws.models.profile("fraud@1")["sample"]
    rows = [
        dict(zip(INPUTS, values, strict=True))
        for values in zip(*(sample[n] for n in INPUTS), strict=True)
    ]
    return [r for r in rows if all(v is not None and v == v for v in r.values())]


def send(url: str, rows: list[dict[str, Any]], batch: int = 500) -> None:
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        inputs = [
            {
                "name": name,
                "shape": [len(chunk), 1],
                "datatype": "BYTES" if name == "currency" else "FP64",
                "data": [r[name] for r in chunk],
            }
            for name in INPUTS
        ]
        answer = post(f"{url}/v2/models/fraud/infer", {"inputs": inputs})
        assert answer.status_code == 200, answer.text


def judged(ws: Workspace, start: datetime, rows: int, **kwargs: Any) -> Any:
    """The report of the window from ``start`` to now, once the log holds ``rows`` rows of it
    (the server spools every 0.5 s)."""
    deadline = time.monotonic() + 20
    while True:
        end = max(datetime.now(UTC), start + timedelta(seconds=1))  # windows are >= 1 s
        report = ws.monitoring.run(NAME, window=end - start, now=end, **kwargs)
        if report.rows >= rows:
            return report
        assert time.monotonic() < deadline, f"only {report.rows} of {rows} rows were logged"
        time.sleep(0.2)


def by_feature(version: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for f in version.figures:
        found.setdefault(f.subject, {})[f.metric] = (f.value, f.verdict)
    return found


def drifted(version: Any) -> set[str]:
    return {
        f.subject for f in version.figures if f.kind == "feature" and f.verdict == verdicts.DRIFT
    }


def test_traffic_like_the_reference_shows_no_drift(sws: Workspace, monitored: Any) -> None:
    rows = sample_rows(sws)
    assert len(rows) >= 300
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    send(monitored.url, rows)
    report = judged(sws, start, len(rows))
    assert report.rows == len(rows) and not report.capped
    [version] = report.versions
    assert version.model_version == 1 and version.role == "primary"
    assert version.samples == len(rows)
    assert drifted(version) == set(), version
    figures = by_feature(version)
    for name in ("amount", "tx_count_1h", "amount_mean_7d"):
        psi, verdict = figures[name]["psi"]
        assert psi is not None and psi < 0.1 and verdict == verdicts.OK, (name, psi)
    assert figures["currency"]["unseen_share"][0] == 0.0
    assert figures["currency"]["js_distance"][0] < 0.1
    assert figures["score"]["psi"][0] < 0.1
    assert figures["*"]["error_rate"][0] == 0.0
    assert figures["*"]["latency_p99_ms"][0] > 0
    # The figures are in the table, as reported.
    stored = sws.monitoring.figures(NAME, since=report.window_end)
    mine = {
        (r["subject"], r["metric"]): r
        for r in stored
        if r["window_end"] == report.window_end.isoformat() and r["samples"] == len(rows)
    }
    for f in version.figures:
        row = mine[(f.subject, f.metric)]
        assert row["verdict"] == f.verdict and row["model_version"] == 1
        assert (row["value"] is None and f.value is None) or math.isclose(row["value"], f.value)


def test_shifted_amount_and_an_unseen_currency_drift_and_nothing_else(
    sws: Workspace, monitored: Any
) -> None:
    rows = [{**r, "amount": r["amount"] * 5 + 500.0, "currency": "JPY"} for r in sample_rows(sws)]
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    send(monitored.url, rows)
    report = judged(sws, start, len(rows))
    [version] = report.versions
    assert version.samples == len(rows)
    assert drifted(version) == {"amount", "currency"}, by_feature(version)
    assert version.verdict == verdicts.DRIFT and report.verdict == verdicts.DRIFT
    figures = by_feature(version)
    assert figures["amount"]["psi"][0] > 0.2
    assert figures["amount"]["wasserstein"][0] > 1.0  # more than a standard deviation
    assert figures["currency"]["unseen_share"] == (1.0, verdicts.DRIFT)
    assert figures["currency"]["js_distance"][1] == verdicts.DRIFT
    assert figures["tx_count_1h"]["psi"][1] == verdicts.OK


def test_fewer_rows_than_the_minimum_judge_nothing(sws: Workspace, monitored: Any) -> None:
    rows = sample_rows(sws)[:40]
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    send(monitored.url, [{**r, "currency": "JPY"} for r in rows])
    report = judged(sws, start, len(rows))
    [version] = report.versions
    assert version.samples == 40
    assert version.verdict == verdicts.NOT_ENOUGH
    assert {f.verdict for f in version.figures} == {verdicts.NOT_ENOUGH}
    # The same rows with a minimum they meet are judged: the unseen currency is drift.
    report = ws_run(sws, start, min_samples=10)
    assert by_feature(report.versions[0])["currency"]["unseen_share"][1] == verdicts.DRIFT


def ws_run(ws: Workspace, start: datetime, **kwargs: Any) -> Any:
    end = max(datetime.now(UTC), start + timedelta(seconds=1))
    return ws.monitoring.run(NAME, window=end - start, now=end, **kwargs)


def test_the_supervisors_monitor_writes_figures_unasked(
    sws: Workspace, monitored: Any, serving_home: Path
) -> None:
    folder = folder_of(serving_home, NAME)
    send(monitored.url, sample_rows(sws)[:50])
    seen = datetime.now(UTC)
    deadline = time.monotonic() + 60
    while True:
        status = (
            json.loads((folder / "monitor.json").read_text())
            if (folder / "monitor.json").exists()
            else {}
        )
        if status.get("runs", 0) >= 1 and status.get("last_run_at", "") > seen.isoformat():
            break
        assert time.monotonic() < deadline, f"the monitor never ran: {status}"
        time.sleep(0.2)
    assert status["failures"] == 0, status
    written = sws.monitoring.figures(NAME, since=seen)
    assert written and {r["model_version"] for r in written} == {1}


def test_bad_input_is_a_clear_error(sws: Workspace, monitored: Any) -> None:
    with pytest.raises(NotFound, match="no deployment named 'nope'"):
        sws.monitoring.run("nope")
    with pytest.raises(InvalidInput, match="is not a duration"):
        sws.monitoring.run(NAME, window="an hour")
    with pytest.raises(InvalidInput, match="out of range"):
        sws.monitoring.run(NAME, window="48h")
    with pytest.raises(InvalidInput, match="out of range"):
        sws.monitoring.run(NAME, window=timedelta(0))
    with pytest.raises(InvalidInput, match="min_samples"):
        sws.monitoring.run(NAME, min_samples=0)
    with pytest.raises(InvalidInput, match="limit"):
        sws.monitoring.figures(NAME, limit=0)


def test_gp_monitor_prints_a_table_per_version_and_clear_errors(
    sws: Workspace, monitored: Any, serving_home: Path
) -> None:
    from tests.serving.test_cli_deploy import gp

    rows = sample_rows(sws)[:150]
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    send(monitored.url, rows)
    judged(sws, start, len(rows))  # logged by now
    shown = gp(serving_home, "monitor", NAME, "--window", "1h")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"{NAME}: " in out and "v1 (primary): " in out, out
    for word in ("psi", "js_distance", "unseen_share", "wasserstein", "ks_pvalue", "score"):
        assert word in out, out
    for rate in ("missing_feature_rate", "out_of_contract_rate", "error_rate", "latency_p99_ms"):
        assert rate in out, out
    as_json = json.loads(gp(serving_home, "monitor", NAME, "--window", "15m", "--json").stdout)
    assert as_json["deployment"] == NAME and as_json["versions"][0]["samples"] >= 150
    unknown = gp(serving_home, "monitor", "nope")
    assert unknown.returncode == NotFound.exit_code
    assert "no deployment named 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr
    for window, message in (
        ("soon", "is not a duration"),
        ("2d", "is not a duration"),
        ("25h", "out of range"),
    ):
        bad = gp(serving_home, "monitor", NAME, "--window", window)
        assert bad.returncode == InvalidInput.exit_code, bad.stderr
        assert message in bad.stderr and "Traceback" not in bad.stderr


def test_a_monitor_that_dies_is_restarted_and_serving_goes_on(
    sws: Workspace, monitored: Any, serving_home: Path
) -> None:
    import signal

    folder = folder_of(serving_home, NAME)

    def status() -> dict[str, Any]:
        try:
            return dict(json.loads((folder / "monitor.json").read_text()))
        except (OSError, ValueError):
            return {}

    deadline = time.monotonic() + 60
    while "pid" not in status():
        assert time.monotonic() < deadline, "the monitor never wrote its status"
        time.sleep(0.2)
    first = status()["pid"]
    os.kill(first, signal.SIGKILL)
    send(monitored.url, sample_rows(sws)[:20])  # serving does not notice
    deadline = time.monotonic() + 60
    while status().get("pid") in (first, None):
        assert time.monotonic() < deadline, "the supervisor never restarted its monitor"
        time.sleep(0.2)
    send(monitored.url, sample_rows(sws)[:20])
    assert sws.deployments.get(NAME).status == "running"


def test_a_canary_is_compared_with_its_primary_on_the_same_window(sws: Workspace) -> None:
    name = "t-monitor-canary"
    sws.deployments.deploy("fraud@1", name)
    try:
        info = sws.deployments.deploy("fraud@2", name, canary=50)
        rows = sample_rows(sws)
        start = datetime.now(UTC) - timedelta(milliseconds=5)
        send(info.url, rows, batch=5)  # V2 without a version: each request split by its id
        deadline = time.monotonic() + 20
        while True:
            end = max(datetime.now(UTC), start + timedelta(seconds=1))
            report = sws.monitoring.run(name, window=end - start, now=end)
            if report.rows >= len(rows):
                break
            assert time.monotonic() < deadline, report.rows
            time.sleep(0.2)
        roles = [(v.model_version, v.role) for v in report.versions]
        assert roles[:2] == [(1, "primary"), (2, "canary")]
        [analysis] = [v for v in report.versions if v.figures and v.figures[0].kind == "canary"]
        assert analysis.model_version == 2 and analysis.samples >= verdicts.MIN_SAMPLES
        assert analysis.verdict in ("pass", "fail")
        metrics = {f.metric: f.value for f in analysis.figures}
        assert set(metrics) == {"error_rate_delta", "latency_p99_ratio", "score_psi"}
        assert metrics["error_rate_delta"] == 0.0 and metrics["score_psi"] is not None
        stored = sws.monitoring.figures(name, subject="canary", since=report.window_end)
        assert {r["verdict"] for r in stored} == {analysis.verdict}
    finally:
        sws.deployments.stop(name)
