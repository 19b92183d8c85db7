"""The online store in Redis (``online: redis://host:port/db``; the ``[redis]`` extra).

Per view, definition (``ViewLayout.tag``) and entity two sorted sets scored by event time in
microseconds (exact: below 2**53): ``<ns><view>:<tag>:r:<key>`` holds rows (row-level values)
and ``...:e:<key>`` events (aggregated columns). A member is a fixed-width, sortable prefix
``event|created|version|position`` followed by the values as JSON, so among equal event times
Redis orders members exactly as the tie-break rules do; a row lookup is one
``ZRANGE ... BYSCORE REV LIMIT 0 1`` per entity, pipelined, and reads need no scores back.

Atomicity: each chunk of entities is written in one ``MULTI``/``EXEC`` (an entity is never half
written); a full rebuild replaces entity by entity, so a crash mid-rebuild leaves every entity
readable with either its old or its new values, and the next run redoes it. A new definition is
written under a new tag, then the layout switches to it, then the old tag's keys are removed:
readers see the old values or the new ones, never a mix within a view.

Reads have an awaitable twin (:class:`AsyncRedisReads`, ``redis.asyncio``) for an inference
server's event loop: the same commands and reply parsing (``_queue_ranges``, ``_checked``,
``_rows``), so the two paths cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from goldenpath.core.errors import BackendUnavailable, InvalidInput
from goldenpath.features.online.base import (
    NO_CREATED,
    StoredEvent,
    StoredRow,
    ViewLayout,
    redefined,
)

if TYPE_CHECKING:
    import redis as redis_lib

_EV = 20  # the event time again (offset, 20 digits): read without Redis' score parsing
_VER = _EV + 19  # then 19 digits created, 10 version (the source dataset version), 12 position
_PREFIX = _EV + 41
_CHUNK = 2_000
ASYNC_CONNECTIONS = 32  # per event loop (an inference server's): see AsyncRedisReads

# Per entity key: drop rows older than the newest row <= now (ties kept), or events older than
# the window of the newest event <= now. ARGV: now, window (-1 for rows).
_PRUNE = """
local now = ARGV[1]
local window = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  local newest = redis.call(
    'ZRANGE', key, now, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
  if #newest > 0 then
    if window < 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. newest[2])
    else
      local horizon = string.format('%.0f', tonumber(newest[2]) - window)
      redis.call('ZREMRANGEBYSCORE', key, '-inf', horizon)
    end
  end
