"""The active policy snapshot, swapped whole; the last good set keeps serving."""

from __future__ import annotations

from dataclasses import dataclass

from service.engine.policies import PolicySnapshot


@dataclass
class PolicyHolder:
    """Holds the active snapshot and the last load error, if any."""

    current: PolicySnapshot | None = None
    last_error: str | None = None

    def activate(self, snapshot: PolicySnapshot) -> None:
        """Swap in a new snapshot; readers holding the old one finish on it."""
        self.current = snapshot
        self.last_error = None

    def fail(self, message: str) -> None:
        """Record a failed load without touching the active snapshot."""
        self.last_error = message
