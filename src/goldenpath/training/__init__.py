"""Training: runs, the training pipeline (gp train) and reproducibility capture.

``TrainContext`` is what a project's ``train(ctx)`` receives (docs/training.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldenpath.training.context import TrainContext


def __getattr__(name: str) -> object:
    """``TrainContext`` on first use: the package stays light (no pandas) for the run
    service and the CLI, which import ``goldenpath.training.runs``."""
    if name == "TrainContext":
        from goldenpath.training.context import TrainContext

        return TrainContext
    raise AttributeError(f"module 'goldenpath.training' has no attribute {name!r}")


__all__ = ["TrainContext"]