end
return 0
"""


class RedisOnlineStore:
    """The Redis backend (see the module docstring)."""

    def __init__(self, url: str, *, namespace: str = "gp:") -> None:
        try:
            import redis
        except ModuleNotFoundError:
            raise InvalidInput(
                "the Redis online store needs the redis package",
                hint="install it with: pip install 'goldenpath[redis]'",
            ) from None
        self._url = url
        self._ns = namespace
        self._redis: redis_lib.Redis = redis.Redis.from_url(url, socket_connect_timeout=5)
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._prune = self._redis.register_script(_PRUNE)
        self._async: AsyncRedisReads | None = None
        try:
            self._redis.ping()
        except self._errors as exc:
            raise BackendUnavailable(
                f"Redis online store unreachable: {exc}",
                hint="check the online URL with: gp status",
            ) from None

    @property
    def identity(self) -> str:
        scheme, _, rest = self._url.partition("://")
        host = rest.rpartition("@")[2]
        return f"{scheme}://{host}#{self._ns}"

    def _key(self, layout: ViewLayout, kind: str, key: str) -> str:
        return f"{self._ns}{layout.view}:{layout.tag}:{kind}:{key}"

    # -- layouts --------------------------------------------------------------------------------

    def layout(self, view: str) -> ViewLayout | None:
        text = self._redis.get(f"{self._ns}{view}:layout")
        return None if text is None else ViewLayout.from_json(text)

    # -- writing --------------------------------------------------------------------------------

    def write(
        self,
        layout: ViewLayout,
        rows: pa.Table,
        events: pa.Table | None,
        *,
        now_us: int,
        replace: bool = False,
    ) -> None:
        previous = self.layout(layout.view)
        retag = previous is not None and previous.definition_hash != layout.definition_hash
        written: set[str] = set()
        for kind, data in (("r", rows), ("e", events if layout.retention_us > 0 else None)):
            if data is None or data.num_rows == 0:
                continue
            keys = data.column("__key").to_pylist()
            members = _members(data)
            scores = data.column("__ev").to_pylist()
            by_key: dict[str, dict[str, int]] = {}
            for key, member, score in zip(keys, members, scores, strict=True):
                by_key.setdefault(key, {})[member] = score
            names = list(by_key)
            for start in range(0, len(names), _CHUNK):
                chunk = names[start : start + _CHUNK]
                with self._redis.pipeline(transaction=True) as pipe:
                    for key in chunk:
                        name = self._key(layout, kind, key)
                        if replace:
                            pipe.delete(name)
                        pipe.zadd(name, by_key[key])
                    pipe.execute()
                redis_keys = [self._key(layout, kind, key) for key in chunk]
                written.update(redis_keys)
                if not replace:
                    window = -1 if kind == "r" else layout.retention_us
                    self._prune(keys=redis_keys, args=[now_us, window])
        self._redis.set(f"{self._ns}{layout.view}:layout", layout.to_json())
        if replace or retag:
            self._remove_others(layout, written if replace else None)

    def _remove_others(self, layout: ViewLayout, keep: set[str] | None) -> None:
        """Delete the view's keys of other definitions, and (``keep`` given) this
        definition's keys that are not in ``keep``."""
        current = f"{self._ns}{layout.view}:{layout.tag}:"
        layout_key = f"{self._ns}{layout.view}:layout"
        doomed: list[bytes] = []
        for raw in self._redis.scan_iter(match=f"{_glob(self._ns + layout.view)}:*", count=1000):
            name = raw.decode()
            if name == layout_key:
                continue
            if name.startswith(current) and (keep is None or name in keep):
                continue
            doomed.append(raw)
            if len(doomed) >= _CHUNK:
                self._redis.unlink(*doomed)
                doomed = []
        if doomed:
            self._redis.unlink(*doomed)

    def drop(self, view: str) -> None:
        for raw in self._redis.scan_iter(match=f"{_glob(self._ns + view)}:*", count=1000):
            self._redis.unlink(raw)

    # -- reading --------------------------------------------------------------------------------

    def read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]:
        if not keys:
            return []
        replies = self._read(
            layout,
            [(self._key(layout, "r", key), at_us, "-inf", True) for key in keys],
        )
        return _rows(replies)

    def read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]:
        if layout.retention_us == 0 or not keys:
            return [[] for _ in keys]
        replies = self._read(
            layout,
            [(self._key(layout, "e", key), f"({start_us}", end_us, False) for key in keys],
        )
        return [_events(reply) for reply in replies]

    def oldest_rows(self, layout: ViewLayout, keys: Sequence[str]) -> list[int | None]:
        if not keys:
            return []
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(f"{self._ns}{layout.view}:layout")
                for key in keys:
                    pipe.zrange(self._key(layout, "r", key), 0, 0)  # the lowest member
                replies = pipe.execute()
        except self._errors as exc:
            raise BackendUnavailable(f"Redis online store unreachable: {exc}") from None
        return [int(r[0][:_EV]) + NO_CREATED if r else None for r in _checked(layout, replies)]

    def entity_keys(self, layout: ViewLayout, limit: int) -> list[str]:
        stored = self.layout(layout.view)
        if stored is None or stored.definition_hash != layout.definition_hash:
            raise redefined(layout.view)
        prefix = self._key(layout, "r", "")
        found: list[str] = []
        try:
            for raw in self._redis.scan_iter(match=_glob(prefix) + "*", count=1000):
                found.append(raw.decode()[len(prefix) :])
                if len(found) >= limit:
                    break
        except self._errors as exc:
            raise BackendUnavailable(f"Redis online store unreachable: {exc}") from None
        return found

    def _read(self, layout: ViewLayout, ranges: list[tuple[str, Any, Any, bool]]) -> list[Any]:
        """One round trip: the view's layout (to check the definition) and each range, by
        score (``newest``: only the greatest member at or below the first bound)."""
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                _queue_ranges(pipe, f"{self._ns}{layout.view}:layout", ranges)
                replies = pipe.execute()
        except self._errors as exc:
            raise BackendUnavailable(f"Redis online store unreachable: {exc}") from None
        return _checked(layout, replies)

    def async_reads(self) -> AsyncRedisReads:
        """The reads on the running event loop (``redis.asyncio``), made once per loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        if self._async is None or self._async.loop is not loop:
            self._async = AsyncRedisReads(self, loop)
        return self._async

    def close(self) -> None:
        self._redis.close()


class AsyncRedisReads:
    """:class:`RedisOnlineStore`'s reads as coroutines (``redis.asyncio``), for one event loop.

    At most :data:`ASYNC_CONNECTIONS` connections: while Redis stalls, waiting lookups queue
    for a connection (and meet their time limit there) instead of opening one each. A lookup
    cancelled mid-read drops its connection (redis-py disconnects on cancellation), so the
    next lookup never reads the stale reply."""

    def __init__(self, store: RedisOnlineStore, loop: Any) -> None:
        import redis.asyncio as aioredis

        self.loop = loop
        self._store = store
        pool = aioredis.BlockingConnectionPool.from_url(
            store._url, max_connections=ASYNC_CONNECTIONS, timeout=None, socket_connect_timeout=5
        )
        self._redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)

    async def read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]:
        if not keys:
            return []
        key = self._store._key
        replies = await self._read(
            layout, [(key(layout, "r", k), at_us, "-inf", True) for k in keys]
        )
        return _rows(replies)

    async def read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]:
        if layout.retention_us == 0 or not keys:
            return [[] for _ in keys]
        key = self._store._key
        replies = await self._read(
            layout, [(key(layout, "e", k), f"({start_us}", end_us, False) for k in keys]
        )
        return [_events(reply) for reply in replies]

    async def oldest_rows(self, layout: ViewLayout, keys: Sequence[str]) -> list[int | None]:
        if not keys:
            return []
        store = self._store
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(f"{store._ns}{layout.view}:layout")
                for key in keys:
                    pipe.zrange(store._key(layout, "r", key), 0, 0)
                replies = await pipe.execute()
        except store._errors as exc:
            raise BackendUnavailable(f"Redis online store unreachable: {exc}") from None
        return [int(r[0][:_EV]) + NO_CREATED if r else None for r in _checked(layout, replies)]

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _read(
        self, layout: ViewLayout, ranges: list[tuple[str, Any, Any, bool]]
    ) -> list[Any]:
        store = self._store
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                _queue_ranges(pipe, f"{store._ns}{layout.view}:layout", ranges)
                replies = await pipe.execute()
        except store._errors as exc:
            raise BackendUnavailable(f"Redis online store unreachable: {exc}") from None
        return _checked(layout, replies)


def _queue_ranges(pipe: Any, layout_key: str, ranges: list[tuple[str, Any, Any, bool]]) -> None:
    """Queue the layout's GET and each range read (``newest``: only the greatest member at or
    below the first bound) on a pipeline, sync or async alike."""
    pipe.get(layout_key)
    for name, low, high, newest in ranges:
        if newest:
            pipe.zrange(name, low, high, byscore=True, desc=True, offset=0, num=1)
        else:
            pipe.zrange(name, low, high, byscore=True)


def _checked(layout: ViewLayout, replies: list[Any]) -> list[Any]:
    """The replies after the layout's, if the layout is still the one planned with."""
    stored = replies[0]
    if stored is None or layout.definition_hash.encode() not in stored:
        raise redefined(layout.view)
    return list(replies[1:])


