"""`POST /v1/tools/filter` over HTTP with the 50-tool demo registry."""

from __future__ import annotations

import json

import httpx
import pytest

from service.app import create_app
from tests.conftest import demo_settings, demo_tools, load_demo
from tests.leaks import list_results, mentions, search_results

PII = {"hr___get_salary", "hr___get_employee", "hr___update_salary"}


async def listing(client: httpx.AsyncClient, claims: dict, tools: list | None = None) -> dict:
    body = {"claims": claims, "tools": demo_tools() if tools is None else tools}
    response = await client.post("/v1/tools/filter", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def names(body: dict) -> set[str]:
    return {t["name"] for t in body["tools"]}


async def test_each_principal_sees_exactly_what_it_may_call(client: httpx.AsyncClient) -> None:
    tools = demo_tools()
    everything = {t["name"] for t in tools}
    read_only = {t["name"] for t in tools if t.get("annotations", {}).get("readOnlyHint")}
    support = {"crm___get_customer", "crm___update_customer", "payments___list_invoices"}
    support |= {"docs___search"}
    expected = {
        # analyst: read-only tools except pii, plus the finance export (DB attributes)
        "alice": (read_only - PII) | {"reports___export"},
        # support with the write scope: its four tools and refunds (argument-gated)
        "bob+write": support | {"payments___refund"},
        "bob": support,  # without tools:write the refund is withheld
        "dave+write": everything - PII,  # admin, but pii is for hr only
        "erin": {"hr___get_salary"},
        "stranger": set(),
    }
    for who, want in expected.items():
        sub, _, scope = who.partition("+")
        claims = {"sub": sub, **({"scope": f"tools:{scope}"} if scope else {})}
        body = await listing(client, claims)
        assert names(body) == want, who
        assert set(body["withheld"]) == everything - want, who
        assert len(body["tools"]) + len(body["withheld"]) == 50
        assert body["policy_version"].startswith("sha256:")


async def test_listed_tools_are_the_objects_sent(client: httpx.AsyncClient) -> None:
    body = await listing(client, {"sub": "dave", "scope": "tools:write"})
    sent = {t["name"]: t for t in demo_tools()}
    for tool in body["tools"]:
        assert json.dumps(tool) == json.dumps(sent[tool["name"]])  # same values, same key order


async def test_listed_tools_are_byte_for_byte_the_text_sent(client: httpx.AsyncClient) -> None:
    odd = (
        '{ "name" : "docs___search",\n  "description":"S\\u00e9arch",'
        ' "inputSchema": {"type":"object","properties":{"query":{"type":"string"}},'
        '"required":["query"]}, "x-weight": 1.0e2, "x-big": 12345678901234567890 }'
    )
    hidden = '{"name": "hr___get_salary"}'
    raw = '{"claims": {"sub": "alice"}, "tools": [ ' + odd + " ,\n" + hidden + "]}"
    response = await client.post(
        "/v1/tools/filter", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert odd.encode() in response.content
    assert response.json()["withheld"] == ["hr___get_salary"]
    assert response.json()["tools"][0]["x-weight"] == 100.0


async def test_unknown_tools_are_withheld_and_reported(client: httpx.AsyncClient) -> None:
    tools = [{"name": "docs___search"}, {"name": "shadow___exfiltrate", "description": "new"}]
    body = await listing(client, {"sub": "alice"}, tools)
    assert names(body) == {"docs___search"}
    assert body["details"] == [
        {"name": "shadow___exfiltrate", "code": "unknown_tool", "reasons": []}
    ]


async def test_forbids_name_their_policy(client: httpx.AsyncClient) -> None:
    body = await listing(client, {"sub": "bob", "scope": "tools:read"}, demo_tools())
    refund = next(d for d in body["details"] if d["name"] == "payments___refund")
    assert refund == {
        "name": "payments___refund",
        "code": None,
        "reasons": ["guardrails.cedar#writes-need-scope"],
    }


async def test_tools_list_result_keeps_only_its_standard_fields(
    client: httpx.AsyncClient,
) -> None:
    result = {"tools": demo_tools()[:3], "nextCursor": "page-2", "_meta": {"a": 1}}
    response = await client.post(
        "/v1/tools/filter", json={"claims": {"sub": "bob"}, "result": result}
    )
    body = response.json()
    assert body["result"] == {"tools": body["tools"], "nextCursor": "page-2"}
    assert [t["name"] for t in body["result"]["tools"]] == ["docs___search", "crm___get_customer"]


FOUND = [t for t in demo_tools() if t["name"] in {"docs___search", "hr___get_salary"}]
KEPT = [t for t in FOUND if t["name"] == "docs___search"]
SEARCH_LEAKS = search_results(FOUND, "hr___get_salary")
LIST_LEAKS = list_results(FOUND, "hr___get_salary")


async def _filtered(client: httpx.AsyncClient, result: dict) -> dict:
    body = {"claims": {"sub": "alice"}, "result": result}
    response = await client.post("/v1/tools/filter", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["withheld"] == ["hr___get_salary"]
    filtered: dict = response.json()["result"]
    return filtered


@pytest.mark.parametrize("vector", SEARCH_LEAKS, ids=list(SEARCH_LEAKS))
async def test_search_result_leaks_no_withheld_name(client: httpx.AsyncClient, vector: str) -> None:
    filtered = await _filtered(client, SEARCH_LEAKS[vector])
    assert not mentions(filtered, "hr___get_salary")
    # Rebuilt from the kept tools: the tool-list text, nothing else.
    (text,) = filtered.pop("content")
    assert (text["type"], json.loads(text["text"])) == ("text", {"tools": KEPT})
    assert filtered == {"structuredContent": {"tools": KEPT}, "isError": False}


async def test_a_bare_array_text_stays_a_bare_array(client: httpx.AsyncClient) -> None:
    text = {"type": "text", "text": json.dumps(FOUND)}
    result = {"structuredContent": {"tools": FOUND}, "content": [text]}
    filtered = await _filtered(client, result)
    assert [json.loads(b["text"]) for b in filtered["content"]] == [KEPT]
    assert "isError" not in filtered


@pytest.mark.parametrize("vector", LIST_LEAKS, ids=list(LIST_LEAKS))
async def test_tools_list_result_leaks_no_withheld_name(
    client: httpx.AsyncClient, vector: str
) -> None:
    filtered = await _filtered(client, LIST_LEAKS[vector])
    assert not mentions(filtered, "hr___get_salary")
    assert filtered == {"tools": KEPT, "nextCursor": "page-2"}


async def test_semantic_search_result_shape(client: httpx.AsyncClient) -> None:
    found = [t for t in demo_tools() if t["name"] in {"docs___search", "hr___get_salary"}]
    structured = {"tools": found}
    result = {
        "content": [
            {"type": "text", "text": json.dumps(structured)},
            {"type": "text", "text": "Best match: hr___get_salary"},
            {"type": "text", "text": "2 tools found"},
        ],
        "structuredContent": structured,
        "isError": False,
    }
    response = await client.post(
        "/v1/tools/filter", json={"claims": {"sub": "alice"}, "result": result}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert names(body) == {"docs___search"}
    assert body["withheld"] == ["hr___get_salary"]
    filtered = body["result"]
    assert [t["name"] for t in filtered["structuredContent"]["tools"]] == ["docs___search"]
    texts = [c["text"] for c in filtered["content"]]
    assert [t["name"] for t in json.loads(texts[0])["tools"]] == ["docs___search"]
    assert "hr___get_salary" not in json.dumps(filtered)
    assert texts[1:] == []  # prose cannot be shown clean: dropped, even without a name
    assert filtered["isError"] is False


async def test_a_principal_error_withholds_everything(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tools/filter", json={"token": "not-a-jwt", "tools": demo_tools()[:4]}
    )
    body = response.json()
    assert body["tools"] == []
    assert {d["code"] for d in body["details"]} == {"invalid_token"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"claims": {"sub": "a"}}, "body"),
        ({"claims": {"sub": "a"}, "tools": [], "result": {"tools": []}}, "body"),
        ({"claims": {"sub": "a"}, "tools": [{"description": "no name"}]}, "tools.0.name"),
        ({"claims": {"sub": "a"}, "result": {"content": []}}, "result"),
        ({"tools": []}, "body"),
    ],
)
async def test_malformed_bodies_are_422(client: httpx.AsyncClient, body: dict, field: str) -> None:
    response = await client.post("/v1/tools/filter", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field


async def test_tool_count_limit(database_url: str) -> None:
    await load_demo(database_url)
    app = create_app(demo_settings(database_url, max_filter_tools=3))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            body = {"claims": {"sub": "a"}, "tools": demo_tools()[:4]}
            response = await http.post("/v1/tools/filter", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "field": "tools",
        "message": "more than 3 tools",
        "type": "value_error",
    }
