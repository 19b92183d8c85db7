"""A fixed-rate HTTP client that times each request from its intended send time.

    python benchmarks/_rate_client.py URL BODIES.json RATE SECONDS [CONNECTIONS]

Request i is meant to leave at ``start + i / RATE``. ``CONNECTIONS`` keep-alive connections
(default 16), one thread each, share that one schedule: a free connection takes the next slot,
sleeps until its time and sends; a connection that comes free after its slot's time sends at
once. Latency is the answer's arrival minus the slot's time, so a server that stalls is
charged for the requests that queued behind the stall (no coordinated omission: wrk's and
hey's latencies start when a request leaves). Every slot of the ``SECONDS`` is sent; the
bodies (a JSON list of strings) are POSTed in turn. Prints one JSON object: slots, answered,
errors (non-2xx answers, failed connections), p50 and p99 in seconds, the achieved rate
(answered / seconds from the first slot to the last answer) and the client's own lateness
(p50 and p99 of send time minus slot time).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def main() -> None:
    url, bodies_file, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    connections = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n"
        ).encode()
        + body.encode()
        for body in json.loads(Path(bodies_file).read_text(encoding="utf-8"))
    ]
    slots = int(rate * float(seconds))
    sys.setswitchinterval(0.0001)  # a thread woken for its slot gets the interpreter soon
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    lateness: list[float] = []
    errors = [0]
    last = [0.0]
    start = time.perf_counter() + 0.2

    def take() -> int | None:
        with lock:
            index = state["next"]
            if index >= slots:
                return None
            state["next"] = index + 1
            return index

    def worker() -> None:
        sock: socket.socket | None = None
        buffer = b""
        while (index := take()) is not None:
            due = start + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=30)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buffer = b""
                sent = time.perf_counter()
                sock.sendall(requests[index % len(requests)])
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                status = int(lines[0].split()[1])
                length = 0
                closing = False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    elif name.strip().lower() == b"connection" and b"close" in value.lower():
                        closing = True
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    buffer += chunk
                buffer = buffer[length:]
                done = time.perf_counter()
                with lock:
                    latencies.append(done - due)
                    lateness.append(sent - due)
                    last[0] = max(last[0], done)
                    if not 200 <= status < 300:
                        errors[0] += 1
                if closing:
                    sock.close()
                    sock = None
            except (OSError, ValueError, IndexError):
                with lock:
                    errors[0] += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def quantile(values: list[float], q: float) -> float | None:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

    elapsed = max(last[0] - start, float(seconds))
    print(
        json.dumps(
            {
                "slots": slots,
                "answered": len(latencies),
                "errors": errors[0],
                "seconds": elapsed,
                "achieved": len(latencies) / elapsed,
                "p50": quantile(latencies, 0.5),
                "p99": quantile(latencies, 0.99),
                "late_p50": quantile(lateness, 0.5),
                "late_p99": quantile(lateness, 0.99),
            }
        )
    )


if __name__ == "__main__":
    main()
