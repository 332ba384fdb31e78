"""JSON bodies at the edge: no NUL, no lone surrogate, no duplicate key, at any depth.

Such a body is a 422 naming the field, on every route that takes a JSON body,
the decision fast path included: a NUL or a lone surrogate cannot be stored
(PostgreSQL and SQLite refuse them, and a refused decision-log record used to
take its whole batch along), and with a duplicate key the decision would be
made on other arguments than a first-key-wins tool server runs.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from service.api import json_body
from service.api.json_body import UnsafeJson
from tests.conftest import ADMIN_KEY

JSON = {"content-type": "application/json"}
CALL = '"method": "tools/call", "tool": "docs___search"'


async def _post(client: httpx.AsyncClient, path: str, raw: str, **headers: str) -> httpx.Response:
    return await client.post(path, content=raw.encode(), headers={**JSON, **headers})


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [d["field"] for d in response.json()["detail"]]


# Raw JSON text: `\\u0000` here is the six characters of a JSON escape.
DECISIONS = [
    (
        '{"claims": {"sub": "alice\\u0000"}, ' + CALL + ', "arguments": {"query": "q"}}',
        "claims.sub",
    ),
    ('{"claims": {"sub": "\\udead"}, ' + CALL + ', "arguments": {"query": "q"}}', "claims.sub"),
    ('{"claims": {"sub": "alice"}, "method": "tools/call", "tool": "docs\\u0000"}', "tool"),
    (
        '{"claims": {"sub": "alice"}, ' + CALL + ', "arguments": {"\\udead": 1, "query": "q"}}',
        "arguments.\\udead",
    ),
    (
        '{"claims": {"sub": "alice", "groups": ["a", "\\udc00"]}, "method": "tools/list"}',
        "claims.groups.1",
    ),
    (
        '{"claims": {"sub": "alice"}, "method": "tools/call", "tool": "payments___refund", '
        '"arguments": {"orderId": "A", "amount": 450, "amount": 50000}}',
        "arguments.amount",
    ),
    (
        '{"claims": {"sub": "alice"}, "method": "tools/list", "tool": "a", "tool": "b"}',
        "tool",
    ),
    (
        '{"claims": {"sub": "alice"}, '
        + CALL
        + ', "arguments": {"q": {"deep": [{"k": 1, "k": 2}]}}}',
        "arguments.q.deep.0.k",
    ),
]


@pytest.mark.parametrize(("raw", "field"), DECISIONS)
async def test_decisions_refuse_nul_surrogates_and_duplicate_keys(
    client: httpx.AsyncClient, raw: str, field: str
) -> None:
    # `client` runs the whole app, so this is the fast path's answer.
    response = await _post(client, "/v1/decisions", raw)
    assert _fields(response) == [field]
    json.loads(response.content.decode("utf-8"))  # the answer itself is valid UTF-8 JSON


async def test_raw_surrogate_bytes_are_refused_too(client: httpx.AsyncClient) -> None:
    # json.loads decodes bytes with `surrogatepass`: an encoded surrogate becomes a lone one.
    raw = b'{"claims": {"sub": "al\xed\xb2\x80ice"}, "method": "tools/list"}'
    response = await client.post("/v1/decisions", content=raw, headers=JSON)
    assert _fields(response) == ["claims.sub"]


async def test_a_surrogate_pair_is_one_character_and_accepted(client: httpx.AsyncClient) -> None:
    raw = '{"claims": {"sub": "alice"}, ' + CALL + ', "arguments": {"query": "\\ud83d\\ude00"}}'
    response = await _post(client, "/v1/decisions", raw)
    assert response.status_code == 200, response.text
    assert response.json()["decision"] == "allow"


async def test_batch_refuses_them_naming_the_item_field(client: httpx.AsyncClient) -> None:
    raw = (
        '{"claims": {"sub": "alice"}, "requests": [{"method": "tools/list"}, '
        '{"method": "tools/call", "tool": "x\\u0000", "arguments": {}}]}'
    )
    assert _fields(await _post(client, "/v1/decisions/batch", raw)) == ["requests.1.tool"]
    twice = '{"claims": {"sub": "alice"}, "requests": [], "requests": [{"method": "tools/list"}]}'
    assert _fields(await _post(client, "/v1/decisions/batch", twice)) == ["requests"]


async def test_tools_filter_refuses_them_naming_the_tool_field(client: httpx.AsyncClient) -> None:
    raw = '{"claims": {"sub": "alice"}, "tools": [{"name": "docs___search", "title": "\\udfff"}]}'
    assert _fields(await _post(client, "/v1/tools/filter", raw)) == ["tools.0.title"]
    twice = '{"claims": {"sub": "alice"}, "tools": [{"name": "hr___get_salary", "name": "x"}]}'
    assert _fields(await _post(client, "/v1/tools/filter", twice)) == ["tools.0.name"]


async def test_admin_routes_refuse_them(admin: httpx.AsyncClient) -> None:
    raw = '{"name": "gw\\u0000", "scope": "decide"}'
    assert _fields(await _post(admin, "/admin/v1/keys", raw)) == ["name"]
    raw = '{"department": "fin", "department": "hr"}'
    path = "/admin/v1/principals/alice/attributes"
    response = await admin.patch(path, content=raw.encode(), headers=JSON)
    assert _fields(response) == ["department"]


async def test_every_route_with_a_json_body_checks_it(admin: httpx.AsyncClient) -> None:
    app: Any = admin.app  # type: ignore[attr-defined]
    routes = [
        (method.upper(), path.replace("{", "").replace("}", ""))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(routes) >= 7  # decisions, batch, filter and the admin writes
    for method, path in routes:
        for raw, field in (('{"\\u0000": 1}', "\\u0000"), ('{"a": 1, "a": 2}', "a")):
            response = await admin.request(method, path, content=raw.encode(), headers=JSON)
            status = 400 if path.startswith("/access/v1/") else 422  # AuthZEN: Bad Request
            assert response.status_code == status, (method, path, response.text)
            assert [d["field"] for d in response.json()["detail"]] == [field], (method, path)


async def test_refusal_comes_before_authentication(admin: httpx.AsyncClient) -> None:
    # As for malformed JSON: the body is read and checked before the key is.
    raw = '{"claims": {"sub": "\\udead"}, "method": "tools/list"}'
    response = await _post(admin, "/v1/decisions", raw, authorization="Bearer not-a-key")
    assert _fields(response) == ["claims.sub"]
    assert ADMIN_KEY not in response.text


def test_loads_returns_what_json_loads_returns() -> None:
    # The escaped pair and the escaped backslash before `u0000` make the body suspect,
    # the integer past 64 bits defeats the quick second look: still nothing is refused.
    raw = b'{"a": [1, 2.5, "x", {"b": null}], "c": "\\ud83d\\ude00", "d": "\\\\u0000", '
    raw += b'"e": 123456789012345678901234567890}'
    assert json_body.loads(raw) == json.loads(raw)
    for encoding in ("utf-8-sig", "utf-16", "utf-32-be"):  # json.loads detects these
        encoded = raw.decode().encode(encoding)
        assert json_body.loads(encoded) == json.loads(encoded)
    with pytest.raises(json.JSONDecodeError):
        json_body.loads(b"{not json")


def test_the_error_names_the_key_without_its_raw_characters() -> None:
    with pytest.raises(UnsafeJson) as refused:
        json_body.loads(b'{"a": {"x\\u0000y": 1}}')
    assert refused.value.field == "a.x\\u0000y"
    assert "NUL" in refused.value.message
