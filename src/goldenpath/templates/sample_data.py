"""Deterministic sample data for the quickstart and the docs: card transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa


def transactions(rows: int = 5_000, *, seed: int = 7, bad_rows: int = 12) -> pa.Table:
    """Card transactions with a fraud label; ``bad_rows`` of them break the contract."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    users = rng.integers(1, 500, rows)
    amount = np.round(rng.lognormal(3.5, 1.0, rows), 2)
    fraud = rng.random(rows) < 0.02 + 0.1 * (amount > 300)
    currency = rng.choice(np.array(["EUR", "USD", "GBP"]), rows, p=[0.6, 0.3, 0.1]).astype(object)
    offsets = np.sort(rng.integers(0, 300 * 24 * 3600, rows))
    ts = np.array([start + timedelta(seconds=int(s)) for s in offsets], dtype="datetime64[us]")
    tx_id = np.array([f"tx_{i:06d}" for i in range(rows)], dtype=object)
    # Plant a few contract violations so the quickstart shows quarantine at work.
    bad = rng.choice(rows, size=min(bad_rows, rows), replace=False)
    for k, index in enumerate(bad):
        if k % 3 == 0:
            amount[index] = -amount[index]
        elif k % 3 == 1:
            currency[index] = "XXX"
        else:
            tx_id[index] = tx_id[(index + 1) % rows]
    return pa.table(
        {
            "tx_id": pa.array(tx_id, pa.string()),
            "user_id": pa.array(users, pa.int64()),
            "amount": pa.array(amount, pa.float64()),
            "currency": pa.array(currency, pa.string()),
            "ts": pa.array(ts, pa.timestamp("us")),
            "is_fraud": pa.array(fraud, pa.bool_()),
        }
    )
