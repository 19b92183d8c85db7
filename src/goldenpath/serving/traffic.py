"""The versions a deployment serves and how requests are split between them.

A :class:`Traffic` is immutable: a reload builds a new one (models loaded, plans checked) and
the server swaps one reference, so a request sees either the old versions or the new, and no
request fails during a swap. With a canary, a request goes to the candidate when its entity
key's bucket (CRC-32 of the canonical key, mod 100) is below the canary percentage: the same
entity always meets the same version. A shadow candidate is scored after the answer is sent,
logged, and never returned: not by the split, and not when a request names its version
(:meth:`Traffic.role_of` says ``shadow`` and the server refuses it). The roles are the
prediction log's (:data:`~goldenpath.serving.prediction_log.ROLES`), so every role the server
writes is one the log accepts.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from goldenpath.serving.contract_check import RowChecks
from goldenpath.serving.features import FeaturePlan
from goldenpath.serving.models import ServedModel
from goldenpath.serving.prediction_log import CANARY, PRIMARY, SHADOW


@dataclass(frozen=True)
class Served:
    """A loaded version with what ``/v1/predict`` and the contract checks need."""

    model: ServedModel
    plan: FeaturePlan
    checks: RowChecks


@dataclass(frozen=True)
class Traffic:
    generation: int
    primary: Served
    candidate: Served | None = None
    mode: str | None = None  # canary | shadow
    percent: int = 0

    @property
    def versions(self) -> list[Served]:
        return [self.primary] + ([self.candidate] if self.candidate is not None else [])

    @property
    def answering(self) -> list[Served]:
        """The versions that may answer a client: the primary, and a canary (never a shadow)."""
        return [s for s in self.versions if self.role_of(s) != SHADOW]

    def version(self, number: int) -> Served | None:
        for served in self.versions:
            if served.model.version == number:
                return served
        return None

    def role_of(self, served: Served) -> str:
        """The role of a version this traffic serves: ``primary``, ``canary`` or ``shadow``."""
        if served is self.primary:
            return PRIMARY
        return SHADOW if self.mode == SHADOW else CANARY

    def pick(self, entities: Mapping[str, Any]) -> tuple[Served, str]:
        """The version answering a request for ``entities``, and its role."""
        if self.candidate is None or self.mode != CANARY or self.percent <= 0:
            return self.primary, PRIMARY
        if bucket(entities) < self.percent:
            return self.candidate, CANARY
        return self.primary, PRIMARY

    @property
    def shadow(self) -> Served | None:
        return self.candidate if self.mode == SHADOW else None


def bucket(entities: Mapping[str, Any]) -> int:
    """0..99, stable for an entity key across requests, processes and restarts."""
    key = json.dumps(entities, sort_keys=True, separators=(",", ":"))
    return zlib.crc32(key.encode()) % 100
