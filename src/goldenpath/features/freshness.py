"""How fresh a feature view's online values are now: what a deployment would serve.

A deploy checks it before anything changes (``ws.deployments.deploy``): the store's entity
keys are sampled (up to ``limits.freshness_entities_max`` per view, in the store's order) and
looked up now through the same read path serving uses, so "fresh" means exactly what a
``/v1/predict`` for that entity would meet: every feature the model reads from the view is
``present`` (not ``missing``, and not ``expired`` by the view's TTL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from goldenpath.features.definitions import parse_feature_ref

if TYPE_CHECKING:
    from goldenpath.features.definitions import FeatureView
    from goldenpath.features.online.base import OnlineStore, ViewLayout
    from goldenpath.features.online_service import OnlineFeatures


@dataclass(frozen=True)
class ViewFreshness:
    """The online values of one feature view, looked up now for a sample of its entities.

    ``entities_checked`` entities were looked up (``more``: the store holds others beyond the
    sample), ``entities_fresh`` of them had every one of ``features`` present. ``sample`` is
    the join keys of one entity, a fresh one when there is any (for a runnable example
    request). ``materialized`` is False when the store holds no values of the view's current
    definition (never materialised, or materialised before the definition changed)."""

    view: str
    features: tuple[str, ...]
    materialized: bool
    entities_checked: int
    entities_fresh: int
    more: bool
    ttl_seconds: int | None
    sample: dict[str, Any] | None

    @property
    def fresh(self) -> bool:
        """True when at least one entity would be served every feature."""
        return self.entities_fresh > 0

    @property
    def counted(self) -> str:
        """``3 of 100 entities`` (``of the first 10,000`` when the sample is not all)."""
        if not self.materialized:
            return "no online values"
        scope = (
            f"the first {self.entities_checked:,}" if self.more else f"{self.entities_checked:,}"
        )
        return f"{self.entities_fresh:,} of {scope} entities fresh"

    @property
    def remedy(self) -> str:
        """The commands that would give the view fresh values."""
        if not self.materialized:
            return f"gp features materialize {self.view}"
        return (
            f"gp features materialize {self.view} (after ingesting newer source rows) or "
            f"gp features push {self.view} FILE (fresh rows)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "features": list(self.features),
            "materialized": self.materialized,
            "entities_checked": self.entities_checked,
            "entities_fresh": self.entities_fresh,
            "more": self.more,
            "ttl_seconds": self.ttl_seconds,
            "fresh": self.fresh,
            "sample": self.sample,
        }


def view_freshness(
    online: OnlineFeatures,
    store: OnlineStore,
    view: FeatureView,
    refs: Sequence[str],
    *,
    sample_max: int,
    chunk: int,
) -> ViewFreshness:
    """Look ``refs`` (``view:feature``, all of ``view``) up now for up to ``sample_max`` of
    the view's stored entities, ``chunk`` entities per lookup."""
    features = tuple(dict.fromkeys(parse_feature_ref(r)[1] for r in refs))
    ttl = view.ttl_delta
    ttl_seconds = None if ttl is None else int(ttl.total_seconds())
    layout = store.layout(view.name)
    if layout is None or layout.definition_hash != view.version_hash:
        return ViewFreshness(view.name, features, False, 0, 0, False, ttl_seconds, None)
    keys = store.entity_keys(layout, sample_max + 1)
    more = len(keys) > sample_max
    rows = [_entity(layout, view, key) for key in keys[:sample_max]]
    fresh = 0
    sample: dict[str, Any] | None = rows[0] if rows else None
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        result = online.online(part, list(refs))
        for index in range(len(part)):
            if all(result.statuses[f][index] == "present" for f in features):
                if fresh == 0:
                    sample = part[index]
                fresh += 1
    return ViewFreshness(view.name, features, True, len(rows), fresh, more, ttl_seconds, sample)


def _entity(layout: ViewLayout, view: FeatureView, key: str) -> dict[str, Any]:
    """A stored entity key back as join-key values (``online/base.encode_key``, reversed)."""
    values = [key] if len(view.join_keys) == 1 else json.loads(key)
    return {
        name: int(value) if kind == "int64" else value
        for name, value, kind in zip(view.join_keys, values, layout.key_types, strict=True)
    }
