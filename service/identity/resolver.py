"""Identity: who a decision is about, from a bearer token or from trusted claims."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from service.engine.model import Principal
from service.identity.claims import check_times, issuer_for, principal_from_claims
from service.identity.tokens import NoIssuers, TokenVerifier
from service.settings import IssuerSettings


@dataclass(frozen=True)
class Identity:
    """Who the caller says the user is: a raw token or already-verified claims."""

    token: str | None = None
    claims: dict[str, Any] | None = None


class IdentityResolver:
    """Turns an Identity into a Principal; raises InvalidToken or TokenExpired."""

    def __init__(
        self,
        *,
        verifier: TokenVerifier | None = None,
        issuers: Sequence[IssuerSettings] = (),
        leeway_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = verifier or NoIssuers()
        self._issuers = list(issuers)
        self._leeway = leeway_seconds
        self._clock = clock

    async def principal(self, identity: Identity) -> Principal:
        """The principal a token or claims name. Token verification is never cached."""
        if identity.token is not None:
            claims, issuer = await self._verifier.verify(identity.token)
            return principal_from_claims(claims, issuer)
        # Trusted claims were verified by the caller, but perhaps long ago: the
        # issuer match and the time checks are still ours to make.
        claims = identity.claims or {}
        issuer = issuer_for(claims, self._issuers)
        check_times(claims, leeway=self._leeway, now=self._clock())
        return principal_from_claims(claims, issuer)
