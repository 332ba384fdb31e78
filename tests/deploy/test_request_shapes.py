"""The REQUEST interceptor's answer for each kind of decision, from a PDP answering canned decisions."""

from __future__ import annotations

from typing import Any

import pytest
import request_interceptor

from tests.deploy.conftest import RESOURCE_METADATA, config, event
from tests.deploy.loopback import json_reply, serve


def _decision(decision: str = "deny", **fields: Any) -> dict[str, Any]:
    base = {
        "decision": decision,
        "decision_id": "d-42",
        "reasons": [],
        "errors": [],
        "code": None,
        "required_scopes": [],
        "policy_version": "sha256:0",
        "cached": False,
    }
    return {**base, **fields}


def _ask(decision: dict[str, Any], name: str = "request-tools-call") -> dict[str, Any]:
    with serve(json_reply(decision)) as (url, recorder):
        output = request_interceptor.handle(event(name, "tok"), config(url))
    assert len(recorder.calls) == 1
    return output


def test_allow_forwards_the_body_and_headers_but_not_the_token() -> None:
    output = _ask(_decision("allow", reasons=["tools.cedar#p"]))
    original = event("request-tools-call", "tok")["mcp"]["gatewayRequest"]
    forwarded = output["mcp"]["transformedGatewayRequest"]
    assert forwarded["body"] == original["body"]
    assert "Authorization" not in forwarded["headers"]
    assert forwarded["headers"]["Mcp-Session-Id"] == original["headers"]["Mcp-Session-Id"]


@pytest.mark.parametrize(
    ("decision", "status", "challenge"),
    [
        (
            _decision(code="invalid_token"),
            401,
            f'Bearer error="invalid_token", error_description="The access token is invalid", '
            f'resource_metadata="{RESOURCE_METADATA}"',
        ),
        (
            _decision(code="token_expired"),
            401,
            f'Bearer error="invalid_token", error_description="The access token expired", '
            f'resource_metadata="{RESOURCE_METADATA}"',
        ),
        (
            _decision(reasons=["guardrails.cedar#w"], required_scopes=["tools:write", "openid"]),
            403,
            f'Bearer error="insufficient_scope", scope="tools:write openid", '
            f'resource_metadata="{RESOURCE_METADATA}"',
        ),
    ],
    ids=["invalid_token", "token_expired", "insufficient_scope"],
)
def test_http_challenges(decision: dict[str, Any], status: int, challenge: str) -> None:
    for name in ("request-tools-call", "request-notifications-initialized"):
        response = _ask(decision, name)["mcp"]["transformedGatewayResponse"]
        assert response["statusCode"] == status
        assert response["headers"]["WWW-Authenticate"] == challenge
        if name == "request-tools-call":
            assert response["body"]["id"] == 7
            assert response["body"]["error"]["code"] == -32001
        else:
            assert "body" not in response


def test_policy_deny_of_a_tool_call_names_policies_and_argument_errors() -> None:
    by_policy = _ask(_decision(reasons=["guardrails.cedar#no-refunds"]))
    text = by_policy["mcp"]["transformedGatewayResponse"]["body"]["result"]["content"][0]["text"]
    assert text == (
        "Access denied: tool payments___refund: denied by guardrails.cedar#no-refunds "
        "(decision d-42)"
    )
    bad_args = _ask(_decision(code="invalid_arguments", errors=["amount: expected an integer"]))
    text = bad_args["mcp"]["transformedGatewayResponse"]["body"]["result"]["content"][0]["text"]
    assert "amount: expected an integer" in text


def test_denied_notification_is_403_without_a_body() -> None:
    output = _ask(_decision(code="no_policy"), "request-notifications-initialized")
    assert output["mcp"]["transformedGatewayResponse"] == {"statusCode": 403, "headers": {}}


def test_scopes_that_cannot_be_quoted_are_not_put_in_the_header() -> None:
    output = _ask(_decision(required_scopes=['evil" x="y']))
    response = output["mcp"]["transformedGatewayResponse"]
    assert response["statusCode"] == 200
    assert response["body"]["result"]["isError"] is True
