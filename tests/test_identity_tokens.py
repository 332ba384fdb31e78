"""The token verifier against a real identity provider on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.utils import base64url_encode

from service.engine.errors import DecisionError
from service.identity.claims import InvalidToken, principal_from_claims
from service.identity.verifier import JwksVerifier
from service.settings import IssuerSettings
from tests.idp import LoopbackIdP, SigningKeyPair


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def verifier_for(
    *issuers: IssuerSettings,
    clock: Clock | None = None,
    timeout: float = 2.0,
    min_refresh: float = 0.0,
    max_age: float = 900.0,
) -> AsyncIterator[JwksVerifier]:
    async with httpx.AsyncClient(timeout=timeout) as http:
        yield JwksVerifier(
            list(issuers),
            http=http,
            leeway_seconds=30,
            min_refresh_seconds=min_refresh,
            max_age_seconds=max_age,
            clock=clock or Clock(),
        )


async def outcome(verifier: JwksVerifier, token: str) -> str:
    """`ok`, or the deny code verification ends in."""
    try:
        await verifier.verify(token)
    except DecisionError as exc:
        return exc.code
    return "ok"


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(value: Any) -> str:
        return base64url_encode(json.dumps(value).encode()).decode()

    return f"{part(header)}.{part(claims)}.{base64url_encode(signature).decode()}"


async def test_valid_rs256_and_es256_tokens(idp: LoopbackIdP) -> None:
    async with verifier_for(idp.settings()) as verifier:
        claims, issuer = await verifier.verify(idp.token(sub="alice"))
        assert (claims["sub"], issuer.issuer) == ("alice", idp.issuer)
        claims, _ = await verifier.verify(idp.token(idp.published[1], sub="bob"))
        assert claims["sub"] == "bob"
    # discovery once, JWKS once: keys are cached across tokens
    assert idp.fetches == {"/.well-known/openid-configuration": 1, "/jwks.json": 1}


async def test_alg_none_is_refused_before_any_key_is_fetched(idp: LoopbackIdP) -> None:
    async with verifier_for(idp.settings()) as verifier:
        for alg in ("none", "None", "NONE"):
            token = unsigned({"alg": alg, "kid": "k1", "typ": "JWT"}, idp.claims())
            assert await outcome(verifier, token) == "invalid_token"
    assert sum(idp.fetches.values()) == 0


async def test_hs256_signed_with_the_rsa_public_key_is_refused(idp: LoopbackIdP) -> None:
    public_pem = (
        idp.published[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, claims = {"alg": "HS256", "kid": "k1", "typ": "JWT"}, idp.claims(sub="dave")
    forged = unsigned(header, claims)
    signing_input = forged.rsplit(".", 1)[0].encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    forged = unsigned(header, claims, signature)
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, forged) == "invalid_token"
    assert sum(idp.fetches.values()) == 0


async def test_algorithm_outside_the_issuers_allow_list(idp: LoopbackIdP) -> None:
    es256 = idp.token(idp.published[1])
    async with verifier_for(idp.settings(algorithms=["RS256"])) as verifier:
        assert await outcome(verifier, es256) == "invalid_token"
    assert sum(idp.fetches.values()) == 0


async def test_rs256_header_on_an_ec_key_is_refused(idp: LoopbackIdP) -> None:
    # The header claims RS256 but names the EC key: no cross-type verification.
    rsa = idp.published[0]
    token = jwt.encode(idp.claims(), rsa.private, algorithm="RS256", headers={"kid": "e1"})
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, token) == "invalid_token"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://evil.example/"}, "invalid_token"),
        ({"aud": "api://someone-else"}, "invalid_token"),
        ({"aud": None}, "invalid_token"),
        ({"exp": -120}, "token_expired"),
        ({"exp": None}, "invalid_token"),
        ({"nbf": 120}, "invalid_token"),
        ({"iat": 120}, "invalid_token"),
        ({"exp": -10}, "ok"),  # within the 30 s leeway
        ({"nbf": 10}, "ok"),
        ({"aud": ["api://other", "api://mcp-gateway"]}, "ok"),
    ],
)
async def test_claim_checks(idp: LoopbackIdP, claims: dict[str, Any], code: str) -> None:
    now = int(time.time())
    for name in ("exp", "nbf", "iat"):
        if isinstance(claims.get(name), int):
            claims[name] += now
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, idp.token(**claims)) == code


async def test_unknown_kid_and_unpublished_key(idp: LoopbackIdP) -> None:
    stranger = SigningKeyPair("k9")
    impostor = SigningKeyPair("k1")  # a published kid, someone else's key
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, idp.token(stranger)) == "invalid_token"
        assert await outcome(verifier, idp.token(impostor)) == "invalid_token"
        no_kid = jwt.encode(idp.claims(), idp.published[0].private, algorithm="RS256")
        assert await outcome(verifier, no_kid) == "invalid_token"


async def test_tampered_payload(idp: LoopbackIdP) -> None:
    header, _, signature = idp.token(sub="bob").split(".")
    payload = base64url_encode(json.dumps(idp.claims(sub="dave")).encode()).decode()
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, f"{header}.{payload}.{signature}") == "invalid_token"


@pytest.mark.parametrize(
    "token",
    [
        "",
        " ",
        "garbage",
        "a.b",
        "a.b.c",
        "...",
        "a.b.c.d.e",
        "eyJhbGciOiJSUzI1NiJ9.!!!.sig",
        base64url_encode(b"\xff\xfe" * 40).decode() + ".e30.x",
    ],
)
async def test_garbage_and_empty(idp: LoopbackIdP, token: str) -> None:
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, token) == "invalid_token"


def signed(key: SigningKeyPair, body: str) -> str:
    """A token over a raw JSON body, for claims jwt.encode refuses to write."""
    header = base64url_encode(json.dumps({"alg": key.alg, "kid": key.kid}).encode()).decode()
    signing_input = f"{header}.{base64url_encode(body.encode()).decode()}"
    signature = jwt.get_algorithm_by_name(key.alg).sign(signing_input.encode(), key.private)
    return f"{signing_input}.{base64url_encode(signature).decode()}"


async def test_non_finite_and_odd_claims(idp: LoopbackIdP) -> None:
    key, claims = idp.published[0], idp.claims()
    # Python's json reads Infinity and NaN; the verifier must still deny cleanly.
    infinite = json.dumps(claims).replace(str(claims["exp"]), "Infinity")
    nan = json.dumps(claims).replace(str(claims["exp"]), "NaN")
    listed_issuer = json.dumps({**claims, "iss": [idp.issuer]})
    async with verifier_for(idp.settings()) as verifier:
        assert await outcome(verifier, signed(key, json.dumps(claims))) == "ok"
        for body in (infinite, nan, listed_issuer, "[]", '"x"'):
            assert await outcome(verifier, signed(key, body)) == "invalid_token", body


async def test_jwk_alg_binds_the_key(idp: LoopbackIdP) -> None:
    # A key published for RS384 does not verify an RS256 token, though both are RSA.
    key = SigningKeyPair("k5")
    idp.extra_jwks = [key.jwk(alg="RS384")]
    async with verifier_for(idp.settings(algorithms=["RS256", "RS384"])) as verifier:
        assert await outcome(verifier, idp.token(key)) == "invalid_token"
        key.alg = "RS384"
        assert await outcome(verifier, idp.token(key)) == "ok"


async def test_subject_with_nul_or_lone_surrogate_is_an_invalid_token(idp: LoopbackIdP) -> None:
    # Request bodies refuse these at the edge; a signed token must not smuggle them in,
    # or the store and the decision log would fail on the principal's id.
    key, claims = idp.published[0], idp.claims()
    async with verifier_for(idp.settings()) as verifier:
        for sub in ("a\\u0000b", "mallory\\udead"):
            body = json.dumps({**claims, "sub": "SUB"}).replace('"SUB"', f'"{sub}"')
            verified, issuer = await verifier.verify(signed(key, body))
            with pytest.raises(InvalidToken, match="NUL or a lone surrogate"):
                principal_from_claims(verified, issuer)
