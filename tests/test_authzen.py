"""AuthZEN 1.0 and its MCP profile (COAZ) under `/access/v1`, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import (
    ADMIN_KEY,
    app_client,
    demo_settings,
    demo_tools,
    load_demo,
    logged_decisions,
)
from tests.idp import LoopbackIdP

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
SEARCH_SUBJECT = "/access/v1/search/subject"
SEARCH_RESOURCE = "/access/v1/search/resource"
SEARCH_ACTION = "/access/v1/search/action"
METADATA = "/.well-known/authzen-configuration"


def subject(claims: dict[str, Any] | str) -> dict[str, Any]:
    """A COAZ subject: the user's claims as properties (or just an id)."""
    if isinstance(claims, str):
        return {"type": "identity", "id": claims}
    return {"type": "identity", "id": claims["sub"], "properties": claims}


def tool_call(claims: dict[str, Any] | str, tool: str, arguments: Any = None) -> dict[str, Any]:
    """A COAZ-MCP `tools/call` request; `arguments` None leaves them out."""
    resource: dict[str, Any] = {"type": "tool", "id": tool}
    if arguments is not None:
        resource["properties"] = {"arguments": arguments}
    return {"subject": subject(claims), "action": {"name": "tools/call"}, "resource": resource}


def method_call(claims: dict[str, Any] | str, method: str, resource: dict[str, Any]) -> dict:
    return {"subject": subject(claims), "action": {"name": method}, "resource": resource}


async def evaluate(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(EVALUATION, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert isinstance(answer["decision"], bool)
    return answer


# -- evaluation ------------------------------------------------------------------------------


async def test_evaluation_answers_with_its_provenance(client: httpx.AsyncClient) -> None:
    allowed = await evaluate(client, tool_call("alice", "docs___search", {"query": "q"}))
    assert allowed["decision"] is True
    context = allowed["context"]
    assert context["reasons"] == ["tools.cedar#analysts-read-tools"]
    assert context["policy_version"].startswith("sha256:")
    assert len(context["decision_id"]) == 36
    assert "code" not in context  # null values are left out
    denied = await evaluate(
        client, tool_call("alice", "crm___add_note", {"customerId": "c", "note": "n"})
    )
    assert denied["decision"] is False, denied  # a deny is a 200, never an HTTP error
    assert denied["context"]["code"] == "no_policy", denied
    assert denied["context"]["decision_id"] != context["decision_id"]


# Twenty calls, as a COAZ PEP sends them (claims as subject properties, the client
# in context.agent) and as /v1/decisions takes them.
PARITY_CASES: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"sub": "alice"}, "docs___search", {"query": "revenue"}),
    ({"sub": "alice"}, "payments___refund", {"orderId": "o1", "amount": 10}),
    ({"sub": "bob"}, "payments___refund", {"orderId": "o1", "amount": 100}),
    ({"sub": "bob"}, "payments___refund", {"orderId": "o1", "amount": 900}),
    ({"sub": "carol"}, "payments___refund", {"orderId": "o1", "amount": 900}),
    ({"sub": "carol"}, "payments___refund", {"orderId": "o1", "amount": 6000}),
    ({"sub": "dave"}, "files___delete", {"path": "/tmp/x"}),
    ({"sub": "dave", "scope": "tools:write"}, "files___delete", {"path": "/tmp/x"}),
    ({"sub": "alice"}, "nope___missing", {"q": 1}),
    ({"sub": "bob"}, "payments___refund", {"orderId": "o1", "amount": "lots"}),
    ({"sub": "bob"}, "payments___refund", {"amount": 5}),
    ({"sub": "erin"}, "hr___get_salary", {"employeeId": "e1"}),
    ({"sub": "alice"}, "hr___get_salary", {"employeeId": "e1"}),
    ({"sub": "alice"}, "reports___export", {"report": "revenue", "format": "csv"}),
    ({"sub": "bob"}, "reports___export", {"report": "revenue", "format": "csv"}),
    ({"sub": "alice"}, "files___read_file", {"path": "/data/reports/q1.csv"}),
    ({"sub": "alice"}, "files___read_file", {"path": "/data/reports/../../etc/passwd"}),
    ({"sub": "zed", "tenant": "acme-partner"}, "docs___read", {"docId": "d1"}),
    (
        {"sub": "dave", "scope": "tools:write", "employment": "contractor"},
        "files___delete",
        {"path": "/tmp/x"},
    ),
    ({"sub": "frank"}, "docs___search", {"query": "q"}),
    (
        {"sub": "gus", "groups": ["analyst"], "client_id": "agent-7"},
        "docs___search",
        {"query": "q"},
    ),
    ({"sub": "alice", "exp": 1_000_000}, "docs___search", {"query": "q"}),
    ({"sub": "bob"}, "crm___update_customer", {"customerId": "c", "changes": {"email": "e"}}),
]


