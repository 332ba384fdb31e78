"""MCP 2026-07-28 beside 2025-06-18 and 2025-11-25, over `POST /v1/decisions`.

Requests of 2026-07-28 are built with the official SDK's own types and stamped
(`_meta` and the `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` headers) by
the SDK's own client stamp, then handed to the PDP as a gateway would: the
method and its target from the body, `params._meta` as `meta`, the headers as
`headers`.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import mcp.types as mt
from mcp.client.session import _make_modern_stamp
from mcp.shared.inbound import encode_header_value

from tests.conftest import app_client, clean_database, demo_settings, load_demo

MODERN = "2026-07-28"
CLIENT = {"name": "test-agent", "version": "1.0.0"}
HANDBOOK = "docs://public/handbook.md"
STAMP = _make_modern_stamp(MODERN, CLIENT, {}, lambda name, arguments: {})
EVERYONE = ["session.cedar#everyone-may-connect"]


def stamped(request: mt.Request[Any, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON-RPC request as the SDK's client sends it, and the headers it sets."""
    data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    options: dict[str, Any] = {}
    STAMP(data, options)  # type: ignore[arg-type]
    return data, dict(options.get("headers", {}))


def decision_request(
    data: dict[str, Any], headers: dict[str, str] | None, sub: str = "alice"
) -> dict[str, Any]:
    """What a gateway asks the PDP for this JSON-RPC message."""
    params = dict(data.get("params") or {})
    body: dict[str, Any] = {"claims": {"sub": sub}, "method": data["method"]}
    if "_meta" in params:
        body["meta"] = params.pop("_meta")
    if headers is not None:
        body["headers"] = headers
    method = data["method"]
    if method == "tools/call":
        body["tool"] = params["name"]
        body["arguments"] = params.get("arguments", {})
    elif method == "prompts/get":
        body["prompt"] = params["name"]
    elif method == "resources/read":
        body["uri"] = params["uri"]
    elif method == "subscriptions/listen":
        body["subscriptions"] = params["notifications"]
    elif method == "completion/complete" and params["ref"]["type"] == "ref/prompt":
        body["prompt"] = params["ref"]["name"]
    return body


def listen(*uris: str) -> mt.SubscriptionsListenRequest:
    return mt.SubscriptionsListenRequest(
        params=mt.SubscriptionsListenRequestParams(
            notifications=mt.SubscriptionFilter(
                tools_list_changed=True, resource_subscriptions=list(uris) or None
            )
        )
    )


def call(tool: str, **arguments: Any) -> mt.CallToolRequest:
    return mt.CallToolRequest(params=mt.CallToolRequestParams(name=tool, arguments=arguments))


# Every client request of 2026-07-28, asked for alice (analyst) → the demo's verdict.
REQUESTS: list[tuple[mt.Request[Any, Any], str, list[str]]] = [
    (mt.DiscoverRequest(), "allow", EVERYONE),
    (mt.ListToolsRequest(), "allow", EVERYONE),
    (mt.ListPromptsRequest(), "allow", EVERYONE),
    (mt.ListResourcesRequest(), "allow", EVERYONE),
    (mt.ListResourceTemplatesRequest(), "allow", EVERYONE),
    (call("docs___search", query="q"), "allow", ["tools.cedar#analysts-read-tools"]),
    (call("hr___get_salary", employeeId="E-1"), "deny", ["guardrails.cedar#pii-only-for-hr"]),
    (
        mt.GetPromptRequest(params=mt.GetPromptRequestParams(name="summarize")),
        "allow",
        ["resources.cedar#general-prompts"],
    ),
    (
        mt.ReadResourceRequest(params=mt.ReadResourceRequestParams(uri=HANDBOOK)),
        "allow",
        ["resources.cedar#public-handbook"],
    ),
    (
        mt.ReadResourceRequest(params=mt.ReadResourceRequestParams(uri="file:///etc/passwd")),
        "no_policy",
        [],
    ),
    (
        mt.CompleteRequest(
            params=mt.CompleteRequestParams(
                ref=mt.PromptReference(name="summarize"),
                argument=mt.CompletionArgument(name="text", value="q"),
            )
        ),
        "allow",
        ["resources.cedar#everyone-completes"],
    ),
    (listen(), "allow", ["session.cedar#everyone-may-listen"]),
    (
        listen(HANDBOOK),
        "allow",
        ["resources.cedar#public-handbook", "session.cedar#everyone-may-listen"],
    ),
    # One URI the user may not subscribe to denies the whole stream.
    (listen(HANDBOOK, "file:///etc/passwd"), "no_policy", []),
]


