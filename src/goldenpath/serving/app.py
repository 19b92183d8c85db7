"""The inference server: an ASGI app answering the Open Inference Protocol and ``/v1/predict``.

Written against ASGI directly (no framework router): the request path is the product, and
every microsecond of it is on the p99 budget. Routes:

- ``GET /v2/health/live``, ``/v2/health/ready``, ``GET /v2`` (server metadata);
- ``GET /v2/models/{name}[/versions/{v}]`` (model metadata), ``.../ready``,
  ``POST .../infer`` (V2, ``v2.py``);
- ``POST /v1/predict``: ``{"entities": {...}, "request": {...}}`` or a list of them;
- ``GET /metrics``: Prometheus text.

Order of work per request: authentication (when the server requires tokens) before anything
is read; the body, refused by its ``Content-Length`` before a byte is read and counted while
it streams (413), under a bound of its own (``predict_readers_max`` bodies at once, then 429)
and within the request's time limit (408 while the body trickles); only then the in-flight
bound on scoring (429 with ``Retry-After``; 503 when scoring overruns the time limit), so a
slow body never holds a scoring slot; then the checks against the signature (4xx
``application/problem+json`` naming the field). Online features are looked up without
blocking the loop (Redis is awaited, under ``limits.online_lookup_seconds``: 503 past it, for
that request only). Scoring runs on the event loop for small requests and in a thread for
large ones. The prediction log and a shadow version's scoring
happen after the answer is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from goldenpath.core.ids import fast_id
from goldenpath.core.limits import Limits
from goldenpath.serving import v2
from goldenpath.serving.columns import kind_of
from goldenpath.serving.metrics import CONTENT_TYPE, ServerMetrics
from goldenpath.serving.prediction_log import SHADOW
from goldenpath.serving.problem import Problem, invalid
from goldenpath.serving.traffic import Served, Traffic

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Work after the answer is sent (accounting, the log, a shadow's scoring); an awaitable it
# returns (a shadow's online lookup) is awaited then, never blocking the loop.
After = Callable[[], Awaitable[None] | None]

JSON = b"application/json"
PROBLEM = b"application/problem+json"
WATCHDOG_SECONDS = 0.05
INLINE_ROWS_MAX = 64  # larger requests are scored in a thread, under the time limit
SERVER_NAME = "goldenpath"


class Holder:
    """What the server swaps on reload: the current traffic, and whether it is ready."""

    def __init__(self) -> None:
        self.traffic: Traffic | None = None
        self.draining = False


class InferenceApp:
    def __init__(
        self,
        deployment: str,
        holder: Holder,
        *,
        limits: Limits,
        metrics: ServerMetrics,
        log: Any = None,
        authorize: Callable[[str | None], None] | None = None,
        version: str = "0.1.0",
    ) -> None:
        self.deployment = deployment
        self.holder = holder
        self.limits = limits
        self.metrics = metrics
        self.log = log
        self.authorize = authorize
        self.version = version
        self.inflight = 0
        self.reading = 0  # bodies being received (their own bound: predict_readers_max)
        self._children: dict[tuple[str, str, str], Any] = {}
        # The time limit: each request's deadline, checked by one watchdog task (cheaper per
        # request than asyncio.timeout's timer); an expired request's task is cancelled.
        self._deadlines: dict[Any, float] = {}
        self._expired: set[Any] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._labelled: dict[tuple[str, int, str], Any] = {}
        self._counters: dict[int, Callable[[str, int], None]] = {}
        self._latency: dict[tuple[str, str], Any] = {}
        metrics.inflight.labels(deployment).set_function(lambda: self.inflight)
        metrics.reading.labels(deployment).set_function(lambda: self.reading)
        if log is not None and hasattr(log, "invalid_total"):
            metrics.log_invalid = log.invalid_total
        self._overload = metrics.overload.labels(deployment)

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = fast_id()
        path: str = scope["path"]
        method: str = scope["method"]
        route = _route_of(path)
        version = ""
        after: After | None = None
        try:
            if self.authorize is not None and not path.startswith("/v2/health"):
                self.authorize(_header(scope, b"authorization"))
            # The body first, under a bound of its own: a slow body never holds a scoring slot.
            body = await self._body(scope, receive, started) if method == "POST" else b""
            if self.inflight >= self.limits.predict_inflight_max:
                self._overload.inc()
                raise Problem(
                    429,
                    f"the server is working on {self.inflight} requests, its limit",
                    headers={"Retry-After": "1"},
                )
            self.inflight += 1
            task = self._deadline(started)
            try:
                _, version, status, body, headers, after = await self._route(
                    scope, body, method, path, request_id, started
                )
            except asyncio.CancelledError as cancelled:
                if task not in self._expired:
                    raise  # the server is stopping
                task.uncancel()
                overrun = Problem(
                    503,
                    f"the request took longer than its limit ({self.limits.predict_seconds} s)",
                    headers={"Retry-After": "1"},
                )
                overrun.model_version = getattr(cancelled, "model_version", "")
                raise overrun from None
            finally:
                self.inflight -= 1
                del self._deadlines[task]
                self._expired.discard(task)
            content_type = CONTENT_TYPE.encode() if route == "metrics" else JSON
        except Problem as problem:
            status, body, headers = problem.status, problem.body(request_id), problem.headers
            content_type = PROBLEM
            version = problem.model_version  # the version that refused it, if one was chosen
        except Exception as exc:  # never a bare 500 page: a problem body, logged, counted
            version = getattr(exc, "model_version", "")
            import logging

            logging.getLogger("goldenpath.serving").exception("request %s failed", request_id)
            status = 500
            body = Problem(500, f"internal error ({type(exc).__name__}); see the server log").body(
                request_id
            )
            headers = {}
            content_type = PROBLEM
        await _respond(send, status, body, content_type, headers, request_id)
        elapsed = time.perf_counter() - started
        self._count(version, route, status, elapsed)
        if after is not None:
            pending = after()
            if pending is not None:  # a shadow's feature lookup: awaited, after the answer
                await pending

    def _deadline(self, started: float) -> asyncio.Task[Any]:
        """Put the current task under the request's time limit (the watchdog cancels it)."""
        task = asyncio.current_task()
        assert task is not None
        self._deadlines[task] = started + self.limits.predict_seconds
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        return task

    def close(self) -> None:
        """Stop the watchdog (at shutdown, after the requests in flight have finished)."""
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def _watch(self) -> None:
        """Cancel the requests past their deadline (checked every :data:`WATCHDOG_SECONDS`)."""
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            now = time.perf_counter()
            for task, deadline in list(self._deadlines.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()

    async def _route(
        self,
        scope: Scope,
        body: bytes,
        method: str,
        path: str,
        request_id: str,
        started: float,
    ) -> tuple[str, str, int, bytes, dict[str, str], After | None]:
        if path == "/v1/predict":
            _method(method, "POST")
            return await self._predict(body, request_id, started)
        if path.startswith("/v2"):
            return await self._v2(scope, body, method, path, request_id, started)
        if path == "/metrics":
            _method(method, "GET")
            return "metrics", "", 200, self.metrics.exposition(), {}, None
        raise Problem(404, f"no route {_shown(path)}; see /v2 and /v1/predict")

    # -- V2 ------------------------------------------------------------------------------------

    async def _v2(
        self,
        scope: Scope,
        body: bytes,
        method: str,
        path: str,
        request_id: str,
        started: float,
    ) -> tuple[str, str, int, bytes, dict[str, str], After | None]:
        parts = path.rstrip("/").split("/")[2:]  # after "", "v2"
        traffic = self.holder.traffic
        if parts in (["health", "live"],):
            _method(method, "GET")
            return "health", "", 200, b'{"live": true}', {}, None
        if parts == ["health", "ready"]:
            _method(method, "GET")
            if traffic is None or self.holder.draining:
                raise Problem(503, "not ready: the model is loading or the server is stopping")
            return "health", "", 200, b'{"ready": true}', {}, None
        if parts == []:
            _method(method, "GET")
            doc = {
                "name": SERVER_NAME,
                "version": self.version,
                "extensions": ["binary_tensor_data"],
            }
            return "metadata", "", 200, v2.dumps(doc), {}, None
        if len(parts) < 2 or parts[0] != "models":
            raise Problem(404, f"no route {_shown(path)}")
        if traffic is None:
            raise Problem(503, "not ready: the model is loading", headers={"Retry-After": "1"})
        name, rest = parts[1], parts[2:]
        if name != traffic.primary.model.name:
            raise Problem(
                404,
                f"no model {name!r} here; this deployment serves {traffic.primary.model.name!r}",
                field="model",
            )
        served: Served | None = None
        if len(rest) >= 2 and rest[0] == "versions":
            try:
                number = int(rest[1]) if rest[1].isascii() and rest[1].isdigit() else -1
            except ValueError:
                number = -1
            served = traffic.version(number)
            if served is None:
                loaded = ", ".join(str(s.model.version) for s in traffic.versions)
                raise Problem(
                    404, f"version {rest[1]!r} of {name} is not served here (serving {loaded})"
                )
            if traffic.role_of(served) == SHADOW:
                raise _shadow_refused(name, number, traffic)
            rest = rest[2:]
        if rest == []:
            _method(method, "GET")
            target = served or traffic.primary
            versions = [str(s.model.version) for s in ([served] if served else traffic.answering)]
            body = v2.dumps(target.model.metadata(versions))
            return "metadata", str(target.model.version), 200, body, {}, None
        if rest == ["ready"]:
            _method(method, "GET")
            ready = not self.holder.draining
            status = 200 if ready else 503
            answer = {"name": name, "ready": ready}
            return "health", "", status, v2.dumps(answer), {}, None
        if rest == ["infer"]:
            _method(method, "POST")
            if served is None:
                served, role = traffic.pick({"request_id": request_id})
            else:
                role = traffic.role_of(served)  # primary or canary: a shadow was refused
            return await self._infer(served, role, scope, body, request_id, started, traffic)
        raise Problem(404, f"no route {_shown(path)}")

    async def _infer(
        self,
        served: Served,
        role: str,
        scope: Scope,
        body: bytes,
        request_id: str,
        started: float,
        traffic: Traffic,
    ) -> tuple[str, str, int, bytes, dict[str, str], After | None]:
        model = served.model
        try:
            request = v2.parse(
                body,
                _header(scope, b"inference-header-content-length"),
                model,
                self.limits.predict_rows_max,
                self.limits.nesting_depth_max,
            )
            outputs = await self._score(served, request.feeds, request.rows)
        except BaseException as exc:
            _blame(exc, served)
            raise
        answer, headers = v2.response(model, request, outputs, request_id)
        version = str(model.version)
        ids = [request_id] + [fast_id() for _ in range(request.rows - 1)]

        def after() -> None:
            results = model.results(outputs)
            failed = served.checks.run(request.feeds, request.rows) if served.checks else None
            self._account(served, role, request.rows, failed)
            self._log_rows(
                served,
                role,
                True,
                ids,
                request.rows,
                [{}] * request.rows,
                _request_rows(request.feeds, request.rows),
                [{}] * request.rows,
                failed,
                results,
                started,
            )
            shadow = traffic.shadow
            if shadow is not None and shadow is not served:
                self._shadow(shadow, request.feeds, request.rows, [{}] * request.rows, started, ids)

        return "infer", version, 200, answer, headers, after

    # -- /v1/predict ---------------------------------------------------------------------------

    async def _predict(
        self, body: bytes, request_id: str, started: float
    ) -> tuple[str, str, int, bytes, dict[str, str], After | None]:
        traffic = self.holder.traffic
        if traffic is None:
            raise Problem(503, "not ready: the model is loading", headers={"Retry-After": "1"})
        doc = v2.loads(body, self.limits.nesting_depth_max)
        single = isinstance(doc, dict)
        rows = [doc] if single else doc
        if not isinstance(rows, list) or not rows:
            raise Problem(
                400,
                f'the body must be an object {{"entities": ..., "request": ...}} or a '
                f"non-empty list of them, got {kind_of(doc)}",
            )
        if len(rows) > self.limits.predict_rows_max:
            raise invalid(
                f"{len(rows)} rows is more than the {self.limits.predict_rows_max} one request "
                "may score",
                "body",
            )
        for index, row in enumerate(rows):
            _check_row(row, "" if single else f"[{index}]")
        # One version per request: a batch follows its first row's entity key.
        served, role = traffic.pick(rows[0]["entities"])
        try:
            resolved = await served.plan.resolve_async(
                rows, self._feature_counter(served), seconds=self.limits.online_lookup_seconds
            )
            outputs = await self._score(served, resolved.feeds, len(rows))
        except BaseException as exc:
            _blame(exc, served)
            raise
        model = served.model
        results = model.results(outputs)
        failed = served.checks.run(resolved.feeds, len(rows)) if served.checks else None
        ids = [request_id] + [fast_id() for _ in range(len(rows) - 1)]
        answers = [
            {
                "request_id": ids[i],
                "model": model.name,
                "model_version": model.version,
                "prediction": results[i],
                "features": {
                    name: {
                        "value": f["value"],
                        "status": f["status"],
                        "age_seconds": f["age_seconds"],
                    }
                    for name, f in resolved.features[i].items()
                },
                "contract": failed[i] if failed is not None else [],
            }
            for i in range(len(rows))
        ]
        body_out = v2.dumps(answers[0] if single else {"predictions": answers})

        def after() -> Awaitable[None] | None:
            self._account(served, role, len(rows), failed)
            entities = [r["entities"] for r in rows]
            requests = [r["request"] for r in rows]
            self._log_rows(
                served,
                role,
                True,
                ids,
                len(rows),
                entities,
                requests,
                resolved.features,
                failed,
                results,
                started,
            )
            shadow = traffic.shadow
            if shadow is not None and shadow is not served:
                return self._shadow_v1(shadow, rows, started, ids)
            return None

        return "predict", str(model.version), 200, body_out, {}, after

    # -- scoring -------------------------------------------------------------------------------

    async def _score(
        self, served: Served, feeds: Mapping[str, np.ndarray], rows: int
    ) -> dict[str, np.ndarray]:
        if rows <= INLINE_ROWS_MAX:
            return served.model.run(feeds)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, served.model.run, feeds)

    def _shadow(
        self, shadow: Served, feeds: Any, rows: int, features: Any, started: float, ids: Any
    ) -> None:
        try:
            outputs = shadow.model.run(feeds)
        except Exception:  # a failing challenger never affects the champion's answers
            self.metrics.errors.labels(self.deployment, str(shadow.model.version), "shadow").inc()
            return
        failed = shadow.checks.run(feeds, rows) if shadow.checks else None
        self._account(shadow, SHADOW, rows, failed)
        self._log_rows(
            shadow,
            SHADOW,
            False,
            ids,
            rows,
            [{}] * rows,
            _request_rows(feeds, rows),
            features,
            failed,
            shadow.model.results(outputs),
            started,
        )

    async def _shadow_v1(
        self, shadow: Served, rows: list[dict[str, Any]], started: float, ids: list[str]
    ) -> None:
        try:
            resolved = await shadow.plan.resolve_async(
                rows, self._feature_counter(shadow), seconds=self.limits.online_lookup_seconds
            )
            outputs = shadow.model.run(resolved.feeds)
        except Exception:
            self.metrics.errors.labels(self.deployment, str(shadow.model.version), "shadow").inc()
            return
        failed = shadow.checks.run(resolved.feeds, len(rows)) if shadow.checks else None
        self._account(shadow, SHADOW, len(rows), failed)
        self._log_rows(
            shadow,
            SHADOW,
            False,
            ids,
            len(rows),
            [r["entities"] for r in rows],
            [r["request"] for r in rows],
            resolved.features,
            failed,
            shadow.model.results(outputs),
            started,
        )

    # -- accounting ----------------------------------------------------------------------------

    def _account(
        self,
        served: Served,
        role: str,
        rows: int,
        failed: list[list[str]] | None,
    ) -> None:
        """Rows scored by role, and in or out of the training data's contract."""
        version = served.model.version
        self._child("rows", version, role).inc(rows)
        if failed is not None:
            broken = sum(1 for f in failed if f)
            if broken:
                self._child("contract", version, "out").inc(broken)
            if rows - broken:
                self._child("contract", version, "in").inc(rows - broken)

    def _feature_counter(self, served: Served) -> Callable[[str, int], None]:
        """``count(status, n)`` for the online feature values a version read (made once)."""
        version = served.model.version
        counter = self._counters.get(version)
        if counter is None:

            def counter(status: str, n: int) -> None:
                self._child("features", version, status).inc(n)

            self._counters[version] = counter
        return counter

    def _child(self, metric: str, version: int, label: str) -> Any:
        """A labelled child of one of the per-version counters, looked up once."""
        key = (metric, version, label)
        child = self._labelled.get(key)
        if child is None:
            family = getattr(self.metrics, metric)
            child = self._labelled[key] = family.labels(self.deployment, str(version), label)
        return child

    def _log_rows(
        self,
        served: Served,
        role: str,
        returned: bool,
        ids: list[str],
        rows: int,
        entities: list[Any],
        requests: list[Any],
        features: list[Any],
        failed: list[list[str]] | None,
        results: list[dict[str, Any]],
        started: float,
    ) -> None:
        if self.log is None:
            return
        now_us = time.time_ns() // 1000
        latency = (time.perf_counter() - started) * 1000
        model = served.model
        for i in range(rows):
            # A shadow score gets an id of its own (the answer's id belongs to the answer).
            request_id = ids[i] if returned else fast_id()
            record = {
                "request_id": request_id,
                "time": now_us,
                "deployment": self.deployment,
                "model": model.name,
                "model_version": model.version,
                "role": role,
                "returned": returned,
                # JSON values: the log's one encoding of the record writes them (as text).
                "entities": entities[i],
                "request": requests[i],
                "features": features[i],
                "contract_passed": not (failed and failed[i]),
                "contract": failed[i] if failed else [],
                "output": results[i],
                "latency_ms": latency,
                "status": 200,
            }
            if not self.log.submit(record):
                self.metrics.log_dropped.labels(self.deployment).inc()

    def _count(self, version: str, route: str, status: int, elapsed: float) -> None:
        key = (version, route, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metrics.requests.labels(
                self.deployment, version, route, str(status)
            )
        child.inc()
        lkey = (version, route)
        hist = self._latency.get(lkey)
        if hist is None:
            hist = self._latency[lkey] = self.metrics.latency.labels(
                self.deployment, version, route
            )
        hist.observe(elapsed)
        if status >= 500:
            self.metrics.errors.labels(self.deployment, version, route).inc()

    # -- the body ------------------------------------------------------------------------------

    async def _body(self, scope: Scope, receive: Receive, started: float) -> bytes:
        """The request body: over ``predict_body_max_bytes`` by its declared length is a 413
        before a byte is read; counted while it streams; not complete within the request's
        time limit, a 408. At most ``predict_readers_max`` bodies are received at once (then
        429): a client trickling its body holds one of these, never a scoring slot."""
        limit = self.limits.predict_body_max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.strip().isdigit()):
                raise Problem(400, f"Content-Length {declared[:40]!r} is not a number")
            if int(declared) > limit:
                raise _too_large(limit)
        if self.reading >= self.limits.predict_readers_max:
            self._overload.inc()
            raise Problem(
                429,
                f"the server is receiving {self.reading} request bodies, its limit "
                "(limits.predict_readers_max)",
                headers={"Retry-After": "1"},
            )
        self.reading += 1
        task = self._deadline(started)
        try:
            return await self._receive_body(receive, limit)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # the server is stopping
            task.uncancel()
            raise Problem(
                408,
                f"the body did not arrive within the request's limit "
                f"({self.limits.predict_seconds} s, limits.predict_seconds)",
                headers={"Connection": "close"},
            ) from None
        finally:
            self.reading -= 1
            del self._deadlines[task]
            self._expired.discard(task)

    @staticmethod
    async def _receive_body(receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Problem(400, "the client went away before sending the whole body")
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _blame(exc: BaseException, served: Served) -> None:
    """Mark ``exc`` as raised while ``served`` worked on the request: its failure is counted
    against that version (``gp deployments status`` shows error rates per version)."""
    # An exception type with __slots__ refuses the attribute: counted without a version.
    with contextlib.suppress(AttributeError):
        exc.model_version = str(served.model.version)  # type: ignore[attr-defined]


def _shown(path: str) -> str:
    """A request path as an answer repeats it: at most 200 characters."""
    return path if len(path) <= 200 else path[:200] + "..."


def _route_of(path: str) -> str:
    """The ``route`` label of a path (bounded: a client cannot mint label values)."""
    if path == "/v1/predict":
        return "predict"
    if path.startswith("/v2/health"):
        return "health"
    if path.startswith("/v2/models"):
        if path.endswith("/infer"):
            return "infer"
        return "health" if path.endswith("/ready") else "metadata"
    if path == "/v2":
        return "metadata"
    return "metrics" if path == "/metrics" else "other"


def _shadow_refused(name: str, number: int, traffic: Traffic) -> Problem:
    answering = " or ".join(f"versions/{s.model.version}" for s in traffic.answering)
    return Problem(
        409,
        f"version {number} of {name} is this deployment's shadow, and a shadow never answers a "
        f"client (it is scored beside the answering version and logged); call "
        f"/v2/models/{name}/infer or {answering}",
        field="model",
    )


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"the body is larger than {limit:,} bytes (limits.predict_body_max_bytes)",
        field="body",
    )


