"""Features of the quickstart's card transactions, defined once for training and serving.

Apply them with `gp features apply`, then build a point-in-time training set with
`gp features training-set --entities entities.csv --service fraud --name fraud-train`.
"""

from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field

user = Entity(name="user", join_keys=["user_id"], description="a card holder", owner="risk")

user_spending = FeatureView(
    name="user_spending",
    entities=[user],
    source="transactions",
    timestamp="ts",
    timezone="UTC",  # the sample's timestamps are naive; they are UTC
    ttl="30d",
    description="how a card holder spends",
    owner="risk",
    features=[
        Field(name="last_amount", dtype="float64", expression="amount"),
        Field(name="last_currency", dtype="string", expression="currency"),
    ],
    aggregations=[
        Aggregation(name="tx_count_1h", function="count", window="1h"),
        Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),
    ],
)

fraud = FeatureService(
    name="fraud", features=[user_spending], description="what the fraud model reads"
)
