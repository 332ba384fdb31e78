"""Key fetching: rotation, rate-limited refetch, outages, discovery, several issuers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from service.identity.claims import principal_from_claims
from tests.idp import LoopbackIdP, SigningKeyPair
from tests.test_identity_tokens import Clock, outcome, verifier_for

JWKS = "/jwks.json"


@pytest.fixture
def idp() -> Iterator[LoopbackIdP]:
    with LoopbackIdP() as server:
        server.add_key("k1")
        yield server


async def test_rotation_picks_up_a_new_kid_without_restart(idp: LoopbackIdP) -> None:
    clock = Clock()
    async with verifier_for(idp.settings(), clock=clock, min_refresh=30) as verifier:
        assert await outcome(verifier, idp.token()) == "ok"
        clock.now += 31
        new = idp.add_key("k2")
        idp.published.remove(idp.published[0])  # k1 retired
        assert await outcome(verifier, idp.token(new)) == "ok"
        assert idp.fetches[JWKS] == 2
        # The refetch replaced the key set: the retired key verifies nothing now.
        retired = SigningKeyPair("k1")
        assert await outcome(verifier, idp.token(retired)) == "invalid_token"


async def test_unknown_kid_refetch_is_rate_limited(idp: LoopbackIdP) -> None:
    clock = Clock()
    async with verifier_for(idp.settings(), clock=clock, min_refresh=60) as verifier:
        assert await outcome(verifier, idp.token()) == "ok"
        stranger = SigningKeyPair("x")
        for n in range(20):  # an attacker spraying random kids
            assert await outcome(verifier, idp.token(stranger.renamed(f"x{n}"))) == "invalid_token"
            clock.now += 1
        assert idp.fetches[JWKS] == 1
        clock.now += 41  # 61 s after the first fetch
        late = idp.add_key("k2")
        assert await outcome(verifier, idp.token(late)) == "ok"
        assert await outcome(verifier, idp.token(stranger.renamed("x99"))) == "invalid_token"
        assert idp.fetches[JWKS] == 2


async def test_stale_keys_are_refetched(idp: LoopbackIdP) -> None:
    clock = Clock()
    async with verifier_for(idp.settings(), clock=clock, max_age=600) as verifier:
        for _ in range(3):
            assert await outcome(verifier, idp.token()) == "ok"
        assert idp.fetches[JWKS] == 1
        clock.now += 601
        assert await outcome(verifier, idp.token()) == "ok"
        assert idp.fetches[JWKS] == 2


async def test_jwks_unreachable_denies_invalid_token(idp: LoopbackIdP) -> None:
    token = idp.token()
    idp.stop()
    async with verifier_for(idp.settings(jwks_uri=idp.jwks_uri)) as verifier:
        assert await outcome(verifier, token) == "invalid_token"


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_jwks_error_status_denies_invalid_token(idp: LoopbackIdP, status: int) -> None:
    idp.status = status
    async with verifier_for(idp.settings(jwks_uri=idp.jwks_uri)) as verifier:
        assert await outcome(verifier, idp.token()) == "invalid_token"


async def test_slow_jwks_times_out_into_a_deny() -> None:
    with LoopbackIdP(delay=1.5) as slow:
        slow.add_key("k1")
        async with verifier_for(slow.settings(jwks_uri=slow.jwks_uri), timeout=0.2) as verifier:
            started = time.perf_counter()
            assert await outcome(verifier, slow.token()) == "invalid_token"
            assert time.perf_counter() - started < 1.0


async def test_oversized_jwks_is_refused(idp: LoopbackIdP) -> None:
    idp.extra_jwks = [
        {"kty": "RSA", "kid": f"pad{n}", "n": "A" * 8000, "e": "AQAB"} for n in range(80)
    ]
    async with verifier_for(idp.settings(jwks_uri=idp.jwks_uri)) as verifier:
        assert await outcome(verifier, idp.token()) == "invalid_token"


async def test_last_good_keys_serve_through_an_outage(idp: LoopbackIdP) -> None:
    clock = Clock()
    async with verifier_for(idp.settings(), clock=clock, max_age=600) as verifier:
        assert await outcome(verifier, idp.token()) == "ok"
        idp.status = 503
        clock.now += 601
        assert await outcome(verifier, idp.token()) == "ok"
        assert idp.fetches[JWKS] == 2  # it tried, failed, and kept the keys


async def test_discovery_for_another_issuer_is_not_trusted(idp: LoopbackIdP) -> None:
    other = "https://login.example.com/"
    settings = idp.settings(issuer=other)
    async with verifier_for(settings) as verifier:
        assert await outcome(verifier, idp.token(iss=other)) == "invalid_token"
    assert idp.fetches[JWKS] == 0


async def test_jwks_uri_skips_discovery(idp: LoopbackIdP) -> None:
    async with verifier_for(idp.settings(jwks_uri=idp.jwks_uri)) as verifier:
        assert await outcome(verifier, idp.token()) == "ok"
    assert idp.fetches == {JWKS: 1}


async def test_concurrent_cold_start_fetches_once(idp: LoopbackIdP) -> None:
    async with verifier_for(idp.settings(jwks_uri=idp.jwks_uri)) as verifier:
        results = await asyncio.gather(*(outcome(verifier, idp.token()) for _ in range(20)))
    assert results == ["ok"] * 20
    assert idp.fetches[JWKS] == 1


async def test_two_issuers_same_sub_are_two_principals() -> None:
    with LoopbackIdP(prefix="corp") as corp, LoopbackIdP(prefix="partner") as partner:
        corp_key, partner_key = corp.add_key("k1"), partner.add_key("k1")
        async with verifier_for(corp.settings(), partner.settings()) as verifier:
            ids = []
            for idp, key in ((corp, corp_key), (partner, partner_key)):
                claims, issuer = await verifier.verify(idp.token(key, sub="alice"))
                ids.append(principal_from_claims(claims, issuer).id)
            assert ids == ["corp|alice", "partner|alice"]
            # Signed by corp's key but naming partner as issuer: partner's k1 differs.
            assert await outcome(verifier, corp.token(corp_key, iss=partner.issuer)) == (
                "invalid_token"
            )
