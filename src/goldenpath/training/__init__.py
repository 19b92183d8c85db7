"""Training: runs, the training pipeline (gp train) and reproducibility capture."""
