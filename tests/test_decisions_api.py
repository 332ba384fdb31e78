"""The decision API over HTTP, on SQLite and PostgreSQL, with the demo policies."""

from __future__ import annotations

import httpx

from tests.conftest import decision_body


async def decide(client: httpx.AsyncClient, **fields: object) -> dict:
    response = await client.post("/v1/decisions", json=decision_body(**fields))
    assert response.status_code == 200, response.text
    return response.json()


async def test_role_from_database_allows(client: httpx.AsyncClient) -> None:
    body = await decide(client, tool="docs___search", arguments={"query": "q"})
    assert body["decision"] == "allow"
    assert body["reasons"] == ["tools.cedar#analysts-read-tools"]
    assert body["code"] is None
    assert body["policy_version"].startswith("sha256:")
    assert body["cached"] is False
    assert len(body["decision_id"]) == 36


async def test_nested_role_allows(client: httpx.AsyncClient) -> None:
    # dave is admin; admin inherits analyst in the database's role graph.
    body = await decide(
        client,
        claims={"sub": "dave"},
        tool="payments___list_invoices",
        arguments={"customerId": "C"},
    )
    assert body["decision"] == "allow"
    assert "tools.cedar#analysts-read-tools" in body["reasons"]


async def test_expired_assignment_grants_nothing(client: httpx.AsyncClient) -> None:
    # frank's analyst assignment expired in 2025.
    body = await decide(
        client, claims={"sub": "frank"}, tool="docs___search", arguments={"query": "q"}
    )
    assert body == body | {"decision": "deny", "code": "no_policy", "reasons": []}


async def test_argument_condition_both_ways(client: httpx.AsyncClient) -> None:
    claims = {"sub": "bob", "scope": "tools:write"}
    small = await decide(
        client, claims=claims, tool="payments___refund", arguments={"orderId": "A-1", "amount": 450}
    )
    large = await decide(
        client, claims=claims, tool="payments___refund", arguments={"orderId": "A-1", "amount": 500}
    )
    assert small["decision"] == "allow"
    assert small["reasons"] == ["tools.cedar#refunds-under-500"]
    assert large["decision"] == "deny"
    assert large["code"] == "no_policy"


async def test_forbid_wins_over_permit(client: httpx.AsyncClient) -> None:
    # dave (admin) may call anything, but pii tools are for hr only.
    body = await decide(
        client, claims={"sub": "dave"}, tool="hr___get_salary", arguments={"employeeId": "E-1"}
    )
    assert body["decision"] == "deny"
    assert body["reasons"] == ["guardrails.cedar#pii-only-for-hr"]
    assert body["code"] is None


async def test_default_deny_is_no_policy(client: httpx.AsyncClient) -> None:
    body = await decide(
        client, claims={"sub": "stranger"}, tool="docs___search", arguments={"query": "q"}
    )
    assert (body["decision"], body["code"], body["reasons"]) == ("deny", "no_policy", [])


async def test_unregistered_tool_is_unknown_tool(client: httpx.AsyncClient) -> None:
    body = await decide(client, claims={"sub": "dave"}, tool="payments___charge", arguments={})
    assert (body["decision"], body["code"]) == ("deny", "unknown_tool")


async def test_unknown_method_is_denied(client: httpx.AsyncClient) -> None:
    body = await decide(client, method="sampling/teleport")
    assert (body["decision"], body["code"]) == ("deny", "unknown_method")


async def test_known_method_goes_through_policies(client: httpx.AsyncClient) -> None:
    body = await decide(client, method="tools/list", claims={"sub": "anyone"})
    assert body["decision"] == "allow"
    assert body["reasons"] == ["session.cedar#everyone-may-connect"]
    denied = await decide(client, method="resources/read", uri="file:///etc/passwd")
    assert (denied["decision"], denied["code"]) == ("deny", "no_policy")


