"""The decision core: every transport asks through `decide`, `decide_many` or `filter_tools`.

One decision, top to bottom:

    identity       IdentityResolver.principal        token or claims → Principal
    cache key      DecisionCache.digest               the whole request, hashed
    facts          FactsProvider.read → generations   what cached answers depend on
    cache lookup   DecisionCache.get
    facts          FactsRead.stored                   roles, attributes, role graph
    Cedar          build_request + evaluate           pure, on the active snapshot
    cache store    DecisionCache.put
    log            DecisionRecorder.record            metrics and the decision log

Every error on the way ends in a deny with a code (`deny_for`); nothing raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from service.cache.decision_cache import DecisionCache
from service.decide.outcome import Outcome, new_decision_id, version_of
from service.decide.providers import FactsProvider, PolicyProvider
from service.decide.record import DecisionRecorder
from service.engine.entities import principal_ancestors
from service.engine.errors import DecisionError, NoPolicySet, StoreUnavailable
from service.engine.evaluate import (
    CedarRequest,
    build_requests,
    evaluate_many,
    evaluate_parts,
    prepare_entities,
    request_record,
)
from service.engine.filtering import ToolVerdict, filter_tools
from service.engine.model import Action, Decision, Principal
from service.engine.policies import PolicySnapshot
from service.engine.subscriptions import combined
from service.identity.resolver import Identity, IdentityResolver

log = logging.getLogger("mcp_pdp.decisions")
INVALID_ITEM = Action(method="(invalid)")  # how a malformed batch item is logged


def deny_for(exc: BaseException, version: str, what: str) -> Decision:
    """The deny an error ends in: its own code, or `evaluation_error` (logged) for the rest."""
    if isinstance(exc, DecisionError):
        return Decision(False, version, errors=exc.messages, code=exc.code)
    log.error("%s failed", what, exc_info=exc)
    return Decision.deny("evaluation_error", type(exc).__name__, version)


@dataclass(frozen=True)
class Listing:
    """The verdict on each tool of a listing, with its provenance."""

    decision_id: str
    policy_version: str
    principal_id: str | None
    verdicts: list[ToolVerdict]


class DecisionService:
    """Decides with the providers it is handed; a fake provider is enough to test it."""

    def __init__(
        self,
        *,
        policies: PolicyProvider,
        facts: FactsProvider,
        identity: IdentityResolver,
        cache: DecisionCache | None = None,
        recorder: DecisionRecorder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policies = policies
        self._facts = facts
        self._identity = identity
        self._cache = cache
        self._recorder = recorder or DecisionRecorder()
        self._clock = clock

    @property
    def snapshot(self) -> PolicySnapshot | None:
        """The active policy snapshot; a request keeps the one it started with."""
        return self._policies.current

    async def decide(
        self,
        identity: Identity,
        action: Action,
        *,
        caller: str | None = None,
        refused: DecisionError | None = None,
    ) -> Outcome:
        """Decide one action for one identity. Never raises.

        `refused`: the transport already knows the answer is this deny (its caller
        could not be authenticated, say); it is still recorded like any decision.
        """
        started = time.perf_counter()
        decision_id = new_decision_id()
        snapshot = self._policies.current  # in-flight decisions finish on this set
        principal: Principal | None = None
        cached = False
        try:
            if refused is not None:
                raise refused
            active = _loaded(snapshot)
            principal = await self._identity.principal(identity)
            decision, cached = await self._decide(active, principal, action)
        except Exception as exc:
            decision = deny_for(exc, version_of(snapshot), f"decision {decision_id}")
        outcome = Outcome(decision_id, decision, principal, cached)
        self._recorder.record(outcome, action, time.perf_counter() - started, caller)
        return outcome

    async def _decide(
        self, snapshot: PolicySnapshot, principal: Principal, action: Action
    ) -> tuple[Decision, bool]:
        """The decision and whether it came from the cache; raises DecisionError."""
        cache = self._cache
        digest = cache.digest(snapshot, principal, action) if cache else None
        read = self._facts.read(principal.id)
        if cache is None or digest is None:
            requests = build_requests(snapshot, principal, action, int(self._clock()))
            stored = await read.stored()
            return evaluate_parts(snapshot, principal, stored, requests, action.gateway), False
        current = await read.generations()
        hit = await cache.get(snapshot.version, digest, current)
        if hit is not None:
            return hit, True
        if current is None:
            raise StoreUnavailable("the role store could not be read")
        requests = build_requests(snapshot, principal, action, int(self._clock()))
        stored = await read.stored()
        decision = evaluate_parts(snapshot, principal, stored, requests, action.gateway)
        await cache.put(digest, current, decision, principal, stored)
        return decision, False

    async def decide_many(
        self,
        identity: Identity,
        items: Sequence[Action | DecisionError],
        *,
        caller: str | None = None,
    ) -> list[Outcome]:
        """Decide each item for one identity, in order, on one read of its facts. Never raises.

        An item that is already an error (malformed, refused) is a deny with its code;
        the others are unaffected by it.
        """
        started = time.perf_counter()
        snapshot = self._policies.current
        version = version_of(snapshot)
        decisions: list[Decision | None] = [
            deny_for(item, version, "batch item") if isinstance(item, DecisionError) else None
            for item in items
        ]
        principal: Principal | None = None
        try:
            active = _loaded(snapshot)
            principal = await self._identity.principal(identity)
            pending = self._requests(active, principal, items, decisions)
            if pending:
                stored = await self._facts.read(principal.id).stored()
                entities = prepare_entities(active, principal, stored)
                flat = [(r, gateway) for _, requests, gateway in pending for r in requests]
                answers = iter(evaluate_many(active, principal, entities, flat))
                for index, requests, _ in pending:
                    decisions[index] = combined([next(answers) for _ in requests])
        except Exception as exc:
            failed = deny_for(exc, version, "batch decision")
            decisions = [d or failed for d in decisions]
        seconds = (time.perf_counter() - started) / max(len(items), 1)
        outcomes = []
        for item, decision in zip(items, decisions, strict=True):
            assert decision is not None  # every slot was filled above
            outcome = Outcome(new_decision_id(), decision, principal)
            logged = item if isinstance(item, Action) else INVALID_ITEM
            self._recorder.record(outcome, logged, seconds, caller)
            outcomes.append(outcome)
        return outcomes

    def _requests(
        self,
        snapshot: PolicySnapshot,
        principal: Principal,
        items: Sequence[Action | DecisionError],
        decisions: list[Decision | None],
    ) -> list[tuple[int, list[CedarRequest], str]]:
        """The Cedar requests of each item that maps to some; the others get their deny."""
        now = int(self._clock())
        pending = []
        for index, item in enumerate(items):
            if isinstance(item, Action):
                try:
                    requests = build_requests(snapshot, principal, item, now)
                except DecisionError as exc:
                    decisions[index] = deny_for(exc, snapshot.version, "batch item")
                else:
                    pending.append((index, requests, item.gateway))
        return pending

    async def filter_tools(
        self,
        identity: Identity,
        names: Sequence[str],
        gateway: str,
        facts: dict[str, Any],
        *,
        refused: DecisionError | None = None,
    ) -> Listing:
        """Which of these tools the identity could call. Never raises: an error withholds all."""
        started = time.perf_counter()
        decision_id = new_decision_id()
        snapshot = self._policies.current
        version = version_of(snapshot)
        principal_id: str | None = None
        try:
            if refused is not None:
                raise refused
            active = _loaded(snapshot)
            principal = await self._identity.principal(identity)
            principal_id = principal.id
            stored = await self._facts.read(principal.id).stored()
            entities = prepare_entities(active, principal, stored)
            request_facts = request_record(active, {"time": int(self._clock()), **facts})
            ancestors = principal_ancestors(principal, stored)
            verdicts = filter_tools(
                active, principal, entities, names, gateway, request_facts, ancestors=ancestors
            )
        except Exception as exc:
            code = deny_for(exc, version, f"tool filter {decision_id}").code
            verdicts = [ToolVerdict(name, False, code) for name in names]
        self._recorder.listed(
            {
                "decision_id": decision_id,
                "principal": principal_id,
                "gateway": gateway,
                "tools": len(verdicts),
                "listed": sum(v.listed for v in verdicts),
                "withheld": sorted({v.name for v in verdicts if not v.listed}),
                "policy_version": version,
                "latency_us": int((time.perf_counter() - started) * 1e6),
            }
        )
        return Listing(decision_id, version, principal_id, verdicts)


def _loaded(snapshot: PolicySnapshot | None) -> PolicySnapshot:
    if snapshot is None:
        raise NoPolicySet("no policy set is loaded")
    return snapshot
