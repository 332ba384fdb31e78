"""Two cache levels for decisions, and the rules for what may be cached and for how long.

Validity: an entry holds the data generations it was made under and is only
served while they are current (the caller reads them from the database, or
keeps them while change notices arrive: store/changes.py); the policy
version and the whole request are in its key. When the generations cannot be
read, only a cached deny is served: a write may have committed just before
the store went away, so a cached allow may already be revoked. Lifetime: `cache_ttl_seconds`
for allows, `cache_deny_ttl_seconds` for denies, never past the token's `exp`
nor the earliest expiry among the principal's role assignments. Never cached:
errors (any code but `no_policy`, any Cedar error) and requests of a policy
set that may read the request time.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from service.cache.digest import Uncacheable, local_key, request_digest, shared_key
from service.cache.local import Entry, LocalCache
from service.cache.remote import RedisLevel, open_redis
from service.engine.model import Action, Decision, Principal, ShadowEffect, StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.observability.metrics import Metrics
from service.settings import Settings
from service.store.generations import Generations

CACHEABLE_CODES = frozenset({None, "no_policy"})  # a policy's verdict or the default deny


class DecisionCache:
    """The in-process LRU in front of Redis (when configured)."""

    def __init__(
        self,
        *,
        local: LocalCache,
        remote: RedisLevel | None,
        allow_ttl: float,
        deny_ttl: float,
        metrics: Metrics,
    ) -> None:
        self._local = local
        self._remote = remote
        self._allow_ttl = allow_ttl
        self._deny_ttl = deny_ttl
        self._metrics = metrics

    def digest(self, snapshot: PolicySnapshot, principal: Principal, action: Action) -> str | None:
        """The request's digest, or None when this request must not be cached."""
        if not snapshot.reads_time:
            try:
                return request_digest(principal, action)
            except Uncacheable:
                pass
        self._metrics.cache.labels(level="all", result="bypass").inc()
        return None

    async def get(
        self, version: str, digest: str, generations: Generations | None
    ) -> Decision | None:
        """A cached decision made under `generations`.

        `generations` None means the store cannot be read: a local deny is served
        until it expires (failing closed either way), an allow never, since the
        write that revoked it may have committed just before the store went away.
        """
        now = time.time()
        key = local_key(version, digest)
        entry = self._local.get(key, now)
        if entry is not None and _servable(entry, generations):
            self._metrics.cache.labels(level="local", result="hit").inc()
            return entry.decision
        self._metrics.cache.labels(level="local", result="miss").inc()
        if self._remote is None or generations is None:
            return None
        if not self._remote.available:
            self._metrics.cache.labels(level="redis", result="skipped").inc()
            return None
        raw = await self._remote.get(shared_key(version, generations, digest))
        entry = decode(raw, version, generations, now) if raw is not None else None
        if entry is None:
            self._metrics.cache.labels(level="redis", result="miss").inc()
            return None
        self._metrics.cache.labels(level="redis", result="hit").inc()
        self._local.put(key, entry)
        return entry.decision

    async def put(
        self,
        digest: str,
        generations: Generations,
        decision: Decision,
        principal: Principal,
        stored: StoredPrincipal,
    ) -> None:
        """Keep `decision` if it may be cached, for as long as it may be."""
        if decision.code not in CACHEABLE_CODES or decision.errors:
            return
        now = time.time()
        expires_at = now + (self._allow_ttl if decision.allowed else self._deny_ttl)
        if principal.token.expires_at > 0:
            expires_at = min(expires_at, float(principal.token.expires_at))
        if stored.roles_valid_until is not None:
            expires_at = min(expires_at, stored.roles_valid_until)
        if expires_at <= now:
            return
        entry = Entry(decision, generations, expires_at)
        version = decision.policy_version
        self._local.put(local_key(version, digest), entry)
        if self._remote is not None:
            ttl_ms = int((expires_at - now) * 1000)
            await self._remote.set(shared_key(version, generations, digest), encode(entry), ttl_ms)


def _servable(entry: Entry, generations: Generations | None) -> bool:
    if generations is None:  # the store cannot be read: a deny fails closed anyway
        return not entry.decision.allowed
    return entry.generations == generations


def encode(entry: Entry) -> bytes:
    """An entry as Redis keeps it."""
    d = entry.decision
    shadow = [d.shadow.allowed, list(d.shadow.policies)] if d.shadow else None
    document = {
        "allowed": d.allowed,
        "version": d.policy_version,
        "reasons": list(d.reasons),
        "code": d.code,
        "scopes": list(d.required_scopes),
        "shadow": shadow,
        "generations": [entry.generations.store, entry.generations.principal],
        "expires_at": entry.expires_at,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode(raw: bytes, version: str, generations: Generations, now: float) -> Entry | None:
    """The entry in `raw` if it is well formed and still valid for this lookup, else None."""
    try:
        document: dict[str, Any] = json.loads(raw)
        shadow = document["shadow"]
        decision = Decision(
            allowed=document["allowed"] is True,
            policy_version=str(document["version"]),
            reasons=tuple(str(r) for r in document["reasons"]),
            code=document["code"],
            required_scopes=tuple(str(s) for s in document["scopes"]),
            shadow=ShadowEffect(shadow[0] is True, tuple(shadow[1])) if shadow else None,
        )
        stored = Generations(*(str(g) for g in document["generations"]))
        expires_at = float(document["expires_at"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    valid = (
        decision.policy_version == version
        and stored == generations
        and expires_at > now
        and decision.code in CACHEABLE_CODES
    )
    return Entry(decision, stored, expires_at) if valid else None


@asynccontextmanager
async def open_cache(settings: Settings, metrics: Metrics) -> AsyncIterator[DecisionCache | None]:
    """The configured cache (None when `cache_enabled` is off); closes Redis at the end."""
    if not settings.cache_enabled:
        yield None
        return
    client = open_redis(settings.redis_url, settings.redis_timeout_seconds)
    remote = (
        RedisLevel(
            client,
            timeout_seconds=settings.redis_timeout_seconds,
            retry_seconds=settings.redis_retry_seconds,
            metrics=metrics,
        )
        if client is not None
        else None
    )
    try:
        yield DecisionCache(
            local=LocalCache(settings.cache_max_entries),
            remote=remote,
            allow_ttl=settings.cache_ttl_seconds,
            deny_ttl=settings.cache_deny_ttl_seconds,
            metrics=metrics,
        )
    finally:
        if client is not None:
            await client.aclose()
