"""Features over the quickstart's card transactions: gp features plan, then apply.

See docs/features.md for every option (SQL sources, created timestamps, on-demand features).
"""

from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field

user = Entity(name="user", join_keys=["user_id"], description="a card holder")

user_tx = FeatureView(
    name="user_tx",
    entities=[user],
    source="transactions",
    timestamp="ts",
    timezone="UTC",  # the sample's times carry no zone: they are UTC
    ttl="30d",
    description="a card holder's spending",
    features=[
        Field(name="amount", dtype="float64", description="the latest transaction's amount"),
        Field(name="large", dtype="bool", expression="amount > 300", default=False),
    ],
    aggregations=[
        Aggregation(name="tx_count_1h", function="count", window="1h"),
        Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),
    ],
)

fraud = FeatureService(
    name="fraud",
    features=["user_tx:amount", "user_tx:tx_count_1h", "user_tx:amount_mean_7d"],
    description="what the fraud model reads",
)
