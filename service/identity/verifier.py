"""Bearer tokens verified against their issuer's JWKS; every failure is InvalidToken."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt

from service.identity.claims import InvalidToken, check_times
from service.identity.jwks import JwksCache, SigningKey
from service.identity.tokens import NoIssuers, TokenVerifier
from service.settings import IssuerSettings, Settings

# Which key type (and curve) each allowed algorithm verifies with.
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified: only to pick the issuer and the key."""
    if not token or token.count(".") != 2:
        raise InvalidToken("token is not a signed JWT")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except Exception:  # any parse failure of attacker-controlled bytes is a bad token
        raise InvalidToken("token is malformed") from None
    return header, claims


def _fits(key: SigningKey, alg: str) -> bool:
    """Whether `key` may verify `alg`: no algorithm confusion between key types."""
    if key.alg is not None and key.alg != alg:
        return False
    if _KEY_TYPE.get(alg[:2]) != key.kty:
        return False
    return key.kty != "EC" or key.crv == _CURVE.get(alg)


def _decode(token: str, key: SigningKey, alg: str, issuer: IssuerSettings, leeway: int) -> Any:
    """Verify signature, `iss`, `aud`, `iat`; map failures to deny codes.

    `exp` must be present, but it and `nbf` are left to `check_times` (in
    `verify`): trusted claims get that same check.
    """
    standard_aud = issuer.audience_claim == "aud"
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            issuer=issuer.issuer,
            audience=issuer.audiences if standard_aud else None,
            leeway=leeway,
            options={
                "require": ["exp", "iss"],
                "verify_aud": standard_aud,
                "verify_exp": False,
                "verify_nbf": False,
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.ImmatureSignatureError:
        raise InvalidToken("token is not yet valid") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("token audience is not accepted") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token issuer does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("token signature does not verify") from None
    except Exception:  # e.g. a key too short, a claim of the wrong type
        raise InvalidToken("token could not be verified") from None
    if not standard_aud and claims.get(issuer.audience_claim) not in issuer.audiences:
        raise InvalidToken("token audience is not accepted")
    return claims


class JwksVerifier:
    """A TokenVerifier over several issuers, each with its own keys and algorithms."""

    def __init__(
        self,
        issuers: list[IssuerSettings],
        *,
        http: httpx.AsyncClient,
        leeway_seconds: int,
        min_refresh_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers if i.verifies_tokens}
        self._leeway = leeway_seconds
        self._keys = {
            i.issuer: JwksCache(
                issuer=i.issuer,
                http=http,
                jwks_uri=i.jwks_uri,
                discovery_url=i.discovery_url,
                min_refresh_seconds=min_refresh_seconds,
                max_age_seconds=max_age_seconds,
                clock=clock,
                on_fetch=on_fetch,
            )
            for i in self._issuers.values()
        }

    async def verify(self, token: str) -> tuple[dict[str, Any], IssuerSettings]:
        """Verify `token` fully with the keys of the issuer it names. Never cached."""
        header, unverified = _peek(token)
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidToken("token issuer is not trusted")
        alg = header.get("alg")
        # Before any key is touched: `none`, HS* and anything unlisted stop here.
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise InvalidToken("token algorithm is not allowed for its issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token names no key (kid)")
        key = await self._keys[issuer.issuer].get(kid)
        if key is None:
            raise InvalidToken("token key is unknown to its issuer, or its keys are unavailable")
        if not _fits(key, alg):
            raise InvalidToken("token algorithm does not fit its key")
        claims = _decode(token, key, alg, issuer, self._leeway)
        if not isinstance(claims, dict):
            raise InvalidToken("token claims are not an object")
        check_times(claims, leeway=self._leeway, now=time.time())
        return claims, issuer


@asynccontextmanager
async def open_verifier(
    settings: Settings, on_fetch: Callable[[str, bool], None] | None = None
) -> AsyncIterator[TokenVerifier]:
    """The verifier for `settings.issuers`, with its HTTP client for the lifetime of the app.

    `on_fetch(issuer, ok)` hears of every JWKS fetch (for metrics).
    """
    if not any(i.verifies_tokens for i in settings.issuers):
        yield NoIssuers()
        return
    timeout = httpx.Timeout(settings.jwks_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
        yield JwksVerifier(
            settings.issuers,
            http=http,
            leeway_seconds=settings.token_leeway_seconds,
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            max_age_seconds=settings.jwks_cache_seconds,
            on_fetch=on_fetch,
        )
