"""Features over docs/examples/tx.csv (dataset ``transactions``): see docs/features.md."""

from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field, on_demand

user = Entity(name="user", join_keys=["user_id"], description="a card holder", owner="risk")

user_tx = FeatureView(
    name="user_tx",
    entities=[user],
    source="transactions",
    timestamp="ts",
    timezone="UTC",  # tx.csv's times carry no zone: they are UTC
    ttl="30d",
    description="a card holder's spending",
    owner="risk",
    features=[
        Field(name="amount", dtype="float64", description="the latest amount"),
        Field(name="large", dtype="bool", expression="amount > 300", default=False),
    ],
    aggregations=[
        Aggregation(name="tx_count_1h", function="count", window="1h"),
        Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),
        Aggregation(
            name="currencies_30d", function="count_distinct", column="currency", window="30d"
        ),
    ],
)


@on_demand(
    inputs=["user_tx:amount_mean_7d"],
    request=[Field(name="request_amount", dtype="float64")],
    outputs=[Field(name="amount_ratio", dtype="float64")],
)
def ratio(row):
    """The requested amount over the 7-day mean."""
    mean = row["amount_mean_7d"]
    return {"amount_ratio": None if not mean else row["request_amount"] / mean}


fraud = FeatureService(
    name="fraud",
    features=[
        "user_tx:amount",
        "user_tx:tx_count_1h",
        "user_tx:amount_mean_7d",
        "ratio:amount_ratio",
    ],
    description="what the fraud model reads",
)
