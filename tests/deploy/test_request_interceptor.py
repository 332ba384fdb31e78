"""The REQUEST interceptor against the fixture events and a real PDP process on loopback."""

from __future__ import annotations

import copy
from typing import Any

import request_interceptor

from tests.deploy.conftest import (
    RESOURCE_METADATA,
    config,
    event,
)
from tests.deploy.loopback import Issuer


def _short_circuit(output: dict[str, Any]) -> dict[str, Any]:
    assert output["interceptorOutputVersion"] == "1.0"
    response: dict[str, Any] = output["mcp"]["transformedGatewayResponse"]
    return response


def _refund(issuer: Issuer, amount: int, **claims: Any) -> dict[str, Any]:
    call = event("request-tools-call", issuer.token("bob", **claims))
    call["mcp"]["gatewayRequest"]["body"]["params"]["arguments"]["amount"] = amount
    return call


def test_allow_passes_the_request_through_unchanged(pdp: str, issuer: Issuer) -> None:
    incoming = _refund(issuer, 450, scope="tools:write")
    original = copy.deepcopy(incoming["mcp"]["gatewayRequest"])
    output = request_interceptor.handle(incoming, config(pdp))
    assert output["interceptorOutputVersion"] == "1.0"
    assert set(output["mcp"]) == {"transformedGatewayRequest"}
    forwarded = output["mcp"]["transformedGatewayRequest"]
    assert forwarded["body"] == original["body"]
    # Everything but the user's token goes on to the target.
    expected_headers = {k: v for k, v in original["headers"].items() if k != "Authorization"}
    assert forwarded["headers"] == expected_headers


def test_denied_tool_call_is_a_tool_error_with_the_reason(pdp: str, issuer: Issuer) -> None:
    output = request_interceptor.handle(_refund(issuer, 900, scope="tools:write"), config(pdp))
    response = _short_circuit(output)
    assert response["statusCode"] == 200
    body = response["body"]
    assert (body["jsonrpc"], body["id"]) == ("2.0", 7)
    assert "error" not in body
    assert body["result"]["isError"] is True
    text = body["result"]["content"][0]["text"]
    assert body["result"]["content"][0]["type"] == "text"
    assert "payments___refund" in text
    assert "no policy permits it" in text


def test_denied_method_is_a_json_rpc_error(pdp: str, issuer: Issuer) -> None:
    incoming = event("request-tools-list", issuer.token("bob"))
    incoming["mcp"]["gatewayRequest"]["body"] = {
        "jsonrpc": "2.0",
        "id": "set-1",
        "method": "logging/setLevel",
        "params": {"level": "debug"},
    }
    body = _short_circuit(request_interceptor.handle(incoming, config(pdp)))["body"]
    assert body["id"] == "set-1"
    assert body["error"]["code"] == -32003
    assert "logging/setLevel" in body["error"]["message"]
    assert body["error"]["data"]["code"] == "no_policy"
    assert body["error"]["data"]["decision_id"]


def test_missing_scope_is_403_insufficient_scope(pdp: str, issuer: Issuer) -> None:
    response = _short_circuit(request_interceptor.handle(_refund(issuer, 90), config(pdp)))
    assert response["statusCode"] == 403
    assert response["headers"]["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="tools:write", '
        f'resource_metadata="{RESOURCE_METADATA}"'
    )
    assert response["body"]["id"] == 7
    assert response["body"]["error"]["data"] == {"scope": "tools:write"}


def test_invalid_token_is_401_with_a_challenge(pdp: str) -> None:
    response = _short_circuit(
        request_interceptor.handle(event("request-tools-call", "not-a-jwt"), config(pdp))
    )
    assert response["statusCode"] == 401
    assert response["headers"]["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token is invalid", '
        f'resource_metadata="{RESOURCE_METADATA}"'
    )
    assert response["body"]["id"] == 7
    assert "result" not in response["body"]


def test_expired_token_is_401(pdp: str, issuer: Issuer) -> None:
    expired = issuer.token("bob", expires_in=-3600, scope="tools:write")
    response = _short_circuit(
        request_interceptor.handle(event("request-tools-call", expired), config(pdp))
    )
    assert response["statusCode"] == 401
    assert 'error_description="The access token expired"' in response["headers"]["WWW-Authenticate"]


def test_no_token_is_401_without_asking_the_pdp(pdp: str) -> None:
    unreachable = config("http://127.0.0.1:9")  # nothing listens: a PDP call would deny -32603
    response = _short_circuit(request_interceptor.handle(event("request-tools-call"), unreachable))
    assert response["statusCode"] == 401
    assert (
        response["headers"]["WWW-Authenticate"] == f'Bearer resource_metadata="{RESOURCE_METADATA}"'
    )
    without_metadata = config(pdp, resource_metadata=None)
    plain = _short_circuit(
        request_interceptor.handle(event("request-tools-call"), without_metadata)
    )
    assert plain["headers"]["WWW-Authenticate"] == "Bearer"


def test_allowed_notification_passes(pdp: str, issuer: Issuer) -> None:
    incoming = event("request-notifications-initialized", issuer.token("alice"))
    output = request_interceptor.handle(incoming, config(pdp))
    assert output["mcp"]["transformedGatewayRequest"]["body"] == {
        "jsonrpc": "2.0",
        "method": "notifications/initialized",
    }


def test_notification_with_a_bad_token_gets_no_body(pdp: str) -> None:
    incoming = event("request-notifications-initialized", "not-a-jwt")
    response = _short_circuit(request_interceptor.handle(incoming, config(pdp)))
    assert response["statusCode"] == 401
    assert "body" not in response
    assert response["headers"]["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_tools_list_request_is_allowed(pdp: str, issuer: Issuer) -> None:
    incoming = event("request-tools-list", issuer.token("alice"))
    output = request_interceptor.handle(incoming, config(pdp))
    assert output["mcp"]["transformedGatewayRequest"]["body"]["method"] == "tools/list"


def test_malformed_params_are_refused_without_asking(pdp: str) -> None:
    incoming = event("request-tools-call", "any-token")
    incoming["mcp"]["gatewayRequest"]["body"]["params"] = {"arguments": {"amount": 1}}
    body = _short_circuit(request_interceptor.handle(incoming, config("http://127.0.0.1:9")))[
        "body"
    ]
    assert body["error"]["code"] == -32602
    assert body["id"] == 7
    incoming["mcp"]["gatewayRequest"]["body"] = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]
    batch = _short_circuit(request_interceptor.handle(incoming, config(pdp)))["body"]
    assert batch["error"]["code"] == -32600
