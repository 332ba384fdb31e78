"""Many answers for one principal: a batch of decisions, a filtered tool list.

Both resolve the principal, read the store and parse the entities once, then
evaluate every item on them. Both fail closed item by item: an item that
cannot be decided is a deny (or a withheld tool) with a code, and an error that
hits the principal denies every item with that code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.decide.service import (
    NO_POLICY_VERSION,
    DecisionService,
    Identity,
    Outcome,
    new_decision_id,
)
from service.engine.entities import principal_ancestors
from service.engine.errors import DecisionError
from service.engine.evaluate import CedarRequest, build_request, evaluate_many, prepare_entities
from service.engine.filtering import ToolVerdict, filter_tools
from service.engine.model import Action, Decision, Principal

log = logging.getLogger("mcp_pdp.decisions")
INVALID_ITEM = Action(method="(invalid)")


async def decide_batch(
    service: DecisionService,
    identity: Identity,
    items: Sequence[Action | DecisionError],
    *,
    caller: str | None = None,
) -> list[Outcome]:
    """Decide each item for one identity, in order. Never raises."""
    started = time.perf_counter()
    snapshot = service.snapshot
    version = snapshot.version if snapshot else NO_POLICY_VERSION
    decisions: list[Decision | None] = [
        Decision.deny(item.code, str(item), version) if isinstance(item, DecisionError) else None
        for item in items
    ]
    principal: Principal | None = None
    try:
        if snapshot is None:
            raise DecisionError("no policy set is loaded")
        principal, stored = await service.subject(identity)
        now = int(time.time())
        pending: list[tuple[int, CedarRequest, str]] = []
        for index, item in enumerate(items):
            if isinstance(item, Action):
                try:
                    pending.append(
                        (index, build_request(snapshot, principal, item, now), item.gateway)
                    )
                except DecisionError as exc:
                    decisions[index] = Decision.deny(exc.code, str(exc), version)
        if pending:
            entities = prepare_entities(snapshot, principal, stored)
            answers = evaluate_many(snapshot, principal, entities, [(r, g) for _, r, g in pending])
            for (index, _, _), answer in zip(pending, answers, strict=True):
                decisions[index] = answer
    except DecisionError as exc:
        decisions = [d or Decision.deny(exc.code, str(exc), version) for d in decisions]
    except Exception as exc:
        log.exception("batch decision failed")
        decisions = [
            d or Decision.deny("evaluation_error", type(exc).__name__, version) for d in decisions
        ]
    seconds = (time.perf_counter() - started) / max(len(items), 1)
    outcomes = []
    for item, decision in zip(items, decisions, strict=True):
        assert decision is not None  # every slot was filled above
        outcome = Outcome(new_decision_id(), decision, principal)
        service.record(outcome, item if isinstance(item, Action) else INVALID_ITEM, seconds, caller)
        outcomes.append(outcome)
    return outcomes


@dataclass(frozen=True)
class Listing:
    """The verdict on each tool of a listing, with its provenance."""

    decision_id: str
    policy_version: str
    principal_id: str | None
    verdicts: list[ToolVerdict]


async def filter_listing(
    service: DecisionService,
    identity: Identity,
    names: Sequence[str],
    gateway: str,
    facts: dict[str, Any],
) -> Listing:
    """Which of these tools the identity could call. Never raises: errors withhold all."""
    started = time.perf_counter()
    decision_id = new_decision_id()
    snapshot = service.snapshot
    version = snapshot.version if snapshot else NO_POLICY_VERSION
    principal_id: str | None = None
    try:
        if snapshot is None:
            raise DecisionError("no policy set is loaded")
        principal, stored = await service.subject(identity)
        principal_id = principal.id
        entities = prepare_entities(snapshot, principal, stored)
        request_facts = {"time": int(time.time()), **facts}
        ancestors = principal_ancestors(principal, stored)
        verdicts = filter_tools(
            snapshot, principal, entities, names, gateway, request_facts, ancestors=ancestors
        )
    except DecisionError as exc:
        verdicts = [ToolVerdict(n, False, exc.code) for n in names]
    except Exception:
        log.exception("tool filter %s failed", decision_id)
        verdicts = [ToolVerdict(n, False, "evaluation_error") for n in names]
    log.info(
        "tool filter",
        extra={
            "decision_id": decision_id,
            "principal": principal_id,
            "gateway": gateway,
            "tools": len(verdicts),
            "listed": sum(v.listed for v in verdicts),
            "withheld": sorted({v.name for v in verdicts if not v.listed}),
            "policy_version": version,
            "latency_us": int((time.perf_counter() - started) * 1e6),
        },
    )
    return Listing(decision_id, version, principal_id, verdicts)


def withhold_all(service: DecisionService, names: Sequence[str], code: str) -> Listing:
    """A listing that withholds every tool with `code` (an error before any evaluation)."""
    snapshot = service.snapshot
    version = snapshot.version if snapshot else NO_POLICY_VERSION
    verdicts = [ToolVerdict(n, False, code) for n in names]
    return Listing(new_decision_id(), version, None, verdicts)
