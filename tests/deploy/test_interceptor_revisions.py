"""The AgentCore interceptors on MCP 2026-07-28 requests: `_meta` and the MCP headers go to
the PDP, a header mismatch is a 400, and a filtered list is private and short-lived."""

from __future__ import annotations

import base64
from typing import Any

import request_interceptor
import response_interceptor

from tests.deploy.conftest import config, event
from tests.deploy.loopback import Issuer, json_reply, serve

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "agent", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
    "progressToken": 5,
}
ALLOW = {
    "decision": "allow",
    "decision_id": "d-1",
    "reasons": [],
    "errors": [],
    "code": None,
    "required_scopes": [],
    "policy_version": "v",
    "cached": False,
}


def modern(name: str, token: str, **headers: str) -> dict[str, Any]:
    """A fixture event as a 2026-07-28 client sends it: `_meta`, MCP headers, no session."""
    incoming = event(name, token)
    request = incoming["mcp"]["gatewayRequest"]
    request["headers"].pop("Mcp-Session-Id", None)
    body = request["body"]
    body.setdefault("params", {})["_meta"] = dict(META)
    request["headers"].update({"MCP-Protocol-Version": MODERN, "Mcp-Method": body["method"]})
    if body["method"] == "tools/call":
        request["headers"]["Mcp-Name"] = body["params"]["name"]
    request["headers"].update(headers)
    return incoming


def _asked(incoming: dict[str, Any], answer: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    with serve(json_reply(answer)) as (url, recorder):
        output = request_interceptor.handle(incoming, config(url))
    ((_, _, body),) = recorder.calls
    return output, body


def test_meta_and_headers_go_to_the_pdp() -> None:
    _, body = _asked(modern("request-tools-call", "tok"), ALLOW)
    assert body["meta"] == META
    assert body["headers"] == {
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": "payments___refund",
    }
    assert "context" not in body  # no session in 2026-07-28


def test_a_2026_request_without_mcp_headers_is_checked_all_the_same() -> None:
    incoming = modern("request-tools-call", "tok")
    for name in ("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"):
        incoming["mcp"]["gatewayRequest"]["headers"].pop(name)
    _, body = _asked(incoming, ALLOW)
    assert body["headers"] == {}  # the PDP refuses it: 2026-07-28 must send them


def test_an_older_request_is_asked_about_as_before() -> None:
    _, body = _asked(event("request-tools-call", "tok"), ALLOW)
    assert "meta" not in body and "headers" not in body


def test_listen_passes_its_filter() -> None:
    incoming = modern("request-tools-list", "tok")
    filter_ = {"toolsListChanged": True, "resourceSubscriptions": ["docs://public/a.md"]}
    body = incoming["mcp"]["gatewayRequest"]["body"]
    body["method"] = "subscriptions/listen"
    body["params"]["notifications"] = filter_
    incoming["mcp"]["gatewayRequest"]["headers"]["Mcp-Method"] = "subscriptions/listen"
    _, asked = _asked(incoming, ALLOW)
    assert asked["subscriptions"] == filter_
    incoming["mcp"]["gatewayRequest"]["body"]["params"]["notifications"] = "all"
    with serve(json_reply(ALLOW)) as (url, recorder):
        output = request_interceptor.handle(incoming, config(url))
    assert recorder.calls == []
    assert output["mcp"]["transformedGatewayResponse"]["body"]["error"]["code"] == -32602


def test_header_mismatch_is_http_400_with_its_json_rpc_code() -> None:
    denied = {**ALLOW, "decision": "deny", "code": "header_mismatch"}
    output, _ = _asked(modern("request-tools-call", "tok"), denied)
    response = output["mcp"]["transformedGatewayResponse"]
    assert response["statusCode"] == 400
    assert response["body"]["id"] == 7
    assert response["body"]["error"]["code"] == -32020


def test_a_lying_mcp_name_is_refused_by_the_real_pdp(pdp: str, issuer: Issuer) -> None:
    token = issuer.token("bob", scope="tools:write")
    honest = request_interceptor.handle(modern("request-tools-call", token), config(pdp))
    assert set(honest["mcp"]) == {"transformedGatewayRequest"}
    disguised = "=?base64?" + base64.b64encode(b"docs___search").decode() + "?="
    lying = modern("request-tools-call", token, **{"Mcp-Name": disguised})
    response = request_interceptor.handle(lying, config(pdp))["mcp"]["transformedGatewayResponse"]
    assert (response["statusCode"], response["body"]["error"]["code"]) == (400, -32020)


def _listed(incoming: dict[str, Any], answer: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    with serve(json_reply(answer)) as (url, recorder):
        output = response_interceptor.handle(incoming, config(url))
    ((_, _, body),) = recorder.calls
    result = output["mcp"]["transformedGatewayResponse"]["body"]["result"]
    return result, body


FILTERED = {
    "tools": [{"name": "docs___search"}],
    "withheld": ["payments___refund", "files___delete", "x_amz_bedrock_agentcore_search"],
    "details": [],
    "max_ttl_ms": 60_000,
    "decision_id": "f-1",
    "policy_version": "v",
}


def test_a_filtered_2026_list_is_private_and_short_lived() -> None:
    incoming = modern("response-tools-list", "tok")
    result = incoming["mcp"]["gatewayResponse"]["body"]["result"]
    result.update(ttlMs=3_600_000, cacheScope="public", resultType="complete")
    filtered, asked = _listed(incoming, FILTERED)
    assert [t["name"] for t in filtered["tools"]] == ["docs___search"]
    assert (filtered["cacheScope"], filtered["ttlMs"], filtered["resultType"]) == (
        "private",
        60_000,
        "complete",
    )
    assert asked["meta"] == META
    assert asked["headers"] == {"mcp-protocol-version": MODERN, "mcp-method": "tools/list"}
    # A PDP that does not say how long: not cached at all.
    older_pdp = {k: v for k, v in FILTERED.items() if k != "max_ttl_ms"}
    filtered, _ = _listed(modern("response-tools-list", "tok"), older_pdp)
    assert (filtered["cacheScope"], filtered["ttlMs"]) == ("private", 0)


def test_an_older_list_gets_no_cache_fields() -> None:
    filtered, asked = _listed(event("response-tools-list", "tok"), FILTERED)
    assert set(filtered) == {"tools"}
    assert "meta" not in asked and "headers" not in asked
