"""Training: runs, the training pipeline (gp train) and reproducibility capture.

``TrainContext`` is what a project's ``train(ctx)`` receives (docs/training.md).
"""

from goldenpath.training.context import TrainContext

__all__ = ["TrainContext"]
