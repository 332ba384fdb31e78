"""What the decision service is handed: where policies and a principal's stored facts come from.

The service sees these interfaces only. The running app hands it the policy
folder (service/policies/provider.py) and the database behind its change feed
(service/store/facts.py); the CLI's `decide` and the policy test runner hand it
a fixed snapshot and fixed facts (service/decide/fixed.py).
"""

from __future__ import annotations

from typing import Protocol

from service.engine.model import StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.store.generations import Generations


class PolicyProvider(Protocol):
    """The active policy snapshot; a decision keeps the one it started with."""

    @property
    def current(self) -> PolicySnapshot | None:
        """The snapshot to decide on, or None while none is loaded."""
        ...


class FactsRead(Protocol):
    """One consistent read of a principal's stored facts (what a cache entry depends on)."""

    async def generations(self) -> Generations | None:
        """The data generations the principal's decisions depend on; None when unreadable."""
        ...

    async def stored(self) -> StoredPrincipal:
        """Unexpired roles, attributes and the role graph; raises StoreUnavailable."""
        ...


class FactsProvider(Protocol):
    """Stored roles and attributes of principals."""

    def read(self, principal_id: str) -> FactsRead:
        """Begin a read of one principal's facts."""
        ...
