"""A V2 client we did not write (NVIDIA's tritonclient, HTTP) talks to a deployment: health,
model metadata, and inference with JSON tensors and with the binary tensor extension."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")


def _inputs(binary: bool, rows: int = 3) -> list[Any]:
    values = {
        "currency": np.array([["EUR"], ["USD"], ["GBP"]][:rows], dtype=object),
        "amount": np.array([[12.5], [300.0], [7.0]][:rows], dtype=np.float32),
        "tx_count_1h": np.array([[1], [4], [0]][:rows], dtype=np.float32),
        "amount_mean_7d": np.array([[30.0], [120.0], [5.0]][:rows], dtype=np.float32),
    }
    inputs = []
    for name, array in values.items():
        datatype = "BYTES" if array.dtype == object else "FP32"
        tensor = tritonclient_http.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_tritonclient_health_metadata_and_infer(deployed: Any) -> None:
    client = tritonclient_http.InferenceServerClient(url=f"{deployed.host}:{deployed.port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("fraud")
        metadata = client.get_model_metadata("fraud")
        assert [i["name"] for i in metadata["inputs"]] == [
            "currency",
            "amount",
            "tx_count_1h",
            "amount_mean_7d",
        ]
        results = {}
        for binary in (False, True):
            outputs = [
                tritonclient_http.InferRequestedOutput("label", binary_data=binary),
                tritonclient_http.InferRequestedOutput("probabilities", binary_data=binary),
            ]
            result = client.infer("fraud", _inputs(binary), outputs=outputs, request_id="r1")
            assert result.get_response()["model_version"] == "1"
            probabilities = result.as_numpy("probabilities")
            assert probabilities.shape == (3, 2)
            assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
            assert result.as_numpy("label").shape == (3,)
            results[binary] = probabilities
        assert np.allclose(results[False], results[True])
        # The version route.
        versioned = client.infer("fraud", _inputs(True), model_version="1")
        assert np.allclose(versioned.as_numpy("probabilities"), results[True])
        with pytest.raises(tritonclient_http.InferenceServerException, match="not served"):
            client.infer("fraud", _inputs(True), model_version="9")
    finally:
        client.close()