async def test_coaz_tools_call_decides_as_v1_decisions(client: httpx.AsyncClient) -> None:
    seen: set[tuple[bool, str | None]] = set()
    for claims, tool, arguments in PARITY_CASES:
        v1 = await client.post(
            "/v1/decisions",
            json={"claims": claims, "method": "tools/call", "tool": tool, "arguments": arguments},
        )
        assert v1.status_code == 200, v1.text
        expected = v1.json()
        body = tool_call(claims, tool, arguments)
        if "client_id" in claims:
            body["context"] = {"agent": claims["client_id"]}
        answer = await evaluate(client, body)
        context = answer["context"]
        got = (answer["decision"], context.get("code"), context["reasons"])
        want = (expected["decision"] == "allow", expected["code"], expected["reasons"])
        assert got == want, (claims, tool, arguments)
        assert context["required_scopes"] == expected["required_scopes"]
        assert context["policy_version"] == expected["policy_version"]
        seen.add((answer["decision"], context.get("code")))
    # The cases cover an allow and every kind of deny, not twenty of one kind.
    assert {code for _, code in seen} >= {
        None,
        "no_policy",
        "unknown_tool",
        "invalid_arguments",
        "token_expired",
    }
    assert (True, None) in seen and (False, None) in seen  # a forbid's deny carries no code


async def test_a_tool_without_arguments_is_decided_as_the_filter_lists_it(
    client: httpx.AsyncClient,
) -> None:
    # Medium grain: allow iff some call could be allowed, exactly as tools/filter decides.
    for user in ("alice", "bob", "carol", "dave", "erin"):
        listing = await client.post(
            "/v1/tools/filter", json={"claims": {"sub": user}, "tools": demo_tools()}
        )
        withheld = set(listing.json()["withheld"])
        for tool in demo_tools():
            answer = await evaluate(client, tool_call(user, tool["name"]))
            assert answer["decision"] is (tool["name"] not in withheld), (user, tool["name"])
            assert answer["context"]["partial"] is True
    # bob may refund under 500: some call could be allowed, though not every one.
    writer = {"sub": "bob", "scope": "tools:write"}
    refund = await evaluate(client, tool_call(writer, "payments___refund"))
    assert refund["decision"] is True
    over = await evaluate(
        client, tool_call(writer, "payments___refund", {"orderId": "o", "amount": 900})
    )
    assert over["decision"] is False and "partial" not in over["context"]
    scope = await evaluate(client, tool_call("dave", "files___delete"))
    assert scope["decision"] is False
    assert scope["context"]["reasons"] == ["guardrails.cedar#writes-need-scope"]
    unknown = await evaluate(client, tool_call("dave", "nope___missing"))
    assert (unknown["decision"], unknown["context"]["code"]) == (False, "unknown_tool")


async def test_other_methods_use_the_profile_mappings(client: httpx.AsyncClient) -> None:
    server = {"type": "mcp_server", "id": "edge-1"}
    cases = [
        ("alice", "tools/list", server, True, None),
        ("alice", "initialize", server, True, None),
        (
            "alice",
            "resources/read",
            {"type": "resource", "id": "docs://public/handbook"},
            True,
            None,
        ),
        (
            "alice",
            "resources/read",
            {"type": "resource", "id": "file:///etc/passwd"},
            False,
            "no_policy",
        ),
        ("alice", "resources/read", server, False, "invalid_arguments"),  # names no resource
        ("alice", "prompts/get", {"type": "prompt", "id": "summarize"}, True, None),
        ("alice", "prompts/get", {"type": "prompt", "id": "support-refund"}, False, "no_policy"),
        ("bob", "prompts/get", {"type": "prompt", "id": "support-refund"}, True, None),
        ("bob", "completion/complete", {"type": "prompt", "id": "summarize"}, True, None),
        ("bob", "tools/call", server, False, "unknown_tool"),  # names no tool
        ("bob", "no/such-method", server, False, "unknown_method"),
        # Draft 1 as first published named the tool as the action: not a method.
        (
            "alice",
            "docs___search",
            {"type": "tool", "id": "docs___search"},
            False,
            "unknown_method",
        ),
    ]
    for user, method, resource, allowed, code in cases:
        answer = await evaluate(client, method_call(user, method, resource))
        assert (answer["decision"], answer["context"].get("code")) == (allowed, code), method
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    listed = next(r for r in rows if r["method"] == "tools/list")
    assert listed["gateway"] == "edge-1"  # an mcp_server resource is the gateway
    read = next(r for r in rows if r["method"] == "resources/read")
    assert read["gateway"] == "default"


