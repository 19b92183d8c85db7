"""The model registry: versions, aliases, ONNX packaging, approval gates."""
