"""Deterministic sample data for the quickstart and the docs: card transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

START = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
SPAN = timedelta(days=300)  # the timestamps of one call: START .. START + SPAN


def transactions(
    rows: int = 5_000,
    *,
    seed: int = 7,
    bad_rows: int = 12,
    first_id: int = 0,
    start: datetime = START,
    span: timedelta = SPAN,
) -> pa.Table:
    """Card transactions with a fraud label; ``bad_rows`` of them break the contract.

    Ids run from ``tx_{first_id:06d}`` and times from ``start`` over ``span`` (default
    :data:`SPAN`), so a later batch (``first_id=rows, start=START + SPAN``) follows the first
    without overlap.
    """
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 500, rows)
    amount = np.round(rng.lognormal(3.5, 1.0, rows), 2)
    # Fraud is rare and likelier the larger the amount: a signal a model can learn.
    fraud = rng.random(rows) < 0.01 + 0.04 * (amount > 60) + 0.25 * (amount > 200)
    currency = rng.choice(np.array(["EUR", "USD", "GBP"]), rows, p=[0.6, 0.3, 0.1]).astype(object)
    offsets = np.sort(rng.integers(0, int(span.total_seconds()), rows))
    ts = np.array([start + timedelta(seconds=int(s)) for s in offsets], dtype="datetime64[us]")
    tx_id = np.array([f"tx_{i:06d}" for i in range(first_id, first_id + rows)], dtype=object)
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
