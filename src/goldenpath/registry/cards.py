"""Model cards: generated at registration, edited later (``gp models card REF --set k=v``).

A card says what the model is for and what it is not: intended use, the training data, the
metrics, limitations and owners. Registration fills what it knows (training data from the
lineage, metrics, the estimator, the registering principal as owner) and leaves intended use
and limitations empty: the ``card`` gate fails until a person writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from goldenpath.core.errors import InvalidInput
from goldenpath.core.limits import Limits

# Fields a person may set; the rest (metrics, training data, model) are generated.
EDITABLE = ("intended_use", "limitations", "owners", "description", "ethical_considerations")


def generate(
    *,
    name: str,
    version: int,
    estimator: str,
    flavor: str,
    task: str,
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    rows: int,
    owner: str,
    description: str,
) -> dict[str, Any]:
    training = lineage.get("training_set") or {}
    return {
        "model": f"{name}@{version}",
        "description": description,
        "intended_use": "",
        "limitations": "",
        "owners": [owner],
        "ethical_considerations": "",
        "estimator": estimator,
        "flavor": flavor,
        "task": task,
        "training_data": {
            "training_set": training.get("ref"),
            "fingerprint": training.get("fingerprint"),
            "datasets": [d.get("ref") for d in lineage.get("datasets") or []],
            "features": [
                f for v in lineage.get("feature_versions") or [] for f in v.get("features", [])
            ],
            "contract_passed": lineage.get("contract_passed"),
        },
        "evaluation": {"validation_rows": rows, "metrics": dict(metrics)},
    }


def check_fields(fields: Mapping[str, Any], limits: Limits | None = None) -> dict[str, Any]:
    """Validated editable fields: known names, text within ``limits`` (``model_card_*``),
    owners as a list."""
    limits = limits or Limits()
    if not isinstance(fields, Mapping):
        raise InvalidInput("card fields must be a mapping of field to value")
    unknown = sorted(k for k in fields if k not in EDITABLE)
    if unknown:
        raise InvalidInput(
            f"unknown card field(s): {', '.join(str(k)[:40] for k in unknown[:5])}",
            hint=f"editable fields: {', '.join(EDITABLE)}",
        )
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "owners":
            owners = [s.strip() for s in value.split(",")] if isinstance(value, str) else value
            if not isinstance(owners, list) or not all(isinstance(o, str) for o in owners):
                raise InvalidInput("card owners must be a list of names (or 'a, b' text)")
            owners = [o for o in owners if o]
            owners_max, chars_max = limits.model_card_owners_max, limits.model_card_owner_chars_max
            if len(owners) > owners_max or any(len(o) > chars_max for o in owners):
                raise InvalidInput(
                    f"card owners: at most {owners_max} names of {chars_max} characters "
                    "(limits.model_card_owners_max, limits.model_card_owner_chars_max)"
                )
            out[key] = owners
        else:
            chars_max = limits.model_card_text_chars_max
            if not isinstance(value, str) or len(value) > chars_max:
                raise InvalidInput(
                    f"card field {key!r} must be text of at most {chars_max:,} characters "
                    "(limits.model_card_text_chars_max)"
                )
            out[key] = value
    return out
