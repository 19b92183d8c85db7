"""Slow bodies cannot starve the inference server (issue 22, §5).

A client that sends its headers and trickles its body holds a body-reading place (bounded by
``limits.predict_readers_max``, then 429) until the request's time limit, then gets a 408; it
never holds one of the ``predict_inflight_max`` scoring slots. 70 clients trickling at ~250 B/s
(more than the 64 scoring slots) leave a well-behaved client its 200s and its p99.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.serving.conftest import post, problem

GOOD = {"entities": {"user_id": 42}, "request": {"currency": "EUR"}}
BODY = b'{"entities": {"user_id": 7}, "request": {"currency": "EUR"}}'
HEAD = (
    b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % (len(BODY) + 10_000)
)


@contextmanager
def trickling(host: str, port: int, clients: int, rate: float = 250.0) -> Iterator[list[Any]]:
    """``clients`` connections that sent their headers and send ~``rate`` bytes a second of a
    body they never finish; yields their sockets (the trickle stops at the end)."""
    socks = [socket.create_connection((host, port)) for _ in range(clients)]
    for sock in socks:
        sock.sendall(HEAD)
    stop = threading.Event()
    step = 0.1
    piece = b" " * max(1, int(rate * step))

    def trickle() -> None:
        while not stop.wait(step):
            for sock in socks:
                with contextlib.suppress(OSError):  # answered and closed by the server
                    sock.send(piece)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in socks:
            sock.close()


def latencies(url: str, seconds: float) -> tuple[list[float], list[int]]:
    """Sequential /v1/predict requests for ``seconds``: each one's latency and status."""
    took, statuses = [], []
    with httpx.Client(timeout=10) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = client.post(f"{url}/v1/predict", json=GOOD)
            took.append(time.perf_counter() - started)
            statuses.append(response.status_code)
    return took, statuses


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def answers(socks: list[Any], wait_s: float) -> list[bytes]:
    """What each socket received within ``wait_s``, read until the server closed it (an
    answer's headers and body can arrive in separate segments)."""
    got: dict[int, bytes] = {s.fileno(): b"" for s in socks}
    done: set[int] = set()
    deadline = time.monotonic() + wait_s
    while len(done) < len(socks) and time.monotonic() < deadline:
        waiting = [s for s in socks if s.fileno() not in done]
        readable, _, _ = select.select(waiting, [], [], 0.1)
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                got[sock.fileno()] += chunk
            else:
                done.add(sock.fileno())
    return [got[s.fileno()] for s in socks]


def test_seventy_slow_bodies_leave_a_normal_client_its_p99(deployed: Any) -> None:
    url = deployed.url
    latencies(url, 0.3)  # warm
    baseline, statuses = latencies(url, 0.8)
    assert set(statuses) == {200}
    started = time.monotonic()
    with trickling(deployed.host, deployed.port, 70) as socks:
        time.sleep(0.2)  # every slow client is in
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert f'gp_request_bodies_receiving{{deployment="{deployed.name}"}} 70.0' in metrics
        under_attack, statuses = latencies(url, 1.2)
        assert set(statuses) == {200}, f"{statuses.count(429)} refusals under slow bodies"
        slow = answers(socks, wait_s=4)
        elapsed = time.monotonic() - started
    budget = max(5 * p99(baseline), 0.05)
    assert p99(under_attack) < budget, (p99(baseline), p99(under_attack))
    # Each slow client got a 408 at the time limit (2 s), not later.
    assert all(a.startswith(b"HTTP/1.1 408") for a in slow), {a[:40] for a in slow}
    assert elapsed < 2.0 + 3.0
    assert post(f"{url}/v1/predict", GOOD).status_code == 200


def test_bodies_past_their_own_bound_are_429_and_each_slow_one_a_408(deployed: Any) -> None:
    """With every body-reading place held (limits.predict_readers_max), the next body is a
    429 with Retry-After; GETs still answer; the held ones get 408 with a problem body."""
    url = deployed.url
    with trickling(deployed.host, deployed.port, 256, rate=10) as socks:
        time.sleep(0.3)
        refused = post(f"{url}/v1/predict", GOOD)
        doc = problem(refused, 429)
        assert refused.headers["retry-after"] == "1" and "predict_readers_max" in doc["detail"]
        assert httpx.get(f"{url}/v2/health/ready", timeout=10).status_code == 200
        first = answers(socks[:1], wait_s=4)[0]
        assert first.startswith(b"HTTP/1.1 408") and b"application/problem+json" in first
        assert b"predict_seconds" in first
    time.sleep(0.3)
    assert post(f"{url}/v1/predict", GOOD).status_code == 200
    assert "gp_overload_refusals_total" in httpx.get(f"{url}/metrics", timeout=10).text
