"""Versioned datasets (Delta Lake) with data contracts, validation, quarantine and profiles.

The service lives in :mod:`goldenpath.data.service` (``ws.datasets``); this package module
stays light so that importing it does not load the data engines.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["append", "overwrite"]
"""How an ingest combines a batch with the previous version."""
