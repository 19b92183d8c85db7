"""What a deploy checks about what it will serve, and the example request it prints.

- **Freshness.** A model that reads online features is served only what the online store holds
  now. Before anything changes, the deploy looks a sample of each feature view's entities up
  (``ws.features.freshness``, the serving read path): a view with no fresh entity (never
  materialised, or every value expired by the view's TTL or missing) would make every
  ``/v1/predict`` meet missing values. A ``dev`` deployment is made with a
  :class:`StaleFeaturesWarning`, naming the counts and the commands that refresh the view; a
  ``prod`` one is refused, with nothing changed.
- **Example request.** The body of a ``/v1/predict`` call that runs as it is: a real entity
  key (a fresh one when there is any) and, for each request field of the signature, a typical
  value from the version's reference profile (the most frequent text, the mean number).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from goldenpath.core.errors import Conflict, GoldenpathWarning

if TYPE_CHECKING:
    from goldenpath.features.freshness import ViewFreshness


class StaleFeaturesWarning(GoldenpathWarning):
    """A deployment was made over a feature view with no fresh online value."""


def warn_stale(lines: Sequence[str]) -> None:
    """Each of ``lines`` as a :class:`StaleFeaturesWarning` (``gp deploy`` prints them as
    ``warning:`` lines; ``DeploymentInfo.warnings`` keeps them too)."""
    for line in lines:
        warnings.warn(line, StaleFeaturesWarning, stacklevel=3)


def stale_views(checked: Sequence[ViewFreshness]) -> list[ViewFreshness]:
    """The views that would serve no entity every feature."""
    return [v for v in checked if not v.fresh]


def _ttl(seconds: int | None) -> str:
    if seconds is None:
        return "no ttl"
    if seconds % 86_400 == 0:
        return f"ttl {seconds // 86_400}d"
    if seconds % 3_600 == 0:
        return f"ttl {seconds // 3_600}h"
    return f"ttl {seconds}s"


def freshness_warnings(checked: Sequence[ViewFreshness]) -> list[str]:
    """One line per stale view: what was found and what to run."""
    return [
        f"feature view {v.view} has no fresh online values ({v.counted}, {_ttl(v.ttl_seconds)}): "
        f"predictions will meet missing or expired features (422 where one has no default); "
        f"refresh it with: {v.remedy}"
        for v in stale_views(checked)
    ]


def refuse_stale_prod(name: str, checked: Sequence[ViewFreshness]) -> None:
    """A prod deployment is not made over views with no fresh values."""
    stale = stale_views(checked)
    if not stale:
        return
    views = "; ".join(f"{v.view}: {v.counted}, {_ttl(v.ttl_seconds)}" for v in stale)
    raise Conflict(
        f"prod deployment {name} refused: its model's feature view(s) have no fresh online "
        f"values ({views}); every prediction would meet missing or expired features",
        hint="refresh first, then deploy again: " + "; ".join(v.remedy for v in stale),
    )


def example_body(
    request_fields: Mapping[str, str],
    entity_keys: Sequence[str],
    checked: Sequence[ViewFreshness],
    profile: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A ``/v1/predict`` body that runs as it is (see the module docstring)."""
    entities: dict[str, Any] = {}
    for view in checked:
        for key, value in (view.sample or {}).items():
            entities.setdefault(key, value)
    for key in entity_keys:
        entities.setdefault(key, 1)  # nothing stored to copy: the request says what is missing
    columns = (profile or {}).get("columns") or {}
    request = {name: _typical(kind, columns.get(name)) for name, kind in request_fields.items()}
    body: dict[str, Any] = {}
    if entities:
        body["entities"] = entities
    body["request"] = request
    return body


def _typical(kind: str, column: Mapping[str, Any] | None) -> Any:
    column = column or {}
    if kind == "string":
        top = column.get("top") or []
        return str(top[0]["value"]) if top else "a"
    mean = column.get("mean")
    return round(float(mean), 4) if isinstance(mean, int | float) else 0.0