async def ask(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def verdict(answer: dict[str, Any]) -> str:
    return "allow" if answer["decision"] == "allow" else (answer["code"] or "deny")


async def test_every_2026_request_is_decided_by_the_demo_policies(
    client: httpx.AsyncClient,
) -> None:
    for request, expected, reasons in REQUESTS:
        data, headers = stamped(request)
        answer = await ask(client, decision_request(data, headers))
        assert (verdict(answer), answer["reasons"]) == (expected, reasons), data


def task_message(method: str, **params: Any) -> dict[str, Any]:
    """A tasks-extension message (the SDK has no types for these), stamped like the others."""
    data: dict[str, Any] = {"method": method, "params": params}
    STAMP(data, {})  # type: ignore[arg-type]
    return data


async def test_tasks_extension_and_notifications_of_2026(client: httpx.AsyncClient) -> None:
    messages = [
        (task_message("tasks/get", taskId="t-1"), "no_policy"),
        (task_message("tasks/update", taskId="t-1", inputResponses={}), "no_policy"),
        (task_message("tasks/cancel", taskId="t-1"), "no_policy"),
        (task_message("notifications/tasks", taskId="t-1", status="working"), "allow"),
        (
            mt.CancelledNotification(params=mt.CancelledNotificationParams(request_id=3)),
            "allow",
        ),
        (
            mt.SubscriptionsAcknowledgedNotification(
                params=mt.SubscriptionsAcknowledgedNotificationParams(
                    notifications=mt.SubscriptionFilter(tools_list_changed=True)
                )
            ),
            "allow",
        ),
    ]
    for message, expected in messages:
        data = message if isinstance(message, dict) else message.model_dump(by_alias=True)
        answer = await ask(client, decision_request(data, None))
        assert verdict(answer) == expected, data


def b64(text: str) -> str:
    return f"=?base64?{base64.b64encode(text.encode()).decode()}?="


async def test_headers_that_disagree_with_the_body_are_header_mismatch(
    client: httpx.AsyncClient,
) -> None:
    data, headers = stamped(call("docs___search", query="q"))
    honest = await ask(client, decision_request(data, headers))
    assert honest["decision"] == "allow"
    lies = {
        "another method": {**headers, "mcp-method": "tools/list"},
        "another tool": {**headers, "mcp-name": "files___delete"},
        "another version": {**headers, "mcp-protocol-version": "2025-11-25"},
        "base64 of another tool": {**headers, "mcp-name": b64("files___delete")},
        "malformed base64": {**headers, "mcp-name": "=?base64?not base64?="},
        "no Mcp-Method": {k: v for k, v in headers.items() if k != "mcp-method"},
        "no Mcp-Name": {k: v for k, v in headers.items() if k != "mcp-name"},
        "no version header": {k: v for k, v in headers.items() if k != "mcp-protocol-version"},
    }
    for lie, sent in lies.items():
        answer = await ask(client, decision_request(data, sent))
        assert (answer["decision"], answer["code"]) == ("deny", "header_mismatch"), lie
    # The name in its base64 form is the same name.
    encoded = {**headers, "mcp-name": b64("docs___search")}
    assert (await ask(client, decision_request(data, encoded)))["decision"] == "allow"


async def test_prompt_and_uri_headers_are_checked_too(client: httpx.AsyncClient) -> None:
    prompt, prompt_headers = stamped(
        mt.GetPromptRequest(params=mt.GetPromptRequestParams(name="summarize"))
    )
    read, read_headers = stamped(
        mt.ReadResourceRequest(params=mt.ReadResourceRequestParams(uri=HANDBOOK))
    )
    for data, headers, other in [
        (prompt, prompt_headers, "translate"),
        (read, read_headers, "docs://public/other.md"),
    ]:
        assert (await ask(client, decision_request(data, headers)))["decision"] == "allow"
        lied = await ask(client, decision_request(data, {**headers, "mcp-name": other}))
        assert lied["code"] == "header_mismatch", data["method"]


async def test_a_non_ascii_name_travels_base64_encoded(client: httpx.AsyncClient) -> None:
    data, headers = stamped(
        mt.ReadResourceRequest(params=mt.ReadResourceRequestParams(uri="docs://public/résumé.md"))
    )
    assert headers["mcp-name"] == encode_header_value("docs://public/résumé.md")
    assert headers["mcp-name"].startswith("=?base64?")
    assert (await ask(client, decision_request(data, headers)))["decision"] == "allow"


async def test_older_revisions_are_decided_as_before(client: httpx.AsyncClient) -> None:
    # 2025-11-25 and 2025-06-18: no `_meta` envelope and no Mcp-Method/Mcp-Name.
    for version in ("2025-06-18", "2025-11-25"):
        headers = {"mcp-protocol-version": version}
        body = {"claims": {"sub": "alice"}, "method": "tools/call", "headers": headers}
        answer = await ask(client, {**body, "tool": "docs___search", "arguments": {"query": "q"}})
        assert answer["reasons"] == ["tools.cedar#analysts-read-tools"], version
        ping = await ask(client, {"claims": {"sub": "alice"}, "method": "ping", "headers": headers})
        assert ping["reasons"] == ["session.cedar#legacy-sessions"], version
    # Without meta or headers nothing changes either.
    plain = await ask(client, {"claims": {"sub": "alice"}, "method": "initialize"})
    assert plain["reasons"] == ["session.cedar#legacy-sessions"]


async def test_a_2026_client_gets_no_legacy_session(client: httpx.AsyncClient) -> None:
    data = {"method": "initialize", "params": {}}
    STAMP(data, {})  # type: ignore[arg-type]
    answer = await ask(client, decision_request(data, None))
    assert verdict(answer) == "no_policy"


async def test_revisions_before_2025_06_18_are_refused(client: httpx.AsyncClient) -> None:
    for version, expected in [("2025-03-26", "deny"), ("2024-11-05", "deny"), (MODERN, "allow")]:
        body = {
            "claims": {"sub": "alice"},
            "method": "tools/list",
            "meta": {"io.modelcontextprotocol/protocolVersion": version},
        }
        answer = await ask(client, body)
        assert answer["decision"] == expected, version
    old = await ask(client, {**body, "meta": {}, "headers": {"mcp-protocol-version": "2025-03-26"}})
    assert old["reasons"] == ["guardrails.cedar#no-revisions-before-2025-06-18"]


async def test_per_request_meta_does_not_split_the_cache(client: httpx.AsyncClient) -> None:
    data, headers = stamped(call("docs___search", query="q"))
    first = decision_request(data, headers)
    second = decision_request(data, headers)
    second["meta"] = {**second["meta"], "progressToken": "p-2", "traceparent": "00-ff-01"}
    assert (await ask(client, first))["cached"] is False
    assert (await ask(client, second))["cached"] is True
    # A cached allow does not let lying headers through: they are checked first.
    lying = {**first, "headers": {**headers, "mcp-name": "files___delete"}}
    answer = await ask(client, lying)
    assert (answer["decision"], answer["code"], answer["cached"]) == (
        "deny",
        "header_mismatch",
        False,
    )


async def test_meta_and_headers_are_validated_at_the_edge(client: httpx.AsyncClient) -> None:
    base = {"claims": {"sub": "alice"}, "method": "tools/list"}
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(40):
        cursor["x"] = {}
        cursor = cursor["x"]
    bad = {
        "meta": [
            "not an object",
            {"io.modelcontextprotocol/protocolVersion": 20260728},
            {"io.modelcontextprotocol/clientInfo": {"name": 7}},
            {"big": "x" * 70_000},
            deep,
        ],
        "headers": [
            {"Mcp-Method": "tools/list"},
            {"mcp-session-id": "abc"},
            {"mcp-method": "tools/list\r\nx-injected: 1"},
            {"mcp-name": "é"},
            {"mcp-method": 7},
        ],
    }
    for field, values in bad.items():
        for value in values:
            response = await client.post("/v1/decisions", json={**base, field: value})
            assert response.status_code == 422, (field, value)
            assert field in response.text, response.text


async def test_batch_items_carry_their_own_meta_and_headers(client: httpx.AsyncClient) -> None:
    search, search_headers = stamped(call("docs___search", query="q"))
    discover, discover_headers = stamped(mt.DiscoverRequest())
    first = decision_request(search, search_headers)
    second = decision_request(discover, discover_headers)
    lying = {**first, "headers": {**search_headers, "mcp-method": "tools/list"}}
    items = [{k: v for k, v in item.items() if k != "claims"} for item in (first, second, lying)]
    body = {"claims": {"sub": "alice"}, "requests": items}
    response = await client.post("/v1/decisions/batch", json=body)
    assert response.status_code == 200, response.text
    answers = [(d["decision"], d["code"]) for d in response.json()["decisions"]]
    assert answers == [("allow", None), ("allow", None), ("deny", "header_mismatch")]
    # Top-level meta and headers are the items' defaults.
    shared = {
        "claims": {"sub": "alice"},
        "meta": first["meta"],
        "headers": {"mcp-protocol-version": "2025-03-26"},
        "requests": [{"method": "tools/list"}],
    }
    response = await client.post("/v1/decisions/batch", json=shared)
    assert response.json()["decisions"][0]["code"] == "header_mismatch"


TOOLS = [
    {"name": "docs___search", "inputSchema": {"type": "object"}},
    {"name": "hr___get_salary", "inputSchema": {"type": "object"}},
]


async def filtered(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/tools/filter", json={"claims": {"sub": "alice"}, **fields})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_filtered_2026_list_is_private_and_short_lived(
    client: httpx.AsyncClient,
) -> None:
    result = mt.ListToolsResult(
        tools=[mt.Tool.model_validate(t) for t in TOOLS], ttl_ms=3_600_000, cache_scope="public"
    ).model_dump(by_alias=True, mode="json", exclude_none=True)
    answer = await filtered(client, result=result)
    assert answer["withheld"] == ["hr___get_salary"]
    out = answer["result"]
    # cache_ttl_seconds is 60 by default: no longer than the PDP keeps the answer.
    assert (out["cacheScope"], out["ttlMs"], out["resultType"]) == ("private", 60_000, "complete")
    assert answer["max_ttl_ms"] == 60_000
    shorter = await filtered(client, result={**result, "ttlMs": 5_000})
    assert shorter["result"]["ttlMs"] == 5_000
    # A result without the fields, on a request that says it is of 2026-07-28.
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN}
    bare = await filtered(client, result={"tools": TOOLS}, meta=meta)
    assert (bare["result"]["cacheScope"], bare["result"]["ttlMs"]) == ("private", 0)
    # An older result stays as it was.
    legacy = await filtered(client, result={"tools": TOOLS, "nextCursor": "c"})
    assert set(legacy["result"]) == {"tools", "nextCursor"}


