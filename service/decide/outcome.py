"""What a decision returns: the answer, its id, and who it was about."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

from service.engine.model import Decision, Principal
from service.engine.policies import PolicySnapshot

NO_POLICY_VERSION = "none"


def new_decision_id() -> str:
    """A time-ordered id (UUIDv7 layout): sorts by when the decision was made."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def version_of(snapshot: PolicySnapshot | None) -> str:
    """The policy version a decision names: the snapshot's, or `none` while none is loaded."""
    return snapshot.version if snapshot is not None else NO_POLICY_VERSION


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
