"""The token path of `POST /v1/decisions`, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from service.app import create_app
from service.settings import IssuerSettings
from service.store.db import create_engine, session_factory
from service.store.seed import apply_seed
from tests.conftest import demo_settings, load_demo
from tests.idp import LoopbackIdP

SEARCH = {"method": "tools/call", "tool": "docs___search", "arguments": {"query": "q"}}
REFUND = {"method": "tools/call", "tool": "payments___refund"}


@asynccontextmanager
async def pdp(
    url: str, *issuers: IssuerSettings, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app with `issuers` configured, behind an HTTP client."""
    await load_demo(url)
    app = create_app(demo_settings(url, issuers=list(issuers), **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def decide(http: httpx.AsyncClient, token: str, **request: Any) -> dict[str, Any]:
    response = await http.post("/v1/decisions", json={"token": token, **(request or SEARCH)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_valid_tokens_are_allowed(database_url: str, idp: LoopbackIdP) -> None:
    async with pdp(database_url, idp.settings()) as http:
        for key in idp.published:  # RS256 and ES256
            body = await decide(http, idp.token(key, sub="alice"))
            assert (body["decision"], body["code"]) == ("allow", None)
            assert body["reasons"] == ["tools.cedar#analysts-read-tools"]


async def test_bad_tokens_are_a_200_deny_with_a_code(database_url: str, idp: LoopbackIdP) -> None:
    cases = {
        "": "invalid_token",
        "garbage": "invalid_token",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJkYXZlIn0.": "invalid_token",
        idp.token(aud="api://other"): "invalid_token",
        idp.token(exp=1_000_000): "token_expired",
    }
    async with pdp(database_url, idp.settings()) as http:
        for token, code in cases.items():
            body = await decide(http, token)
            assert (body["decision"], body["code"]) == ("deny", code), token[:20]
            assert body["errors"], token[:20]  # a reason, which never echoes the token
            assert not token or token not in " ".join(body["errors"])


async def test_jwks_unreachable_is_invalid_token_not_5xx(database_url: str) -> None:
    with LoopbackIdP() as idp:
        idp.add_key("k1")
        token, settings = idp.token(), idp.settings()
    async with pdp(database_url, settings, jwks_timeout_seconds=0.5) as http:
        body = await decide(http, token)
    assert (body["decision"], body["code"]) == ("deny", "invalid_token")


async def test_groups_claim_maps_to_roles(database_url: str, idp: LoopbackIdP) -> None:
    cognito = idp.settings(roles_claim="cognito:groups")
    async with pdp(database_url, cognito) as http:
        allowed = await decide(http, idp.token(sub="zoe", **{"cognito:groups": ["analyst"]}))
        plain = await decide(http, idp.token(sub="zoe", groups=["analyst"]))
    assert allowed["decision"] == "allow"
    assert allowed["reasons"] == ["tools.cedar#analysts-read-tools"]
    assert (plain["decision"], plain["code"]) == (
        "deny",
        "no_policy",
    )  # wrong claim for this issuer


async def test_roles_map_is_an_allow_list(database_url: str, idp: LoopbackIdP) -> None:
    group = "9f0c1d52-6a3e-4c8b-b1e4-2f1f5a7d0c11"  # Entra ID sends group object ids
    entra = idp.settings(roles_map={group: "analyst"})
    async with pdp(database_url, entra) as http:
        mapped = await decide(http, idp.token(sub="zoe", groups=[group]))
        unmapped = await decide(http, idp.token(sub="zoe", groups=["analyst", "admin"]))
    assert mapped["decision"] == "allow"
    assert (unmapped["decision"], unmapped["code"]) == ("deny", "no_policy")


async def test_scopes_reach_context_token(database_url: str, idp: LoopbackIdP) -> None:
    refund = {**REFUND, "arguments": {"orderId": "A-1", "amount": 450}}
    async with pdp(database_url, idp.settings()) as http:
        write = await decide(http, idp.token(sub="bob", scope="tools:read tools:write"), **refund)
        read = await decide(http, idp.token(sub="bob", scope="tools:read"), **refund)
    assert write["reasons"] == ["tools.cedar#refunds-under-500"]
    assert read["reasons"] == ["guardrails.cedar#writes-need-scope"]
    assert read["required_scopes"] == ["tools:read", "tools:write"]  # held + missing


async def test_scp_array_scopes(database_url: str, idp: LoopbackIdP) -> None:
    okta = idp.settings(scopes_claim="scp")
    refund = {**REFUND, "arguments": {"orderId": "A-1", "amount": 450}}
    async with pdp(database_url, okta) as http:
        body = await decide(http, idp.token(sub="bob", scope=None, scp=["tools:write"]), **refund)
    assert body["decision"] == "allow"


async def test_two_issuers_same_sub_are_two_principals(database_url: str) -> None:
    with LoopbackIdP(prefix="corp") as corp, LoopbackIdP(prefix="partner") as partner:
        corp.add_key("k1")
        partner.add_key("k1")
        async with pdp(database_url, corp.settings(), partner.settings()) as http:
            engine = create_engine(database_url)
            async with session_factory(engine)() as session, session.begin():
                document = {"assignments": [{"principal": "corp|alice", "role": "analyst"}]}
                await apply_seed(session=session, document=document)
            await engine.dispose()
            ours = await decide(http, corp.token(sub="alice"))
            theirs = await decide(http, partner.token(sub="alice"))
    assert ours["reasons"] == ["tools.cedar#analysts-read-tools"]
    assert (theirs["decision"], theirs["code"]) == ("deny", "no_policy")


async def test_tokens_never_reach_the_logs(database_url: str, idp: LoopbackIdP) -> None:
    tokens = [idp.token(), idp.token(exp=1_000_000), idp.token(aud="x"), "not-a-jwt-at-all"]
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    names = ("mcp_pdp", "mcp_pdp.decisions.stdout", "httpx", "httpcore")
    loggers = [logging.getLogger(name) for name in names]
    async with pdp(database_url, idp.settings(), log_level="DEBUG") as http:
        for logger in loggers:
            logger.addHandler(handler)
        try:
            for token in tokens:
                await decide(http, token)
            await http.app.state.runtime.decision_log.flush()  # type: ignore[attr-defined]
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
    output = captured.getvalue()
    assert "decision" in output  # the handler did see the decision log
    for token in tokens:
        assert token not in output
        assert token.split(".")[-1] not in output


async def test_key_rotation_without_restart(database_url: str, idp: LoopbackIdP) -> None:
    async with pdp(database_url, idp.settings(), jwks_min_refresh_seconds=0) as http:
        assert (await decide(http, idp.token()))["decision"] == "allow"
        rotated = idp.add_key("k2")
        idp.published = [rotated]  # the old keys are withdrawn
        body = await decide(http, idp.token(rotated))
    assert (body["decision"], body["reasons"]) == ("allow", ["tools.cedar#analysts-read-tools"])
    assert idp.fetches["/jwks.json"] == 2
