"""Access evaluations over the decision core: one, all, or until one decides.

Each evaluation becomes an `Item`: an identity and a call (an `Action`, a
`ToolQuery` for a tool asked without arguments, or the DecisionError it maps
to). `execute_all` decides items of one subject together (`decide_many`, and
one `filter_tools` per gateway for the tools asked without arguments);
`deny_on_first_deny` and `permit_on_first_permit` decide one item at a time and
stop at the first deny or permit: later items are neither evaluated nor logged,
and the answer lists the items up to and including the deciding one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.api.auth import CallerAccess
from service.api.authzen.mapping import (
    ToolQuery,
    call_of,
    decision_answer,
    identity_of,
    listing_answers,
)
from service.api.authzen.models import Evaluation, Evaluations, Semantic
from service.decide.service import INVALID_ITEM, DecisionService
from service.engine.errors import DecisionError, InvalidArguments
from service.engine.model import Action
from service.identity.resolver import Identity

DEFAULTS = ("subject", "action", "resource", "context")


@dataclass(frozen=True)
class Item:
    """One evaluation, mapped: `identity` None when the subject maps to none."""

    identity: Identity | None
    call: Action | ToolQuery | DecisionError
    logged: Action = INVALID_ITEM  # what the decision log names for an error


def item_of(evaluation: Evaluation) -> Item:
    """The identity and call of a valid evaluation; a mapping error is the item's deny."""
    logged = Action(evaluation.action.name)
    try:
        identity = identity_of(evaluation.subject, evaluation.context)
    except DecisionError as exc:
        return Item(None, exc, logged)
    try:
        call: Action | ToolQuery | DecisionError = call_of(
            evaluation.action, evaluation.resource, evaluation.context
        )
    except DecisionError as exc:
        call = exc
    return Item(identity, call, logged)


def merged(defaults: Evaluations, index: int, raw: Any) -> Evaluation | DecisionError:
    """Item `index` with the top-level defaults; a member it sets replaces that default whole."""
    if not isinstance(raw, dict):
        return InvalidArguments(f"evaluations.{index}: must be an object")
    document: dict[str, Any] = {}
    for key in DEFAULTS:
        default = getattr(defaults, key)
        if default is not None:
            document[key] = default if key == "context" else default.model_dump()
    document.update({key: raw[key] for key in DEFAULTS if key in raw})
    try:
        return Evaluation.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return InvalidArguments(f"evaluations.{index}.{where}: {first.get('msg', 'invalid')}")


class Evaluator:
    """Decides items for one caller; never raises (every error is a deny)."""

    def __init__(self, service: DecisionService, access: CallerAccess) -> None:
        self._service = service
        self._caller = access.key_id
        self._refused = access.refused

    async def one(self, item: Item) -> dict[str, Any]:
        """The answer to one item."""
        call, identity = item.call, item.identity
        failed = self._refused or (call if isinstance(call, DecisionError) else None)
        if failed is not None or identity is None or isinstance(call, DecisionError):
            outcome = await self._service.decide(
                identity or Identity(), item.logged, caller=self._caller, refused=failed
            )
            return decision_answer(outcome)
        if isinstance(call, ToolQuery):
            listing = await self._service.filter_tools(
                identity, [call.tool], call.gateway, call.facts
            )
            return listing_answers(listing)[0]
        return decision_answer(await self._service.decide(identity, call, caller=self._caller))

    async def until(self, items: list[Item], semantic: Semantic) -> list[dict[str, Any]]:
        """The answers up to the deciding one (all of them for `execute_all`)."""
        if semantic == "execute_all":
            return await self.all(items)
        answers = []
        for item in items:
            answer = await self.one(item)
            answers.append(answer)
            if answer["decision"] is (semantic == "permit_on_first_permit"):
                break
        return answers

    async def all(self, items: list[Item]) -> list[dict[str, Any]]:
        """Every item's answer, in order; the items of one subject decided together."""
        answers: list[dict[str, Any] | None] = [None] * len(items)
        subjects: dict[str, tuple[Identity, list[int]]] = {}
        for index, item in enumerate(items):
            if item.identity is None or self._refused is not None:
                answers[index] = await self.one(item)
            else:
                key = json.dumps([item.identity.token, item.identity.claims], sort_keys=True)
                subjects.setdefault(key, (item.identity, []))[1].append(index)
        for identity, indices in subjects.values():
            for index, answer in await self._subject(identity, [items[i] for i in indices]):
                answers[indices[index]] = answer
        assert all(answer is not None for answer in answers)  # every slot was filled
        return [answer for answer in answers if answer is not None]

    async def _subject(
        self, identity: Identity, items: list[Item]
    ) -> list[tuple[int, dict[str, Any]]]:
        """(position in `items`, answer) for the items of one subject."""
        concrete: list[tuple[int, Action | DecisionError]] = []
        queries: dict[str, list[tuple[int, ToolQuery]]] = {}
        for i, item in enumerate(items):
            if isinstance(item.call, ToolQuery):
                where = json.dumps([item.call.gateway, item.call.facts], sort_keys=True)
                queries.setdefault(where, []).append((i, item.call))
            else:
                concrete.append((i, item.call))
        found: list[tuple[int, dict[str, Any]]] = []
        if concrete:
            calls = [call for _, call in concrete]
            outcomes = await self._service.decide_many(identity, calls, caller=self._caller)
            found += [(i, decision_answer(o)) for (i, _), o in zip(concrete, outcomes, strict=True)]
        for group in queries.values():
            first = group[0][1]
            names = [query.tool for _, query in group]
            listing = await self._service.filter_tools(identity, names, first.gateway, first.facts)
            answers = listing_answers(listing)
            found += [(i, answer) for (i, _), answer in zip(group, answers, strict=True)]
        return found
