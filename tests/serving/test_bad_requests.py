"""Every bad request gets a 4xx application/problem+json naming what is wrong; never a 500.

One deployment of fraud@1 (inputs: currency (text) from the request; amount, tx_count_1h,
amount_mean_7d online, by user_id) answers them all.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.serving.conftest import post, problem, v2_inputs

GOOD = {"entities": {"user_id": 42}, "request": {"currency": "EUR"}}


def test_a_good_request_is_answered_with_features_and_freshness(deployed: Any) -> None:
    response = post(f"{deployed.url}/v1/predict", GOOD)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["model"] == "fraud" and doc["model_version"] == 1
    assert doc["request_id"] == response.headers["x-request-id"] and len(doc["request_id"]) == 26
    assert set(doc["prediction"]) == {"label", "probability"}
    assert 0 <= doc["prediction"]["probability"] <= 1
    amount = doc["features"]["amount"]
    assert amount["status"] == "present" and amount["value"] == 20.0 + 41
    assert 0 < amount["age_seconds"] < 3600
    assert doc["contract"] == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"42", 400, None),
        (b"[]", 400, None),
        ({"entities": {"user_id": 42}}, 422, "request.currency"),  # a request field missing
        ({"entities": {}, "request": {"currency": "EUR"}}, 422, "entities.user_id"),
        (
            {"entities": {"user_id": 42, "card": 1}, "request": {"currency": "EUR"}},
            422,
            "entities.card",
        ),
        (
            {"entities": {"user_id": 42}, "request": {"currency": "EUR", "extra": 1}},
            422,
            "request.extra",
        ),
        ({"entities": {"user_id": 42}, "request": {"currency": 5}}, 422, "request.currency"),
        ({"entities": {"user_id": 42}, "request": {"currency": None}}, 422, "request.currency"),
        (
            {"entities": {"user_id": 42}, "request": {"currency": "E" * 1001}},
            422,
            "request.currency",
        ),
        ({"entities": {"user_id": [1]}, "request": {"currency": "EUR"}}, 422, "entities.user_id"),
        ({"entities": {"user_id": True}, "request": {"currency": "EUR"}}, 422, "entities.user_id"),
        ({"entities": {"user_id": "forty-two"}, "request": {"currency": "EUR"}}, 422, "entities"),
        ({"entities": [], "request": {}}, 422, "entities"),
        ({"entities": {"user_id": 42}, "request": [], "x": 1}, 422, "x"),
        ([GOOD, 5], 422, "body[1]"),
    ],
)
def test_bad_predict_bodies(deployed: Any, body: Any, status: int, field: str | None) -> None:
    problem(post(f"{deployed.url}/v1/predict", body), status, field)


def test_a_feature_without_a_value_or_default_is_a_422_naming_it(deployed: Any) -> None:
    doc = problem(
        post(
            f"{deployed.url}/v1/predict",
            {"entities": {"user_id": 999999}, "request": {"currency": "EUR"}},
        ),
        422,
        "features.amount",
    )
    assert "user_id=999999" in doc["detail"] and "no default" in doc["detail"]


def test_a_batch_is_scored_and_each_row_has_its_own_id(deployed: Any) -> None:
    rows = [{"entities": {"user_id": u}, "request": {"currency": "EUR"}} for u in (1, 2, 3)]
    response = post(f"{deployed.url}/v1/predict", rows)
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert [a["features"]["amount"]["value"] for a in answers] == [20.0, 21.0, 22.0]
    assert len({a["request_id"] for a in answers}) == 3


def test_out_of_contract_rows_are_scored_and_named(deployed: Any) -> None:
    body = {"entities": {"user_id": 5}, "request": {"currency": "XXX"}}
    response = post(f"{deployed.url}/v1/predict", body)
    assert response.status_code == 200
    assert response.json()["contract"] == ["currency: allowed values (EUR, GBP, USD)"]
    metrics = httpx.get(f"{deployed.url}/metrics").text
    assert (
        f'gp_contract_rows_total{{deployment="{deployed.name}",model_version="1",result="out"}}'
        in metrics
    )


def test_too_many_rows(deployed: Any) -> None:
    rows = [GOOD] * 1001
    problem(post(f"{deployed.url}/v1/predict", rows), 422, "body")


def test_a_body_over_the_limit_is_413_before_it_is_read(deployed: Any) -> None:
    """Headers declaring 2 MB and not one byte of body: the 413 comes at once (a server that
    waited for the body would answer only at the time limit, with a 408)."""
    for path in ("/v1/predict", "/v2/models/fraud/infer"):
        with socket.create_connection((deployed.host, deployed.port), timeout=5) as sock:
            started = time.perf_counter()
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {2 << 20}\r\n\r\n".encode()
            )
            answer = _read_answer(sock)
            elapsed = time.perf_counter() - started
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"application/problem+json" in answer and b'"field": "body"' in answer
        assert elapsed < 1.0, f"the 413 took {elapsed:.2f} s: the server waited for the body"

    # Without Content-Length (chunked): counted while streaming.
    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 65536

    response = httpx.post(f"{deployed.url}/v1/predict", content=chunks(), timeout=10)
    problem(response, 413, "body")


def _read_answer(sock: socket.socket) -> bytes:
    """One HTTP answer (headers and a Content-Length body) read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            return data
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        got = sock.recv(65536)
        if not got:
            break
        body += got
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        (v2_inputs()[:3], "amount_mean_7d"),  # missing
        (
            [*v2_inputs(), {"name": "extra", "shape": [1], "datatype": "FP32", "data": [1]}],
            "inputs",
        ),
        ([{**v2_inputs()[1], "data": ["12.5"]}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        (
            [{**v2_inputs()[1], "data": [float("nan")]}, *v2_inputs()[:1], *v2_inputs()[2:]],
            "amount",
        ),
        (
            [{**v2_inputs()[1], "data": [float("inf")]}, *v2_inputs()[:1], *v2_inputs()[2:]],
            "amount",
        ),
        ([{**v2_inputs()[1], "data": [1e39]}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        ([{**v2_inputs()[1], "data": [True]}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        ([{**v2_inputs()[0], "data": [3]}, *v2_inputs()[1:]], "currency"),
        ([{**v2_inputs()[0], "datatype": "FP32", "data": [3]}, *v2_inputs()[1:]], "currency"),
        ([{**v2_inputs()[1], "shape": [2, 1]}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        ([{**v2_inputs()[1], "datatype": "FP128"}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        ([{**v2_inputs()[1], "shape": [1, 1, 1]}, *v2_inputs()[:1], *v2_inputs()[2:]], "amount"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}], "x"),
        ([5], "inputs[0]"),
        ([], "inputs"),
    ],
)
def test_bad_v2_tensors(deployed: Any, inputs: list[Any], field: str) -> None:
    body = json.dumps({"inputs": inputs})  # NaN and Infinity written as JSON literals
    problem(post(f"{deployed.url}/v2/models/fraud/infer", body), 422, field)


def test_v2_unknown_model_and_version_are_404(deployed: Any) -> None:
    problem(post(f"{deployed.url}/v2/models/credit/infer", {"inputs": v2_inputs()}), 404, "model")
    problem(post(f"{deployed.url}/v2/models/fraud/versions/7/infer", {"inputs": v2_inputs()}), 404)
    problem(httpx.get(f"{deployed.url}/v2/models/fraud/versions/x"), 404)
    problem(httpx.get(f"{deployed.url}/nowhere"), 404)
    long = problem(httpx.get(f"{deployed.url}/" + "x" * 5000), 404)
    assert len(long["detail"]) < 300  # the path is not echoed whole


def test_wrong_method_is_405(deployed: Any) -> None:
    response = httpx.get(f"{deployed.url}/v1/predict")
    problem(response, 405)
    assert response.headers["allow"] == "POST"


def test_v2_one_2d_tensor_in_signature_order(deployed: Any) -> None:
    tensor = {
        "name": "input",
        "shape": [2, 4],
        "datatype": "BYTES",
        "data": [["EUR", 12.5, 1, 30.0], ["USD", 900.0, 3, 10.0]],
    }
    response = post(f"{deployed.url}/v2/models/fraud/infer", {"inputs": [tensor], "id": "mine"})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["id"] == "mine" and doc["model_version"] == "1"
    probabilities = next(o for o in doc["outputs"] if o["name"] == "probabilities")
    assert probabilities["shape"] == [2, 2]
    per_feature = post(f"{deployed.url}/v2/models/fraud/infer", {"inputs": v2_inputs()}).json()
    first = next(o for o in per_feature["outputs"] if o["name"] == "probabilities")["data"][:2]
    assert probabilities["data"][:2] == pytest.approx(first)


def test_deep_nesting_and_huge_numbers_are_400_or_422_not_500(deployed: Any) -> None:
    problem(post(f"{deployed.url}/v1/predict", b"[" * 100_000 + b"]" * 100_000), 400)
    body = {"entities": {"user_id": 42}, "request": {"currency": "EUR"}}
    text = json.dumps(body).replace('"EUR"', "1" + "0" * 400)
    problem(post(f"{deployed.url}/v1/predict", text), 422, "request.currency")
    huge_key = json.dumps(body).replace("42", "9" * 50)
    problem(post(f"{deployed.url}/v1/predict", huge_key), 422, "entities.user_id")