async def test_the_gateway_of_a_tool_and_the_request_facts(client: httpx.AsyncClient) -> None:
    body = tool_call("alice", "docs___search", {"query": "q"})
    body["resource"]["properties"]["mcp_server"] = "edge-2"
    body["context"] = {"source_ip": "203.0.113.7", "session_id": "s-1"}
    assert (await evaluate(client, body))["decision"] is True
    long_name = tool_call("alice", "docs___search", {"query": "q"})
    long_name["resource"]["properties"]["mcp_server"] = "g" * 129
    refused = await evaluate(client, long_name)
    assert (refused["decision"], refused["context"]["code"]) == (False, "invalid_arguments")
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    assert [r["gateway"] for r in rows] == ["edge-2", "default"]


async def test_subject_id_and_claims_must_agree(client: httpx.AsyncClient) -> None:
    body = tool_call("alice", "docs___search", {"query": "q"})
    body["subject"]["properties"] = {"sub": "bob"}
    answer = await evaluate(client, body)
    assert (answer["decision"], answer["context"]["code"]) == (False, "invalid_token")
    agent = tool_call({"sub": "alice", "client_id": "a1"}, "docs___search", {"query": "q"})
    agent["context"] = {"agent": "a2"}
    answer = await evaluate(client, agent)
    assert (answer["decision"], answer["context"]["code"]) == (False, "invalid_token")
    # Without a client claim, context.agent is the client.
    named = tool_call("alice", "docs___search", {"query": "q"})
    named["context"] = {"agent": "https://agents.example/app-1"}
    assert (await evaluate(client, named))["decision"] is True
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    assert rows[-1]["client_id"] == "https://agents.example/app-1"