async def test_filter_headers_must_agree_with_the_listing(client: httpx.AsyncClient) -> None:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN}
    honest = {"mcp-protocol-version": MODERN, "mcp-method": "tools/list"}
    ok = await filtered(client, tools=TOOLS, meta=meta, headers=honest)
    assert ok["withheld"] == ["hr___get_salary"]
    for lie in (
        {**honest, "mcp-protocol-version": "2025-11-25"},
        {**honest, "mcp-method": "prompts/list"},
        {"mcp-protocol-version": MODERN},
    ):
        answer = await filtered(client, tools=TOOLS, meta=meta, headers=lie)
        assert answer["tools"] == [], lie
        assert {d["code"] for d in answer["details"]} == {"header_mismatch"}, lie


async def test_a_small_cache_ttl_caps_the_list_ttl(sqlite_database: str) -> None:
    clean_database(sqlite_database)
    await load_demo(sqlite_database)
    settings = demo_settings(sqlite_database, cache_ttl_seconds=2.5)
    async with app_client(settings) as client:
        result = {"tools": TOOLS, "ttlMs": 600_000, "cacheScope": "private"}
        answer = await filtered(client, result=result)
        assert answer["result"]["ttlMs"] == 2_500


async def test_subscriptions_belong_to_listen(client: httpx.AsyncClient) -> None:
    body = {"claims": {"sub": "alice"}, "method": "tools/list", "subscriptions": {}}
    response = await client.post("/v1/decisions", json=body)
    assert response.status_code == 422
    assert "subscriptions/listen" in response.text
    for bad in (
        {"toolsChanged": True},
        {"toolsListChanged": "yes"},
        {"resourceSubscriptions": ["x"] * 101},
    ):
        listen_body = {**body, "method": "subscriptions/listen", "subscriptions": bad}
        assert (await client.post("/v1/decisions", json=listen_body)).status_code == 422, bad
    missing = {"claims": {"sub": "alice"}, "method": "subscriptions/listen"}
    assert (await client.post("/v1/decisions", json=missing)).status_code == 422