def _check_row(row: Any, where: str) -> None:
    if not isinstance(row, dict):
        raise invalid(
            f"body{where} must be an object with entities and request, got {kind_of(row)}",
            f"body{where}",
        )
    unknown = [k for k in row if k not in ("entities", "request")]
    if unknown:
        raise invalid(
            f"body{where}: unknown key(s) {', '.join(map(str, unknown[:5]))}; "
            "expected entities, request",
            f"{unknown[0]}",
        )
    entities = row.setdefault("entities", {})
    request = row.setdefault("request", {})
    if not isinstance(entities, dict):
        raise invalid(f"entities{where} must be an object, got {kind_of(entities)}", "entities")
    if not isinstance(request, dict):
        raise invalid(f"request{where} must be an object, got {kind_of(request)}", "request")


def _request_rows(feeds: Mapping[str, np.ndarray], rows: int) -> list[dict[str, Any]]:
    columns = {name: array.reshape(-1).tolist() for name, array in feeds.items()}
    return [{name: values[i] for name, values in columns.items()} for i in range(rows)]


def _method(method: str, allowed: str) -> None:
    if method != allowed and not (allowed == "GET" and method == "HEAD"):
        raise Problem(405, f"use {allowed} here", headers={"Allow": allowed})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: Mapping[str, str],
    request_id: str,
) -> None:
    raw = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
