"""An issuer's signing keys: fetched from its JWKS, cached, refetched rarely."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from service.settings import check_key_url

log = logging.getLogger("mcp_pdp.identity")

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_KEYS = 100


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched or read."""


@dataclass(frozen=True)
class SigningKey:
    """One public key from a JWKS, with what it may verify."""

    kid: str
    kty: str
    crv: str | None
    alg: str | None  # the JWK's own `alg`, when it names one
    key: Any  # a cryptography public key


async def fetch_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """GET a JSON object, refusing redirects, errors and oversized bodies."""
    try:
        async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise KeysUnavailable(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeysUnavailable(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise KeysUnavailable(type(exc).__name__) from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise KeysUnavailable("document is not JSON") from exc
    if not isinstance(document, dict):
        raise KeysUnavailable("document is not a JSON object")
    return document


def parse_jwks(document: dict[str, Any]) -> dict[str, SigningKey]:
    """The usable signature keys of a JWKS by `kid`; others are skipped."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeysUnavailable("JWKS has no `keys` array")
    keys: dict[str, SigningKey] = {}
    for entry in entries[:MAX_KEYS]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid, kty = entry.get("kid"), entry.get("kty")
        if not isinstance(kid, str) or kty not in ("RSA", "EC", "OKP"):
            continue  # no kid to find it by, or a symmetric (`oct`) key
        try:
            parsed = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError):
            log.warning("skipping an unreadable JWKS key", extra={"kid": kid})
            continue
        crv, alg = entry.get("crv"), entry.get("alg")
        keys[kid] = SigningKey(
            kid=kid,
            kty=kty,
            crv=crv if isinstance(crv, str) else None,
            alg=alg if isinstance(alg, str) else None,
            key=parsed.key,
        )
    return keys


class JwksCache:
    """One issuer's keys; refetched when stale or on an unknown `kid`, rate-limited."""

    def __init__(
        self,
        *,
        issuer: str,
        http: httpx.AsyncClient,
        jwks_uri: str | None = None,
        discovery_url: str | None = None,
        min_refresh_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._issuer = issuer
        self._on_fetch = on_fetch
        self._http = http
        self._jwks_uri = jwks_uri
        self._discovery_url = discovery_url
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch attempt, success or not
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> SigningKey | None:
        """The key named `kid`, fetching the JWKS when it is unknown or stale."""
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:  # one fetch at a time; waiters see its result
            key = self._keys.get(kid)
            if (key is None or self._stale()) and self._may_fetch():
                await self._refresh()
            return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        # Unknown kids are attacker-controlled: never more than one fetch per interval.
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refresh

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(await fetch_json(self._http, await self._resolve_jwks_uri()))
        except Exception as exc:  # whatever the failure, the last good keys keep serving
            reason = str(exc)[:200] if isinstance(exc, KeysUnavailable) else type(exc).__name__
            log.warning("JWKS fetch failed", extra={"issuer": self._issuer, "error": reason})
            self._report(ok=False)
            return
        self._report(ok=True)
        self._keys = keys
        self._fetched_at = self._attempted_at
        log.info("JWKS fetched", extra={"issuer": self._issuer, "kids": sorted(keys)})

    def _report(self, *, ok: bool) -> None:
        if self._on_fetch is not None:
            self._on_fetch(self._issuer, ok)

    async def _resolve_jwks_uri(self) -> str:
        if self._jwks_uri is not None:
            return self._jwks_uri
        if self._discovery_url is None:
            raise KeysUnavailable("no jwks_uri or discovery_url")
        discovery = await fetch_json(self._http, self._discovery_url)
        # OpenID Connect Discovery §4.3: the document must name the issuer it describes.
        if discovery.get("issuer") != self._issuer:
            raise KeysUnavailable("discovery document names another issuer")
        uri = discovery.get("jwks_uri")
        if not isinstance(uri, str):
            raise KeysUnavailable("discovery document has no jwks_uri")
        try:
            check_key_url("jwks_uri", uri)
        except ValueError as exc:
            raise KeysUnavailable(str(exc)) from exc
        self._jwks_uri = uri
        return uri
