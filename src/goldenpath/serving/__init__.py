"""Serving: deployments, the inference server (Open Inference Protocol V2 and ``/v1/predict``),
traffic between versions, and the prediction log."""
