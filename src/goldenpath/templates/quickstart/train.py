"""The fraud model: scaled numbers and a one-hot encoded currency into a logistic regression."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from goldenpath.training import TrainContext


def train(ctx: TrainContext) -> Pipeline:
    prepare = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), ctx.numeric),
            ("text", OneHotEncoder(handle_unknown="ignore"), ctx.categorical),
        ]
    )
    model = Pipeline(
        [
            ("prepare", prepare),
            (
                "classify",
                LogisticRegression(
                    C=ctx.params["C"], max_iter=ctx.params["max_iter"], random_state=ctx.seed
                ),
            ),
        ]
    )
    model.fit(ctx.X_train, ctx.y_train)
    ctx.log.info("trained on %d rows", len(ctx.X_train))
    return model
