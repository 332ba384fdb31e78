"""Bad input at the edge: 4xx naming the field, 413 over the limit, never a 5xx or an allow."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import decision_body

MALFORMED = [
    (b"{not json", "body"),
    (b"[]", "body"),
    (b'{"claims": {"sub": "alice"}}', "method"),
    (b'{"claims": {"sub": "alice"}, "method": 7}', "method"),
    (b'{"claims": "alice", "method": "tools/list"}', "claims"),
    (
        b'{"claims": {"sub": "a"}, "method": "tools/call", "tool": "t", "arguments": [1]}',
        "arguments",
    ),
    (b'{"claims": {"sub": "a"}, "method": "tools/list", "gateway": "a b"}', "gateway"),
    (
        b'{"claims": {"sub": "a"}, "method": "tools/list", "context": {"source_ip": 5}}',
        "context.source_ip",
    ),
    (b'{"claims": {"sub": "a"}, "method": "tools/list", "unexpected": 1}', "unexpected"),
]


@pytest.mark.parametrize(("raw", "field"), MALFORMED)
async def test_malformed_bodies_name_the_field(
    client: httpx.AsyncClient, raw: bytes, field: str
) -> None:
    response = await client.post(
        "/v1/decisions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["detail"]]
    assert any(f == field or f.startswith(field) for f in fields), fields


async def test_identity_must_be_token_or_claims_not_both(client: httpx.AsyncClient) -> None:
    for body in (
        {"method": "tools/list"},
        {"method": "tools/list", "token": "x", "claims": {"sub": "a"}},
    ):
        response = await client.post("/v1/decisions", json=body)
        assert response.status_code == 422
        assert "exactly one of `token` or `claims`" in response.text


async def test_tools_call_needs_a_tool(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/decisions", json=decision_body())
    assert response.status_code == 422
    assert "`tool` is required" in response.text


async def test_validation_errors_do_not_echo_the_token(client: httpx.AsyncClient) -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
    response = await client.post("/v1/decisions", json={"token": secret})
    assert response.status_code == 422
    assert secret not in response.text


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    huge = decision_body(tool="docs___search", arguments={"query": "x" * 300_000})
    response = await client.post("/v1/decisions", json=huge)
    assert response.status_code == 413


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no content-length: the limit counts what arrives
        yield b'{"claims": {"sub": "alice"}, "method": "tools/list", "x": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}'

    response = await client.post("/v1/decisions", content=chunks())
    assert response.status_code == 413


async def test_deeply_nested_arguments_do_not_crash(client: httpx.AsyncClient) -> None:
    nested = "[" * 20_000 + '"leaf"' + "]" * 20_000
    raw = (
        '{"claims": {"sub": "alice"}, "method": "tools/call", "tool": "docs___search", '
        f'"arguments": {{"query": {nested}}}}}'
    )
    response = await client.post(
        "/v1/decisions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.json()["decision"] == "deny"


@pytest.mark.parametrize(
    "tool",
    [
        'docs___search"',
        'Mcp::Action::"docs___search"',
        'docs___search", resource',
        "docs___search\n",
        "../docs___search",
    ],
)
async def test_tool_names_cannot_choose_another_entity(
    client: httpx.AsyncClient, tool: str
) -> None:
    # alice may call docs___search; look-alike names must not reach it.
    response = await client.post(
        "/v1/decisions", json=decision_body(tool=tool, arguments={"query": "q"})
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "unknown_tool")


@pytest.mark.parametrize(
    # A NUL is refused before it gets here (test_json_edge); a zero-width space is not.
    "sub",
    ['alice"', 'Mcp::User::"alice"', "alice\u200b", 'x" in Mcp::Role::"admin'],
)
async def test_principal_ids_are_opaque(client: httpx.AsyncClient, sub: str) -> None:
    # Only the exact id "alice" holds analyst; look-alikes are other principals.
    response = await client.post(
        "/v1/decisions",
        json=decision_body(claims={"sub": sub}, tool="docs___search", arguments={"query": "q"}),
    )
    assert response.status_code == 200
    assert response.json()["decision"] == "deny"


async def test_wrong_json_types_in_claims_never_allow(client: httpx.AsyncClient) -> None:
    for claims in ({"sub": 5}, {"sub": ""}, {"sub": None}, {}, {"sub": "a" * 300}):
        body = {
            "claims": claims,
            "method": "tools/call",
            "tool": "docs___search",
            "arguments": {"query": "q"},
        }
        response = await client.post("/v1/decisions", json=body)
        assert response.status_code == 200
        assert (response.json()["decision"], response.json()["code"]) == ("deny", "invalid_token")