def _rows(replies: list[Any]) -> list[StoredRow | None]:
    found: list[StoredRow | None] = []
    for reply in replies:
        if not reply:
            found.append(None)
        else:
            member = reply[0]
            event = int(member[:_EV]) + NO_CREATED
            found.append(
                (event, tuple(json.loads(member[_PREFIX:])), int(member[_VER : _VER + 10]))
            )
    return found


def _glob(text: str) -> str:
    """``text`` with Redis glob characters escaped (view names are plain, the namespace may
    not be)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _events(reply: list[bytes]) -> list[StoredEvent]:
    """Members as events: every JSON value list parsed in one call (the hot path for a busy
    entity: a thousand ``json.loads`` cost ten times one)."""
    if not reply:
        return []
    values = json.loads(b"[" + b",".join(m[_PREFIX:] for m in reply) + b"]")
    return [
        (int(m[:_EV]) + NO_CREATED, tuple(v), int(m[_VER : _VER + 10]))
        for m, v in zip(reply, values, strict=True)
    ]


def _members(data: pa.Table) -> list[str]:
    """Each row's sorted-set member: the tie-break prefix, then the values as JSON."""
    created = data.column("__cr").to_pylist()
    versions = data.column("__ver").to_pylist()
    positions = data.column("__pos").to_pylist()
    values = [_native(data.column(i)) for i in range(5, data.num_columns)]
    events = data.column("__ev").to_pylist()
    rows = list(zip(*values, strict=True)) if values else [()] * data.num_rows
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return [
        f"{e - NO_CREATED:020d}{c - NO_CREATED:019d}{v:010d}{p:012d}{dumps(list(row))}"
        for e, c, v, p, row in zip(events, created, versions, positions, rows, strict=True)
    ]


def _native(column: pa.ChunkedArray) -> list[Any]:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return list(column.to_pylist())
