"""Serving: the inference server, traffic routing between model versions, the prediction log."""
