"""The token path: a raw bearer token → verified claims and its issuer's settings."""

from __future__ import annotations

from typing import Any, Protocol

from service.identity.claims import InvalidToken
from service.settings import IssuerSettings


class TokenVerifier(Protocol):
    """Verifies a bearer token; raises InvalidToken or TokenExpired."""

    async def verify(self, token: str) -> tuple[dict[str, Any], IssuerSettings]:
        """Return the token's claims and the issuer that signed it."""
        ...


class NoIssuers:
    """The verifier while no issuer is configured: every token is invalid."""

    async def verify(self, token: str) -> tuple[dict[str, Any], IssuerSettings]:
        """Refuse: nothing is trusted to sign tokens."""
        raise InvalidToken("no token issuer is configured")
