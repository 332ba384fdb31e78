"""The decision path: identity → store → engine, failing closed at every step."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.cache.decision_cache import DecisionCache
from service.engine.errors import DecisionError, StoreUnavailable
from service.engine.evaluate import build_request, evaluate
from service.engine.model import Action, Decision, Principal, StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.identity.claims import check_times, issuer_for, principal_from_claims
from service.identity.tokens import TokenVerifier
from service.observability.decision_log import DecisionLog
from service.observability.metrics import Metrics
from service.observability.request_context import current_request_id
from service.policies.holder import PolicyHolder
from service.settings import IssuerSettings
from service.store import generations
from service.store.changes import ChangeFeed
from service.store.generations import Generations
from service.store.principals import load_principal

log = logging.getLogger("mcp_pdp.decisions")
NO_POLICY_VERSION = "none"


def new_decision_id() -> str:
    """A time-ordered id (UUIDv7 layout): sorts by when the decision was made."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


@dataclass(frozen=True)
class Identity:
    """Who the caller says the user is: a raw token or already-verified claims."""

    token: str | None = None
    claims: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """A decision with its id and the principal it was made for."""

    decision_id: str
    decision: Decision
    principal: Principal | None
    cached: bool = False  # served from the decision cache, not evaluated

    @property
    def principal_id(self) -> str | None:
        """The principal's id, when identity got that far."""
        return self.principal.id if self.principal else None


