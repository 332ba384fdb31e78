"""Claims sent by trusted callers: the issuer must match, groups stay whole, times count.

Caller keys are not required on loopback, so every client here may send `claims`,
as a gateway's `trusted_claims` key would. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from service.settings import IssuerSettings
from tests.conftest import app_client, demo_settings, load_demo, logged_decisions

ISSUER = "https://idp.test"
IDP = IssuerSettings(issuer=ISSUER, principal_prefix="idp", roles_map={"pdp-admins": "admin"})
# Only `admins-call-anything` permits this tool: allow means the caller got `admin`.
# It is destructive (no readOnlyHint), so every caller below holds `tools:write`.
ROTATE = {"method": "tools/call", "tool": "admin___rotate_keys", "arguments": {"service": "db"}}
REFUND = {"method": "tools/call", "tool": "payments___refund"}
JSON = {"content-type": "application/json"}
WRITE = {"scope": "tools:write"}
ADMIN = {"iss": ISSUER, "sub": "mallory", "groups": ["pdp-admins"], **WRITE}


@asynccontextmanager
async def pdp(url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app with `settings` (default: the `idp.test` issuer)."""
    await load_demo(url)
    async with app_client(demo_settings(url, **{"issuers": [IDP], **settings})) as http:
        yield http


async def decide(
    http: httpx.AsyncClient, claims: dict[str, Any], call: dict[str, Any] = ROTATE
) -> tuple[str, str | None]:
    """(decision, code) for `claims` asking for `call`."""
    response = await http.post("/v1/decisions", json={"claims": claims, **call})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["decision"], body["code"]


async def test_claims_without_a_configured_iss_are_refused(database_url: str) -> None:
    async with pdp(database_url) as http:
        for iss in (None, "https://idp.test/", "https://other.test"):
            claims = {
                "sub": "mallory",
                "groups": ["admin"],
                **WRITE,
                **({"iss": iss} if iss else {}),
            }
            assert await decide(http, claims) == ("deny", "invalid_token"), iss
        # With the right `iss`, roles_map is an allow-list: `admin` is no group of it.
        right = {"iss": ISSUER, "sub": "mallory", "groups": ["admin"], **WRITE}
        assert await decide(http, right) == ("deny", "no_policy")


async def test_unprefixed_subject_cannot_reach_stored_roles(database_url: str) -> None:
    async with pdp(database_url) as http:  # the demo seed makes `dave` an admin
        assert await decide(http, {"sub": "dave", **WRITE}) == ("deny", "invalid_token")
        assert await decide(http, {"iss": ISSUER, "sub": "dave", **WRITE}) == ("deny", "no_policy")


async def test_the_configured_iss_gets_roles_map_and_prefix(database_url: str) -> None:
    async with pdp(database_url) as http:
        response = await http.post("/v1/decisions", json={"claims": ADMIN, **ROTATE})
        logged = await logged_decisions(http.app)  # type: ignore[attr-defined]
    body = response.json()
    assert (body["decision"], body["reasons"]) == ("allow", ["tools.cedar#admins-call-anything"])
    assert [row["principal_id"] for row in logged] == ["idp|mallory"]


async def test_batch_and_filter_refuse_claims_without_a_configured_iss(database_url: str) -> None:
    claims = {"sub": "dave", "groups": ["admin"], **WRITE}
    async with pdp(database_url) as http:
        batch = await http.post(
            "/v1/decisions/batch", json={"claims": claims, "requests": [ROTATE]}
        )
        listing = await http.post(
            "/v1/tools/filter", json={"claims": claims, "tools": [{"name": "admin___rotate_keys"}]}
        )
    assert [(d["decision"], d["code"]) for d in batch.json()["decisions"]] == [
        ("deny", "invalid_token")
    ]
    assert listing.json()["tools"] == []
    assert [d["code"] for d in listing.json()["details"]] == ["invalid_token"]


async def test_a_string_groups_claim_is_one_group(database_url: str) -> None:
    async with pdp(database_url) as http:
        former = {**ADMIN, "groups": "Former pdp-admins"}
        assert await decide(http, former) == ("deny", "no_policy")
        assert await decide(http, {**ADMIN, "groups": "pdp-admins"}) == ("allow", None)
        assert await decide(http, {**ADMIN, "groups": ["viewers", "pdp-admins"]}) == ("allow", None)


async def test_a_scope_string_is_still_space_separated(database_url: str) -> None:
    refund = {**REFUND, "arguments": {"orderId": "A-1", "amount": 450}}
    async with pdp(database_url) as http:
        write = await decide(http, {**ADMIN, "scope": "openid tools:write"}, refund)
        read = await decide(http, {**ADMIN, "scope": "openid tools:read"}, refund)
    assert write == ("allow", None)
    assert read == ("deny", None)  # the writes-need-scope forbid


async def test_claims_exp_and_nbf_are_checked_with_leeway(database_url: str) -> None:
    now = int(time.time())
    cases = [
        ({"exp": now - 3600}, ("deny", "token_expired")),
        ({"nbf": now + 3600}, ("deny", "invalid_token")),
        ({"exp": str(now + 3600)}, ("deny", "invalid_token")),
        ({"exp": True}, ("deny", "invalid_token")),
        ({"nbf": "soon"}, ("deny", "invalid_token")),
        ({"exp": now - 5}, ("allow", None)),  # within the default 30 s of leeway
        ({"nbf": now + 5}, ("allow", None)),
        ({"exp": now + 3600, "nbf": now - 60}, ("allow", None)),
    ]
    async with pdp(database_url) as http:
        for times, expected in cases:
            assert await decide(http, {**ADMIN, **times}) == expected, times
        # The decision route parses NaN and Infinity; no comparison with them may allow.
        for value in (math.nan, math.inf, -math.inf):
            text = json.dumps({"claims": {**ADMIN, "exp": value}, **ROTATE})  # NaN, Infinity
            response = await http.post("/v1/decisions", content=text, headers=JSON)
            answer = response.json()
            assert (answer["decision"], answer["code"]) == ("deny", "invalid_token"), value
    async with pdp(database_url, token_leeway_seconds=0) as http:
        assert await decide(http, {**ADMIN, "exp": now - 5}) == ("deny", "token_expired")


async def test_batch_and_filter_check_claim_times(database_url: str) -> None:
    expired = {**ADMIN, "exp": int(time.time()) - 3600}
    async with pdp(database_url) as http:
        batch = await http.post(
            "/v1/decisions/batch", json={"claims": expired, "requests": [ROTATE]}
        )
        listing = await http.post(
            "/v1/tools/filter", json={"claims": expired, "tools": [{"name": "admin___rotate_keys"}]}
        )
    assert [(d["decision"], d["code"]) for d in batch.json()["decisions"]] == [
        ("deny", "token_expired")
    ]
    assert listing.json()["tools"] == []
    assert [d["code"] for d in listing.json()["details"]] == ["token_expired"]


async def test_without_issuers_claims_need_no_iss(database_url: str) -> None:
    async with pdp(database_url, issuers=[]) as http:  # the documented, trusting default
        assert await decide(http, {"sub": "dave", **WRITE}) == ("allow", None)


async def test_without_issuers_claim_times_still_count(database_url: str) -> None:
    expired = {"sub": "dave", "exp": int(time.time()) - 3600, **WRITE}
    async with pdp(database_url, issuers=[]) as http:
        assert await decide(http, expired) == ("deny", "token_expired")