async def test_a_path_that_could_climb_on_some_server_is_invalid(
    client: httpx.AsyncClient,
) -> None:
    # alice (analyst) may read inside /data/reports, as a tool and as a resource.
    inside = await decide(
        client, tool="files___read_file", arguments={"path": "/data/reports/q1.csv"}
    )
    assert inside["decision"] == "allow"
    resource = await decide(client, method="resources/read", uri="file:///data/reports/q1.csv")
    assert resource["decision"] == "allow"
    # A server that decodes `%2e%2e`, or a URI decoded twice, would read /etc/passwd.
    tool = await decide(
        client,
        tool="files___read_file",
        arguments={"path": "/data/reports/%2e%2e/%2e%2e/etc/passwd"},
    )
    twice = await decide(
        client, method="resources/read", uri="file:///data/reports/%252e%252e/%252e%252e/etc/passwd"
    )
    for body in (tool, twice):
        assert (body["decision"], body["code"]) == ("deny", "invalid_arguments"), body
    assert tool["errors"][0].startswith("/path: ")
    assert twice["errors"][0].startswith("uri")


async def test_ill_typed_arguments_are_invalid(client: httpx.AsyncClient) -> None:
    claims = {"sub": "bob", "scope": "tools:write"}
    cases = [
        ({"orderId": "A-1", "amount": "450"}, "/amount"),  # string for integer
        ({"orderId": "A-1", "amount": 4.5}, "/amount"),  # fraction for integer
        ({"orderId": "A-1"}, "/amount"),  # required field missing
        ({"orderId": "A-1", "amount": 1, "force": True}, "/force"),  # undeclared field
        ({"orderId": "A-1", "amount": 1, "currency": "GBP"}, "/currency"),  # outside the enum
        ({"orderId": "A-1", "amount": True}, "/amount"),  # boolean is not an integer
    ]
    for arguments, field in cases:
        body = await decide(client, claims=claims, tool="payments___refund", arguments=arguments)
        assert (body["decision"], body["code"]) == ("deny", "invalid_arguments"), arguments
        assert body["errors"] and body["errors"][0].startswith(f"{field}: "), body["errors"]


async def test_required_scope_deny_lists_the_scope(client: httpx.AsyncClient) -> None:
    body = await decide(
        client,
        claims={"sub": "bob", "scope": "tools:read"},
        tool="payments___refund",
        arguments={"orderId": "A-1", "amount": 5},
    )
    assert body["decision"] == "deny"
    assert body["reasons"] == ["guardrails.cedar#writes-need-scope"]
    assert body["required_scopes"] == ["tools:read", "tools:write"]


async def test_database_attribute_in_a_condition(client: httpx.AsyncClient) -> None:
    # alice: department=finance, clearance=3 in the database; bob: support, 1.
    allowed = await decide(client, tool="reports___export", arguments={"report": "revenue"})
    denied = await decide(
        client, claims={"sub": "bob"}, tool="reports___export", arguments={"report": "revenue"}
    )
    assert allowed["reasons"] == ["tools.cedar#finance-exports"]
    assert denied["decision"] == "deny"


async def test_database_attribute_wins_over_claim(client: httpx.AsyncClient) -> None:
    # A claim mapped to `department` cannot override the database's value.
    body = await decide(
        client,
        claims={"sub": "bob", "department": "finance"},
        tool="reports___export",
        arguments={"report": "revenue"},
    )
    assert body["decision"] == "deny"


async def test_agentcore_style_tag_policy(client: httpx.AsyncClient) -> None:
    allowed = await decide(
        client,
        claims={"sub": "pat", "tenant": "acme-partner"},
        tool="docs___read",
        arguments={"docId": "D-1"},
    )
    denied = await decide(
        client,
        claims={"sub": "pat", "tenant": "other"},
        tool="docs___read",
        arguments={"docId": "D-1"},
    )
    assert allowed["reasons"] == ["tools.cedar#partner-docs"]
    assert denied["decision"] == "deny"


async def test_groups_claim_maps_to_roles(client: httpx.AsyncClient) -> None:
    body = await decide(
        client,
        claims={"sub": "zoe", "groups": ["analyst"]},
        tool="docs___search",
        arguments={"query": "q"},
    )
    assert body["decision"] == "allow"


async def test_token_without_issuers_is_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/decisions", json={"token": "eyJhbGciOiJub25lIn0.e30.", "method": "tools/list"}
    )
    assert response.status_code == 200
    assert (response.json()["decision"], response.json()["code"]) == ("deny", "invalid_token")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"policies": "ok", "database": "ok"}
