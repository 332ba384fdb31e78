"""The Redis level: shared by replicas, never in the way.

Every call has a short timeout. After a failure, Redis is left alone for
`retry_seconds`; then one call tries again (one quick attempt per interval), and
the failure is logged once per interval. Nothing here raises: an unreachable
Redis is a miss, and the decision is made without it.

Calls made while the event loop is busy with other requests are sent together:
gets as one MGET, sets as one pipeline, when the loop next gets to them. Each
Redis command costs a worker more in the client than in Redis; under load the
misses of concurrent decisions share one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from service.observability.metrics import Metrics

log = logging.getLogger("mcp_pdp.cache")
_PendingSet = tuple[str, bytes, int, "asyncio.Future[None]"]  # key, value, ttl ms, the caller


def open_redis(url: str | None, timeout_seconds: float) -> redis.Redis | None:
    """A client with short socket timeouts and no retries of its own; None without a URL."""
    if url is None:
        return None
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


class RedisLevel:
    """Get and set decision entries in Redis, behind a circuit breaker."""

    def __init__(
        self, client: redis.Redis, *, timeout_seconds: float, retry_seconds: float, metrics: Metrics
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._retry = retry_seconds
        self._metrics = metrics
        self._closed_until = 0.0  # monotonic: skip Redis until then
        self._down = False
        self._logged_at = float("-inf")
        self._gets: list[tuple[str, asyncio.Future[bytes | None]]] = []
        self._sets: list[_PendingSet] = []

    @property
    def available(self) -> bool:
        """False while Redis is being left alone after a failure."""
        return time.monotonic() >= self._closed_until

    async def get(self, key: str) -> bytes | None:
        """The value under `key`; None when absent or Redis is unavailable."""
        if not self._attempt():
            return None
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._gets.append((key, future))
        if len(self._gets) == 1:
            asyncio.get_running_loop().call_soon(self._send_gets)
        return await future

    async def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        """Store `value` for `ttl_ms`; a failure is only logged and counted."""
        if ttl_ms <= 0 or not self._attempt():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sets.append((key, value, ttl_ms, future))
        if len(self._sets) == 1:
            asyncio.get_running_loop().call_soon(self._send_sets)
        await future

    def _send_gets(self) -> None:
        batch, self._gets = self._gets, []
        asyncio.get_running_loop().create_task(self._mget(batch))

    def _send_sets(self) -> None:
        batch, self._sets = self._sets, []
        asyncio.get_running_loop().create_task(self._pipeline_sets(batch))

    async def _mget(self, batch: list[tuple[str, asyncio.Future[bytes | None]]]) -> None:
        values: list[Any] = [None] * len(batch)
        try:
            async with asyncio.timeout(self._timeout):
                values = list(await self._client.mget([key for key, _ in batch]))
        except Exception as exc:
            self._failed(exc)
        else:
            self._succeeded()
        for (_, future), value in zip(batch, values, strict=True):
            if not future.done():  # its request may have been cancelled meanwhile
                future.set_result(value if isinstance(value, bytes) else None)

    async def _pipeline_sets(
        self, batch: list[tuple[str, bytes, int, asyncio.Future[None]]]
    ) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                pipeline = self._client.pipeline(transaction=False)
                for key, value, ttl_ms, _ in batch:
                    pipeline.set(key, value, px=ttl_ms)
                await pipeline.execute()
        except Exception as exc:
            self._failed(exc)
        else:
            self._succeeded()
        for *_, future in batch:
            if not future.done():
                future.set_result(None)

    def _attempt(self) -> bool:
        now = time.monotonic()
        if now < self._closed_until:
            return False
        if self._down:
            # Half open: this call probes; concurrent ones keep skipping meanwhile.
            self._closed_until = now + self._retry
        return True

    def _failed(self, exc: BaseException) -> None:
        self._metrics.store_errors.labels(store="redis").inc()
        now = time.monotonic()
        self._closed_until = now + self._retry
        self._down = True
        # Calls in flight when Redis went away fail together: one line per interval.
        if now - self._logged_at >= self._retry:
            self._logged_at = now
            log.warning(
                "redis unavailable (%s); deciding without it, next try in %g s",
                type(exc).__name__,
                self._retry,
            )

    def _succeeded(self) -> None:
        if self._down:
            self._down = False
            self._closed_until = 0.0
            log.info("redis reachable again; shared caching resumes")
