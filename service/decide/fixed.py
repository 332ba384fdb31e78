"""Providers of fixed inputs: one snapshot and one principal's facts, no database.

The CLI's `decide` (with `--roles`) and the policy test runner hand these to the
same DecisionService the server runs, so a test case is decided exactly as a
request would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.engine.model import StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.store.generations import Generations

FIXED = Generations("fixed", "fixed")


@dataclass(frozen=True)
class FixedPolicies:
    """A policy provider that always answers the same snapshot."""

    snapshot: PolicySnapshot

    @property
    def current(self) -> PolicySnapshot:
        """The snapshot."""
        return self.snapshot


@dataclass(frozen=True)
class FixedRead:
    """A read that returns the given facts, whoever the principal is."""

    facts: StoredPrincipal

    async def generations(self) -> Generations:
        """Always the same generations: these facts never change."""
        return FIXED

    async def stored(self) -> StoredPrincipal:
        """The facts."""
        return self.facts


@dataclass(frozen=True)
class FixedFacts:
    """A facts provider that gives every principal the same stored facts."""

    facts: StoredPrincipal = field(default_factory=StoredPrincipal)

    def read(self, principal_id: str) -> FixedRead:
        """A read of the fixed facts."""
        return FixedRead(self.facts)
