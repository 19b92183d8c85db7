"""The feature store: features defined once (``features.py``), point-in-time training sets,
online serving. Users import the definition classes from here."""

from goldenpath.features.definitions import (
    Aggregation,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    SqlSource,
    on_demand,
)

__all__ = [
    "Aggregation",
    "Entity",
    "FeatureService",
    "FeatureView",
    "Field",
    "OnDemandFeatureView",
    "SqlSource",
    "on_demand",
]