class DecisionService:
    """Makes decisions; every failure becomes a deny with a code."""

    def __init__(
        self,
        *,
        policies: PolicyHolder,
        sessions: async_sessionmaker[AsyncSession],
        verifier: TokenVerifier,
        issuers: list[IssuerSettings],
        leeway_seconds: float,
        metrics: Metrics,
        decision_log: DecisionLog | None = None,
        log_arguments: frozenset[str] = frozenset(),
        cache: DecisionCache | None = None,
        changes: ChangeFeed | None = None,
    ) -> None:
        self._policies = policies
        self._sessions = sessions
        self._verifier = verifier
        self._issuers = issuers
        self._leeway = leeway_seconds
        self._metrics = metrics
        self._decision_log = decision_log
        self._log_arguments = log_arguments
        self._cache = cache
        self._changes = changes

    async def decide(
        self, identity: Identity, action: Action, *, caller: str | None = None
    ) -> Outcome:
        """Decide one action for one identity. Never raises."""
        started = time.perf_counter()
        decision_id = new_decision_id()
        snapshot = self._policies.current  # in-flight decisions finish on this set
        version = snapshot.version if snapshot else NO_POLICY_VERSION
        principal: Principal | None = None
        cached = False
        try:
            if snapshot is None:
                raise DecisionError("no policy set is loaded")
            # Token verification is never cached: the cache is keyed on its result.
            principal = await self._principal(identity)
            decision, cached = await self._decide(snapshot, principal, action)
        except DecisionError as exc:
            decision = Decision.deny(exc.code, str(exc), version)
        except Exception as exc:
            log.exception("decision %s failed", decision_id)
            decision = Decision.deny("evaluation_error", type(exc).__name__, version)
        outcome = Outcome(decision_id, decision, principal, cached)
        self.record(outcome, action, time.perf_counter() - started, caller)
        return outcome

    async def _decide(
        self, snapshot: PolicySnapshot, principal: Principal, action: Action
    ) -> tuple[Decision, bool]:
        """The decision and whether it came from the cache; raises DecisionError."""
        cache = self._cache
        digest = cache.digest(snapshot, principal, action) if cache else None
        if cache is None or digest is None:
            request = build_request(snapshot, principal, action, int(time.time()))
            stored = await self._load(principal.id)
            return evaluate(snapshot, principal, stored, request, action.gateway), False
        # One ticket for both reads: if a change is announced meanwhile, neither is kept.
        ticket = self._changes.ticket() if self._changes else 0
        # The generations are read before the data, so an entry is never stored under
        # generations newer than what it was computed from.
        current = await self._generations(principal.id, ticket)
        hit = await cache.get(snapshot.version, digest, current)
        if hit is not None:
            return hit, True
        if current is None:
            raise StoreUnavailable("the role store could not be read")
        request = build_request(snapshot, principal, action, int(time.time()))
        stored = await self._load(principal.id, ticket)
        decision = evaluate(snapshot, principal, stored, request, action.gateway)
        await cache.put(digest, current, decision, principal, stored)
        return decision, False

    async def _generations(self, principal_id: str, ticket: int) -> Generations | None:
        """The current data generations, or None when the store cannot be read."""
        changes = self._changes
        if changes is not None:
            kept = changes.generations(principal_id)
            if kept is not None:
                return kept  # no notice since they were read: still current
        engine: AsyncEngine = self._sessions.kw["bind"]
        try:
            async with engine.connect() as connection:
                current = await generations.read(session=connection, principal_id=principal_id)
        except Exception as exc:
            self._metrics.store_errors.labels(store="database").inc()
            log.warning("store unavailable: %s", type(exc).__name__)
            return None
        if changes is not None:
            changes.keep_generations(principal_id, current, ticket)
        return current

    def record(self, outcome: Outcome, action: Action, seconds: float, caller: str | None) -> None:
        """Count the decision in metrics and queue its decision log record."""
        decision = outcome.decision
        self._metrics.decided(decision.allowed, decision.code, action.method)
        self._metrics.decision_latency.observe(seconds)
        if decision.shadow is not None:
            would_be = "allow" if decision.shadow.allowed else "deny"
            changed = str(decision.shadow.allowed != decision.allowed).lower()
            self._metrics.shadow.labels(would_be, changed).inc()
        if self._decision_log is not None:
            entry = log_entry(outcome, action, seconds, caller, self._log_arguments)
            self._decision_log.record(entry)

    @property
    def snapshot(self) -> PolicySnapshot | None:
        """The active policy snapshot; callers keep it for the whole request."""
        return self._policies.current

    async def subject(self, identity: Identity) -> tuple[Principal, StoredPrincipal]:
        """Who the identity names and what the store holds for them; raises DecisionError."""
        principal = await self._principal(identity)
        return principal, await self._load(principal.id)

    async def _principal(self, identity: Identity) -> Principal:
        if identity.token is not None:
            claims, issuer = await self._verifier.verify(identity.token)
            return principal_from_claims(claims, issuer)
        # Trusted claims were verified by the caller, but perhaps long ago: the
        # issuer match and the time checks are still ours to make.
        claims = identity.claims or {}
        issuer = issuer_for(claims, self._issuers)
        check_times(claims, leeway=self._leeway, now=time.time())
        return principal_from_claims(claims, issuer)

    async def _load(self, principal_id: str, ticket: int | None = None) -> StoredPrincipal:
        changes = self._changes
        if changes is not None:
            kept = changes.stored(principal_id, time.time())
            if kept is not None:
                return kept
            ticket = changes.ticket() if ticket is None else ticket
        try:
            async with self._sessions() as session:
                stored = await load_principal(
                    session=session, principal_id=principal_id, now=datetime.now(UTC)
                )
        except Exception as exc:
            self._metrics.store_errors.labels(store="database").inc()
            log.warning("store unavailable: %s", type(exc).__name__)
            raise StoreUnavailable("the role store could not be read") from exc
        if changes is not None and ticket is not None:
            changes.keep_stored(principal_id, stored, ticket)
        return stored


def log_entry(
    outcome: Outcome,
    action: Action,
    seconds: float,
    caller: str | None,
    log_arguments: frozenset[str],
) -> dict[str, Any]:
    """The decision log record: never a token or key; argument values only when listed."""
    decision = outcome.decision
    token = outcome.principal.token if outcome.principal else None
    arguments = action.arguments or {}
    return {
        "decision_id": outcome.decision_id,
        "time": datetime.now(UTC).isoformat(),
        "principal_id": outcome.principal_id,
        "issuer": token.issuer if token else "",
        "client_id": token.client_id if token else "",
        "method": action.method,
        "tool": action.tool,
        "gateway": action.gateway,
        "decision": "allow" if decision.allowed else "deny",
        "code": decision.code,
        "reasons": list(decision.reasons),
        "shadow": _shadow(decision),
        "policy_version": decision.policy_version,
        "cached": outcome.cached,
        "latency_us": int(seconds * 1e6),
        "caller": caller,
        "request_id": current_request_id.get(),
        "argument_names": sorted(arguments),
        "arguments": {k: v for k, v in arguments.items() if k in log_arguments},
    }


def _shadow(decision: Decision) -> dict[str, Any] | None:
    if decision.shadow is None:
        return None
    return {
        "decision": "allow" if decision.shadow.allowed else "deny",
        "policies": list(decision.shadow.policies),
    }