async def test_a_token_in_the_subject_needs_no_trusted_key(
    database_url: str, idp: LoopbackIdP
) -> None:
    await load_demo(database_url)
    settings = demo_settings(
        database_url,
        issuers=[idp.settings()],
        bootstrap_admin_key=ADMIN_KEY,
        require_caller_key=True,
    )
    async with app_client(settings) as http:
        created = await http.post(
            "/admin/v1/keys",
            json={"name": "gw", "scope": "decide"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        http.headers["Authorization"] = f"Bearer {created.json()['key']}"
        token = idp.token(sub="alice", client_id="agent-9")
        body = tool_call("alice", "docs___search", {"query": "q"})
        body["subject"]["properties"] = {"token": token}
        answer = await evaluate(http, body)
        assert answer["decision"] is True
        bad = tool_call("alice", "docs___search", {"query": "q"})
        bad["subject"]["properties"] = {"token": "garbage"}
        denied = await evaluate(http, bad)
        assert (denied["decision"], denied["context"]["code"]) == (False, "invalid_token")
        rows = await logged_decisions(http.app)  # type: ignore[attr-defined]
        assert rows[0]["client_id"] == "agent-9"


# -- evaluations -----------------------------------------------------------------------------


async def test_evaluations_take_defaults_and_replace_whole_objects(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "subject": subject("bob"),
        "action": {"name": "tools/call"},
        "context": {"session_id": "s-top"},
        "evaluations": [
            {"resource": {"type": "tool", "id": "crm___get_customer"}},
            # A subject given here replaces the default whole: alice, with no claims of bob's.
            {
                "subject": subject("alice"),
                "resource": {
                    "type": "tool",
                    "id": "crm___get_customer",
                    "properties": {"arguments": {"customerId": "c"}},
                },
            },
            {
                "resource": {
                    "type": "tool",
                    "id": "payments___refund",
                    "properties": {"arguments": {"orderId": "o", "amount": 900}},
                }
            },
            {"action": {"name": "tools/list"}, "resource": {"type": "mcp_server", "id": "gw"}},
        ],
    }
    response = await client.post(EVALUATIONS, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "decision" not in answer
    assert [e["decision"] for e in answer["evaluations"]] == [True, True, False, True]
    assert answer["evaluations"][1]["context"]["reasons"] == ["tools.cedar#analysts-read-tools"]
    # Items with arguments are decisions (logged); the first, without, is a listing.
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    assert sorted(r["principal_id"] for r in rows) == ["alice", "bob", "bob"]


async def test_evaluations_without_items_answer_as_one_evaluation(
    client: httpx.AsyncClient,
) -> None:
    single = tool_call("alice", "docs___search", {"query": "q"})
    for extra in ({}, {"evaluations": []}):
        response = await client.post(EVALUATIONS, json={**single, **extra})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["decision"] is True and "evaluations" not in answer
    response = await client.post(EVALUATIONS, json={"evaluations": []})
    assert response.status_code == 400


async def test_a_bad_evaluation_is_a_deny_for_that_item_only(client: httpx.AsyncClient) -> None:
    body = {
        "subject": subject("alice"),
        "action": {"name": "tools/call"},
        "evaluations": [
            {
                "resource": {
                    "type": "tool",
                    "id": "docs___search",
                    "properties": {"arguments": {"query": "q"}},
                }
            },
            {},
            {"resource": {"type": "tool"}},
            "not an object",
            {
                "resource": {
                    "type": "tool",
                    "id": "docs___list_spaces",
                    "properties": {"arguments": {}},
                }
            },
        ],
    }
    response = await client.post(EVALUATIONS, json=body)
    assert response.status_code == 200, response.text
    items = response.json()["evaluations"]
    assert [i["decision"] for i in items] == [True, False, False, False, True]
    for item in items[1:4]:
        assert item["context"]["code"] == "invalid_arguments"
        assert item["context"]["errors"]  # says which field


SEMANTIC_ITEMS = [
    {"resource": {"type": "tool", "id": "docs___search"}},  # permit
    {"resource": {"type": "tool", "id": "payments___refund"}},  # deny
    {"resource": {"type": "tool", "id": "crm___get_customer"}},  # permit
    {"resource": {"type": "tool", "id": "hr___get_salary"}},  # deny
]


async def semantic(client: httpx.AsyncClient, name: str | None, items: list) -> list[bool]:
    body: dict[str, Any] = {
        "subject": subject("alice"),
        "action": {"name": "tools/call"},
        "evaluations": items,
    }
    if name is not None:
        body["options"] = {"evaluations_semantic": name, "another_option": "ignored"}
    response = await client.post(EVALUATIONS, json=body)
    assert response.status_code == 200, response.text
    return [item["decision"] for item in response.json()["evaluations"]]


async def test_the_three_evaluation_semantics(client: httpx.AsyncClient) -> None:
    # Medium-grained items (no arguments): the filter decides them.
    assert await semantic(client, None, SEMANTIC_ITEMS) == [True, False, True, False]
    assert await semantic(client, "execute_all", SEMANTIC_ITEMS) == [True, False, True, False]
    # Short-circuit: the answer stops at the deciding item; the rest are not evaluated.
    assert await semantic(client, "deny_on_first_deny", SEMANTIC_ITEMS) == [True, False]
    assert await semantic(client, "permit_on_first_permit", SEMANTIC_ITEMS) == [True]
    denies = SEMANTIC_ITEMS[1::2]
    assert await semantic(client, "permit_on_first_permit", denies) == [False, False]
    permits = SEMANTIC_ITEMS[0::2]
    assert await semantic(client, "deny_on_first_deny", permits) == [True, True]
    response = await client.post(
        EVALUATIONS,
        json={
            "subject": subject("alice"),
            "action": {"name": "tools/call"},
            "evaluations": SEMANTIC_ITEMS,
            "options": {"evaluations_semantic": "first_wins"},
        },
    )
    assert response.status_code == 400


async def test_a_short_circuit_evaluates_no_further(client: httpx.AsyncClient) -> None:
    calls = [
        {"resource": {"type": "tool", "id": t, "properties": {"arguments": a}}}
        for t, a in [
            ("docs___search", {"query": "q"}),
            ("payments___refund", {"orderId": "o", "amount": 1}),
            ("crm___get_customer", {"customerId": "c"}),
        ]
    ]
    assert await semantic(client, "deny_on_first_deny", calls) == [True, False]
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    assert [r["tool"] for r in rows] == ["docs___search", "payments___refund"]
    assert await semantic(client, "execute_all", calls) == [True, False, True]
    rows = await logged_decisions(client.app)  # type: ignore[attr-defined]
    assert len(rows) == 5


async def test_evaluations_are_limited(database_url: str) -> None:
    await load_demo(database_url)
    async with app_client(demo_settings(database_url, max_batch_requests=3)) as http:
        body = {
            "subject": subject("alice"),
            "action": {"name": "tools/call"},
            "evaluations": SEMANTIC_ITEMS,
        }
        response = await http.post(EVALUATIONS, json=body)
        assert response.status_code == 400
        assert response.json()["detail"][0]["field"] == "evaluations"


# -- search ----------------------------------------------------------------------------------


async def search(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_action_search_lists_methods_and_the_filtered_tools(
    client: httpx.AsyncClient,
) -> None:
    for user in ("alice", "bob"):
        listing = await client.post(
            "/v1/tools/filter", json={"claims": {"sub": user}, "tools": demo_tools()}
        )
        withheld = set(listing.json()["withheld"])
        answer = await search(
            client,
            SEARCH_ACTION,
            {"subject": subject(user), "resource": {"type": "mcp_server", "id": "default"}},
        )
        names = [r["name"] for r in answer["results"]]
        assert {"initialize", "tools/list", "ping"} <= set(names)
        # These act on a resource or a prompt, not on the server (the COAZ binding).
        assert not {"resources/read", "prompts/get", "completion/complete"} & set(names)
        tools = [r["properties"]["tool"] for r in answer["results"] if r["name"] == "tools/call"]
        assert tools == sorted(t["name"] for t in demo_tools() if t["name"] not in withheld)
        assert answer["page"]["next_token"] == ""
    on_tool = await search(
        client,
        SEARCH_ACTION,
        {"subject": subject("bob"), "resource": {"type": "tool", "id": "crm___update_customer"}},
    )
    assert on_tool["results"] == [{"name": "tools/call"}]
    on_prompt = await search(
        client,
        SEARCH_ACTION,
        {"subject": subject("bob"), "resource": {"type": "prompt", "id": "support-x"}},
    )
    assert on_prompt["results"] == [{"name": "completion/complete"}, {"name": "prompts/get"}]
    unknown = await search(
        client, SEARCH_ACTION, {"subject": subject("bob"), "resource": {"type": "x", "id": "y"}}
    )
    assert unknown["results"] == []


async def test_action_search_pages(client: httpx.AsyncClient) -> None:
    body = {"subject": subject("dave"), "resource": {"type": "mcp_server", "id": "default"}}
    everything = (await search(client, SEARCH_ACTION, body))["results"]
    paged = await walk(client, SEARCH_ACTION, body, limit=7)
    assert paged == everything and len(paged) > 14


async def test_resource_search_lists_callable_tools(client: httpx.AsyncClient) -> None:
    listing = await client.post(
        "/v1/tools/filter", json={"claims": {"sub": "bob"}, "tools": demo_tools()}
    )
    listed = sorted(t["name"] for t in listing.json()["tools"])
    body = {
        "subject": subject("bob"),
        "action": {"name": "tools/call"},
        "resource": {"type": "tool", "id": "ignored"},
    }
    answer = await search(client, SEARCH_RESOURCE, body)
    assert answer["results"] == [{"type": "tool", "id": name} for name in listed]
    assert await walk(client, SEARCH_RESOURCE, body, limit=2) == answer["results"]
    for resource_type, action in [
        ("mcp_server", "tools/list"),  # gateways are not registered
        ("resource", "resources/read"),
        ("customer", "tools/call"),
        ("tool", "tools/list"),
    ]:
        other = {**body, "action": {"name": action}, "resource": {"type": resource_type}}
        assert (await search(client, SEARCH_RESOURCE, other))["results"] == []


async def walk(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], *, limit: int
) -> list[dict[str, Any]]:
    """Every result, page by page; each page holds at most `limit`."""
    results: list[dict[str, Any]] = []
    page: dict[str, Any] = {"limit": limit}
    for _ in range(1000):
        answer = await search(http, path, {**body, "page": page})
        assert len(answer["results"]) <= limit
        assert answer["page"]["count"] == len(answer["results"])
        results.extend(answer["results"])
        token = answer["page"]["next_token"]
        if token == "":
            return results
        page = {"token": token}
    raise AssertionError("the pages never end")


async def test_subject_search_pages_through_role_holders(admin: httpx.AsyncClient) -> None:
    # 30 more principals: some hold a role that reaches payments___refund, some not.
    expected = {"bob", "carol", "dave"}
    for n in range(30):
        role = ["support", "support-lead", "analyst", "hr", "admin"][n % 5]
        principal = f"user-{n:02d}"
        expires = "2020-01-01T00:00:00Z" if n % 7 == 0 else None
        response = await admin.put(
            f"/admin/v1/principals/{principal}/roles/{role}", json={"expires_at": expires}
        )
        assert response.status_code in (200, 201), response.text
        if role in ("support", "support-lead", "admin") and expires is None:
            expected.add(principal)
    body = {
        "subject": {"type": "identity"},
        "action": {"name": "tools/call"},
        "resource": {"type": "tool", "id": "payments___refund"},
    }
    first = await walk(admin, SEARCH_SUBJECT, body, limit=4)
    ids = [r["id"] for r in first]
    assert len(ids) == len(set(ids))  # no duplicates
    assert ids == sorted(ids)  # by principal id: a stable order
    assert set(ids) == expected
    assert all(r["type"] == "identity" for r in first)
    assert await walk(admin, SEARCH_SUBJECT, body, limit=4) == first  # stable
    assert (
        await walk(
            admin, SEARCH_SUBJECT, {**body, "subject": {"type": "identity", "id": "x"}}, limit=50
        )
        == first
    )
    # A token is for the request it came from.
    answer = await search(admin, SEARCH_SUBJECT, {**body, "page": {"limit": 2}})
    token = answer["page"]["next_token"]
    changed = {
        **body,
        "resource": {"type": "tool", "id": "docs___search"},
        "page": {"token": token},
    }
    assert (await admin.post(SEARCH_SUBJECT, json=changed)).status_code == 400
    resized = {**body, "page": {"token": token, "limit": 3}}
    assert (await admin.post(SEARCH_SUBJECT, json=resized)).status_code == 400
    assert (
        await admin.post(SEARCH_SUBJECT, json={**body, "page": {"token": "zz"}})
    ).status_code == 400


async def test_subject_search_by_method_and_role(client: httpx.AsyncClient) -> None:
    everyone = await search(
        client,
        SEARCH_SUBJECT,
        {
            "subject": {"type": "user"},
            "action": {"name": "tools/list"},
            "resource": {"type": "mcp_server", "id": "default"},
        },
    )
    # `everyone-may-connect` names no role: every principal of the database.
    assert [r["id"] for r in everyone["results"]] == [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
    ]
    salaries = await search(
        client,
        SEARCH_SUBJECT,
        {
            "subject": {"type": "user"},
            "action": {"name": "tools/call"},
            "resource": {"type": "tool", "id": "hr___get_salary"},
        },
    )
    assert salaries["results"] == [{"type": "user", "id": "erin"}]
    # A scope the token would need does not hide a role: tokens are not in the database.
    deletes = await search(
        client,
        SEARCH_SUBJECT,
        {
            "subject": {"type": "user"},
            "action": {"name": "tools/call"},
            "resource": {"type": "tool", "id": "files___delete"},
        },
    )
    assert deletes["results"] == [{"type": "user", "id": "dave"}]
    for kind, resource in [
        ("agent", {"type": "tool", "id": "hr___get_salary"}),
        ("user", {"type": "tool", "id": "nope___missing"}),
    ]:
        body = {"subject": {"type": kind}, "action": {"name": "tools/call"}, "resource": resource}
        assert (await search(client, SEARCH_SUBJECT, body))["results"] == []


# -- protocol --------------------------------------------------------------------------------


async def test_metadata_names_every_endpoint(database_url: str) -> None:
    await load_demo(database_url)
    async with app_client(demo_settings(database_url)) as http:
        response = await http.get(METADATA)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "policy_decision_point": "http://pdp",
            "access_evaluation_endpoint": "http://pdp/access/v1/evaluation",
            "access_evaluations_endpoint": "http://pdp/access/v1/evaluations",
            "search_subject_endpoint": "http://pdp/access/v1/search/subject",
            "search_resource_endpoint": "http://pdp/access/v1/search/resource",
            "search_action_endpoint": "http://pdp/access/v1/search/action",
        }
    settings = demo_settings(database_url, authzen_pdp_url="https://pdp.example.com")
    async with app_client(settings) as http:
        metadata = (await http.get(METADATA)).json()
        assert metadata["policy_decision_point"] == "https://pdp.example.com"
        assert metadata["search_action_endpoint"] == (
            "https://pdp.example.com/access/v1/search/action"
        )


@pytest.mark.parametrize("url", ["ftp://pdp", "https://pdp/?x=1", "https://pdp/#f", "pdp"])
def test_the_pdp_url_setting_is_checked(url: str) -> None:
    from service.settings import Settings

    with pytest.raises(ValueError, match="authzen_pdp_url"):
        Settings(authzen_pdp_url=url)
    accepted = Settings(authzen_pdp_url="https://pdp.example.com/tenant-1/")
    assert accepted.authzen_pdp_url == "https://pdp.example.com/tenant-1"


MALFORMED: list[tuple[str, Any]] = [
    ("json", {"action": {"name": "tools/list"}, "resource": {"type": "mcp_server", "id": "g"}}),
    ("json", {"subject": "alice", "action": {"name": "x"}, "resource": {"type": "t", "id": "i"}}),
    (
        "json",
        {
            "subject": {"type": "user"},
            "action": {"name": "x"},
            "resource": {"type": "t", "id": "i"},
        },
    ),
    (
        "json",
        {
            "subject": {"type": "user", "id": "a"},
            "action": {"name": 123},
            "resource": {"type": "t", "id": "i"},
        },
    ),
    (
        "json",
        {
            "subject": {"type": "user", "id": "a"},
            "action": {},
            "resource": {"type": "t", "id": "i"},
        },
    ),
    ("json", [1, 2]),
    ("content", b'{"subject": {"type": "user", "id": "a"},'),
    ("content", b""),
    (
        "content",
        b'{"subject": {"type": "user", "id": "a", "id": "b"}, "action": {"name": "x"}, "resource": {"type": "t", "id": "i"}}',
    ),
    (
        "content",
        b'{"subject": {"type": "user", "id": "a\\u0000"}, "action": {"name": "x"}, "resource": {"type": "t", "id": "i"}}',
    ),
]


@pytest.mark.parametrize(("kind", "body"), MALFORMED)
async def test_malformed_bodies_are_400(client: httpx.AsyncClient, kind: str, body: Any) -> None:
    if kind == "json":
        response = await client.post(EVALUATION, json=body)
    else:
        response = await client.post(
            EVALUATION, content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    body = b'{"subject": {"type": "user", "id": "a"}, "action": {"name": "x"}, "resource": {"type": "t", "id": "i"}}'
    response = await client.post(EVALUATION, content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    for path in (EVALUATIONS, SEARCH_SUBJECT, SEARCH_RESOURCE, SEARCH_ACTION):
        assert (await client.post(path, json={"nothing": 1})).status_code == 400, path


async def test_search_needs_identified_entities(client: httpx.AsyncClient) -> None:
    no_resource_id = {
        "subject": {"type": "user"},
        "action": {"name": "tools/call"},
        "resource": {"type": "tool"},
    }
    assert (await client.post(SEARCH_SUBJECT, json=no_resource_id)).status_code == 400
    no_subject_id = {
        "subject": {"type": "user"},
        "action": {"name": "tools/call"},
        "resource": {"type": "tool"},
    }
    assert (await client.post(SEARCH_RESOURCE, json=no_subject_id)).status_code == 400
    no_action_subject = {"subject": {"type": "user"}, "resource": {"type": "mcp_server", "id": "g"}}
    assert (await client.post(SEARCH_ACTION, json=no_action_subject)).status_code == 400


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient) -> None:
    body = tool_call("alice", "docs___search", {"query": "q"})
    body["extension"] = {"anything": [1, 2]}
    body["subject"]["department"] = "x"
    body["action"]["properties"] = {"method": "POST"}
    body["resource"]["properties"]["note"] = "n"
    body["context"] = {"time": "1985-10-26T01:22-07:00", "deep": {"a": 1}}
    assert (await evaluate(client, body))["decision"] is True
    batch = {**body, "options": {"x": 1}, "evaluations": [{"extra": True}]}
    response = await client.post(EVALUATIONS, json=batch)
    assert [e["decision"] for e in response.json()["evaluations"]] == [True]
    search_body = {
        "subject": {"type": "user", "id": "bob", "x": 1},
        "resource": {"type": "mcp_server", "id": "default"},
        "page": {"properties": {"sort": "name"}},
        "other": None,
    }
    assert (await search(client, SEARCH_ACTION, search_body))["results"]


async def test_request_id_is_echoed_on_every_route(client: httpx.AsyncClient) -> None:
    bodies = {
        EVALUATION: tool_call("alice", "docs___search", {"query": "q"}),
        EVALUATIONS: tool_call("alice", "docs___search", {"query": "q"}),
        SEARCH_ACTION: {"subject": subject("bob"), "resource": {"type": "mcp_server", "id": "g"}},
        SEARCH_RESOURCE: {
            "subject": subject("bob"),
            "action": {"name": "tools/call"},
            "resource": {"type": "tool"},
        },
        SEARCH_SUBJECT: {
            "subject": {"type": "user"},
            "action": {"name": "tools/list"},
            "resource": {"type": "mcp_server", "id": "g"},
        },
    }
    for path, body in bodies.items():
        request_id = f"req-{path.rsplit('/', 1)[-1]}-0001"
        response = await client.post(path, json=body, headers={"X-Request-ID": request_id})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == request_id
        bad = await client.post(path, json={}, headers={"X-Request-ID": request_id})
        assert bad.status_code == 400
        assert bad.headers["x-request-id"] == request_id
    response = await client.get(METADATA, headers={"X-Request-ID": "meta-1"})
    assert response.headers["x-request-id"] == "meta-1"
    made = await client.post(EVALUATION, json=bodies[EVALUATION])
    assert made.headers["x-request-id"]  # none sent: one is made


async def test_caller_keys_and_trusted_claims(database_url: str) -> None:
    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY, require_caller_key=True)
    async with app_client(settings) as http:
        as_admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        keys = {}
        for name, trusted in (("plain", False), ("trusted", True)):
            made = await http.post(
                "/admin/v1/keys",
                json={"name": name, "scope": "decide", "trusted_claims": trusted},
                headers=as_admin,
            )
            keys[name] = {"Authorization": f"Bearer {made.json()['key']}"}
        with_claims = tool_call("alice", "docs___search", {"query": "q"})
        with_token = tool_call("alice", "docs___search", {"query": "q"})
        with_token["subject"]["properties"] = {"token": "not-a-jwt"}
        searches = {
            SEARCH_ACTION: {
                "subject": subject("bob"),
                "resource": {"type": "mcp_server", "id": "g"},
            },
            SEARCH_RESOURCE: {
                "subject": subject("bob"),
                "action": {"name": "tools/call"},
                "resource": {"type": "tool"},
            },
            SEARCH_SUBJECT: {
                "subject": {"type": "user"},
                "action": {"name": "tools/list"},
                "resource": {"type": "mcp_server", "id": "g"},
            },
        }
        for path, body in [
            (EVALUATION, with_claims),
            (EVALUATIONS, with_claims),
            *searches.items(),
        ]:
            missing = await http.post(path, json=body)
            assert missing.status_code == 401, path
            assert missing.headers["www-authenticate"] == "Bearer"
            assert (await http.post(path, json=body, headers=keys["plain"])).status_code == 403
            assert (await http.post(path, json=body, headers=keys["trusted"])).status_code == 200
        # A token needs no trusted key: it is verified here.
        answer = await http.post(EVALUATION, json=with_token, headers=keys["plain"])
        assert answer.status_code == 200
        assert answer.json()["context"]["code"] == "invalid_token"
        # One item with claims is enough to refuse the whole batch.
        mixed = {"evaluations": [with_token, with_claims]}
        assert (await http.post(EVALUATIONS, json=mixed, headers=keys["plain"])).status_code == 403
        metadata = await http.get(METADATA)
        assert metadata.status_code == 200  # public: it holds no secret


async def test_a_caller_whose_key_cannot_be_checked_gets_denies(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from service.api import auth

    async def unreachable(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    await load_demo(database_url)
    async with app_client(demo_settings(database_url, require_caller_key=True)) as http:
        monkeypatch.setattr(auth, "authenticate", unreachable)
        http.headers["Authorization"] = "Bearer any-key"
        for body in (
            tool_call("alice", "docs___search", {"query": "q"}),
            tool_call("alice", "docs___search"),
        ):
            answer = await evaluate(http, body)
            assert (answer["decision"], answer["context"]["code"]) == (False, "store_unavailable")
        batch = {
            "subject": subject("alice"),
            "action": {"name": "tools/call"},
            "evaluations": SEMANTIC_ITEMS,
        }
        response = await http.post(EVALUATIONS, json=batch)
        items = response.json()["evaluations"]
        assert [(i["decision"], i["context"]["code"]) for i in items] == [
            (False, "store_unavailable")
        ] * len(SEMANTIC_ITEMS)
        for path, body in [
            (
                SEARCH_ACTION,
                {"subject": subject("dave"), "resource": {"type": "mcp_server", "id": "g"}},
            ),
            (
                SEARCH_RESOURCE,
                {
                    "subject": subject("dave"),
                    "action": {"name": "tools/call"},
                    "resource": {"type": "tool"},
                },
            ),
            (
                SEARCH_SUBJECT,
                {
                    "subject": {"type": "user"},
                    "action": {"name": "tools/list"},
                    "resource": {"type": "mcp_server", "id": "g"},
                },
            ),
        ]:
            assert (await search(http, path, body))["results"] == [], path


async def test_idempotent_answers(client: httpx.AsyncClient) -> None:
    body = tool_call("bob", "payments___refund", {"orderId": "o", "amount": 600})
    first = await evaluate(client, body)
    again = await evaluate(client, body)
    assert first["decision"] == again["decision"] is False
    assert first["context"]["reasons"] == again["context"]["reasons"]


# -- the engine behind subject search --------------------------------------------------------


def test_a_role_reaches_a_tool_when_some_call_of_its_holder_is_allowed() -> None:
    from service.engine.errors import DecisionError
    from service.engine.evaluate import build_request, evaluate
    from service.engine.model import Action, Principal, StoredPrincipal
    from service.engine.reach import roles_reaching
    from service.identity.claims import principal_from_claims
    from service.settings import IssuerSettings
    from tests.mcp_fixtures import ROLE_PARENTS, demo_snapshot, sample_arguments

    snapshot = demo_snapshot()
    now = 1_800_000_000

    def allowed(role: str | None, scopes: str, tool: str, arguments: dict[str, Any]) -> bool:
        claims = {"sub": "someone", "scope": scopes}
        holder: Principal = principal_from_claims(claims, IssuerSettings(issuer=""))
        stored = StoredPrincipal(frozenset({role} if role else ()), {}, ROLE_PARENTS)
        try:
            request = build_request(snapshot, holder, Action("tools/call", tool, arguments), now)
        except DecisionError:
            return False
        return evaluate(snapshot, holder, stored, request, "default").allowed

    roles = sorted(ROLE_PARENTS)
    reached_some = 0
    for tool_name, tool in sorted(snapshot.tools.items()):
        reach = roles_reaching(snapshot, Action("tools/call", tool_name), roles, ROLE_PARENTS, now)
        assert not reach.anyone  # every demo grant names a role, a tag or an attribute
        samples = sample_arguments(tool.input_schema, limit=30)
        for role in roles:
            # The demo's only scope policy is a forbid unless `tools:write`: with it
            # a holder is allowed at least as often as without.
            some = any(allowed(role, "tools:write", tool_name, a) for a in samples)
            # Sound: a holder who could be allowed is never left out. On the demo
            # policies the samples also find an allowed call for every role reached.
            assert (role in reach.roles) == some, (tool_name, role)
        reached_some += bool(reach.roles)
    assert 0 < reached_some < len(snapshot.tools)
