"""The decision path: identity → store → engine, failing closed at every step."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.engine.errors import DecisionError, StoreUnavailable
from service.engine.evaluate import build_request, evaluate
from service.engine.model import Action, Decision, Principal, StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.identity.claims import issuer_for, principal_from_claims
from service.identity.tokens import TokenVerifier
from service.policy_holder import PolicyHolder
from service.settings import IssuerSettings
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
    principal_id: str | None


class DecisionService:
    """Makes decisions; every failure becomes a deny with a code."""

    def __init__(
        self,
        *,
        policies: PolicyHolder,
        sessions: async_sessionmaker[AsyncSession],
        verifier: TokenVerifier,
        issuers: list[IssuerSettings],
    ) -> None:
        self._policies = policies
        self._sessions = sessions
        self._verifier = verifier
        self._issuers = issuers

    async def decide(self, identity: Identity, action: Action) -> Outcome:
        """Decide one action for one identity. Never raises."""
        started = time.perf_counter()
        decision_id = new_decision_id()
        snapshot = self._policies.current  # in-flight decisions finish on this set
        version = snapshot.version if snapshot else NO_POLICY_VERSION
        principal: Principal | None = None
        try:
            if snapshot is None:
                raise DecisionError("no policy set is loaded")
            principal = await self._principal(identity)
            request = build_request(snapshot, principal, action, int(time.time()))
            stored = await self._load(principal.id)
            decision = evaluate(snapshot, principal, stored, request, action.gateway)
        except DecisionError as exc:
            decision = Decision.deny(exc.code, str(exc), version)
        except Exception as exc:
            log.exception("decision %s failed", decision_id)
            decision = Decision.deny("evaluation_error", type(exc).__name__, version)
        outcome = Outcome(decision_id, decision, principal.id if principal else None)
        log_decision(outcome, action, time.perf_counter() - started)
        return outcome

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
        claims = identity.claims or {}
        return principal_from_claims(claims, issuer_for(claims, self._issuers))

    async def _load(self, principal_id: str) -> StoredPrincipal:
        try:
            async with self._sessions() as session:
                return await load_principal(
                    session=session, principal_id=principal_id, now=datetime.now(UTC)
                )
        except Exception as exc:
            log.warning("store unavailable: %s", type(exc).__name__)
            raise StoreUnavailable("the role store could not be read") from exc


def log_decision(outcome: Outcome, action: Action, seconds: float) -> None:
    decision = outcome.decision
    # Argument values and tokens are never logged; argument names are.
    log.info(
        "decision",
        extra={
            "decision_id": outcome.decision_id,
            "principal": outcome.principal_id,
            "method": action.method,
            "tool": action.tool,
            "argument_names": sorted(action.arguments or {}),
            "gateway": action.gateway,
            "decision": "allow" if decision.allowed else "deny",
            "code": decision.code,
            "reasons": list(decision.reasons),
            "policy_version": decision.policy_version,
            "latency_us": int(seconds * 1e6),
        },
    )
