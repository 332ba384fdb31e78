"""`POST /v1/decisions/batch`: one principal, answers in order, per-item denies."""

from __future__ import annotations

import httpx

from service.app import create_app
from tests.conftest import demo_settings, load_demo


async def batch(client: httpx.AsyncClient, **body: object) -> list[dict]:
    response = await client.post("/v1/decisions/batch", json=body)
    assert response.status_code == 200, response.text
    return response.json()["decisions"]


async def test_answers_come_in_order(client: httpx.AsyncClient) -> None:
    requests = [
        {"method": "tools/call", "tool": "payments___refund",
         "arguments": {"orderId": "A", "amount": 450}},
        {"method": "tools/call", "tool": "payments___refund",
         "arguments": {"orderId": "A", "amount": 500}},
        {"method": "tools/list"},
        {"method": "tools/call", "tool": "hr___get_salary", "arguments": {"employeeId": "E"}},
        {"method": "resources/read", "uri": "docs://public/handbook.md"},
        {"method": "prompts/get", "prompt": "support-refund"},
    ]  # fmt: skip
    answers = await batch(client, claims={"sub": "bob", "scope": "tools:write"}, requests=requests)
    assert [(a["decision"], a["code"]) for a in answers] == [
        ("allow", None),
        ("deny", "no_policy"),
        ("allow", None),
        ("deny", None),  # a forbid's verdict: reasons, no code
        ("allow", None),
        ("allow", None),
    ]
    assert answers[3]["reasons"] == ["guardrails.cedar#pii-only-for-hr"]
    assert answers[0]["reasons"] == ["tools.cedar#refunds-under-500"]
    assert len({a["decision_id"] for a in answers}) == len(answers)


async def test_item_errors_are_item_denies(client: httpx.AsyncClient) -> None:
    requests = [
        {"method": "tools/call", "tool": "docs___search", "arguments": {"query": "q"}},
        {"method": "tools/call", "tool": "payments___charge", "arguments": {}},
        {"method": "tools/call", "tool": "docs___search", "arguments": {"query": 5}},
        {"method": "sampling/teleport"},
        {"method": "tools/call"},  # no tool: malformed item
        {"method": "resources/read"},  # no uri
        {"method": "tools/list", "surprise": True},  # unknown field
        "not an object",
        {"method": "tools/call", "tool": "files___read_file",
         "arguments": {"path": "/data/reports/../../../etc/passwd"}},
        {"method": "tools/call", "tool": "docs___search", "arguments": {"query": "again"}},
    ]  # fmt: skip
    answers = await batch(client, claims={"sub": "alice"}, requests=requests)
    codes = [(a["decision"], a["code"]) for a in answers]
    assert codes == [
        ("allow", None),
        ("deny", "unknown_tool"),
        ("deny", "invalid_arguments"),
        ("deny", "unknown_method"),
        ("deny", "invalid_arguments"),
        ("deny", "invalid_arguments"),
        ("deny", "invalid_arguments"),
        ("deny", "invalid_arguments"),
        ("deny", "invalid_arguments"),
        ("allow", None),
    ]
    assert "tool" in answers[4]["errors"][0]
    assert "surprise" in answers[6]["errors"][0]


async def test_a_principal_error_denies_every_item(client: httpx.AsyncClient) -> None:
    answers = await batch(
        client, token="not-a-jwt", requests=[{"method": "ping"}, {"method": "tools/list"}]
    )
    assert [(a["decision"], a["code"]) for a in answers] == [("deny", "invalid_token")] * 2


async def test_step_up_scopes_per_item(client: httpx.AsyncClient) -> None:
    refund = {"method": "tools/call", "tool": "payments___refund"}
    answers = await batch(
        client,
        claims={"sub": "bob", "scope": "openid tools:read"},
        requests=[
            {**refund, "arguments": {"orderId": "A", "amount": 20}},
            {**refund, "arguments": {"orderId": "A", "amount": 20000}},  # no scope helps
        ],
    )
    assert answers[0]["required_scopes"] == ["openid", "tools:read", "tools:write"]
    assert answers[0]["reasons"] == ["guardrails.cedar#writes-need-scope"]
    assert answers[1]["decision"] == "deny"
    assert answers[1]["required_scopes"] == []


async def test_batch_defaults_and_limits(database_url: str) -> None:
    await load_demo(database_url)
    app = create_app(demo_settings(database_url, max_batch_requests=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            over = await http.post(
                "/v1/decisions/batch",
                json={"claims": {"sub": "a"}, "requests": [{"method": "ping"}] * 3},
            )
            empty = await http.post(
                "/v1/decisions/batch", json={"claims": {"sub": "a"}, "requests": []}
            )
    assert over.status_code == 422
    assert over.json()["detail"][0]["field"] == "requests"
    assert empty.status_code == 422
