"""The PDP down, slow or answering garbage: both interceptors deny within the timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import request_interceptor
import response_interceptor

from tests.deploy.conftest import TEST_TIMEOUT, config, event
from tests.deploy.loopback import Reply, json_reply, listing_only, serve
from tests.server import free_port

ALLOW = {
    "decision": "allow",
    "decision_id": "d-1",
    "reasons": ["tools.cedar#x"],
    "errors": [],
    "code": None,
    "required_scopes": [],
    "policy_version": "sha256:0",
    "cached": False,
}
# Some slack over the timeout for thread wake-up on a busy machine.
DEADLINE = TEST_TIMEOUT + 0.3


def _raw(payload: bytes, status: int = 200) -> Callable[[str, Any], Reply]:
    return lambda _path, _body: (status, {}, payload, 0.0)


GARBAGE = {
    "not json": _raw(b"<html>502 Bad Gateway</html>"),
    "a JSON array": json_reply([ALLOW]),
    "no decision field": json_reply({"allow": True}),
    "decision maybe": json_reply({**ALLOW, "decision": "maybe"}),
    "reasons not strings": json_reply({**ALLOW, "reasons": [1]}),
    "HTTP 500": json_reply(ALLOW, status=500),
    "HTTP 401 (bad API key)": json_reply({"detail": "unknown API key"}, status=401),
    "connection closed": lambda _path, _body: None,
    "filter: unaccounted tool": json_reply({"tools": [{"name": "files___delete"}], "withheld": []}),
    "filter: no withheld list": json_reply({"tools": []}),
}


def _assert_internal_error(output: dict[str, Any], request_id: Any) -> None:
    response = output["mcp"]["transformedGatewayResponse"]
    assert response["statusCode"] == 200
    assert response["body"]["id"] == request_id
    assert response["body"]["error"]["code"] == -32603
    assert "result" not in response["body"]
    assert "transformedGatewayRequest" not in output["mcp"]


def _both(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    asked = request_interceptor.handle(event("request-tools-call", "tok"), config(url))
    listed = response_interceptor.handle(event("response-tools-list", "tok"), config(url))
    return asked, listed


def test_pdp_down_denies() -> None:
    started = time.monotonic()
    asked, listed = _both(f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < DEADLINE
    _assert_internal_error(asked, 7)
    _assert_internal_error(listed, 2)


@pytest.mark.parametrize("drip", [False, True], ids=["silent", "dripping"])
def test_slow_pdp_denies_within_the_timeout(drip: bool) -> None:
    # Silent: answers after 2 s. Dripping: headers at once, then one byte every 0.1 s,
    # so no single read times out and only the overall deadline stops it.
    reply = json_reply(ALLOW, delay=0.0 if drip else 2.0)
    with serve(reply, drip=0.1 if drip else 0.0) as (url, _):
        for run in (
            lambda: request_interceptor.handle(event("request-tools-call", "tok"), config(url)),
            lambda: response_interceptor.handle(event("response-tools-list", "tok"), config(url)),
        ):
            started = time.monotonic()
            output = run()
            assert time.monotonic() - started < DEADLINE
            _assert_internal_error(
                output, output["mcp"]["transformedGatewayResponse"]["body"]["id"]
            )


@pytest.mark.parametrize("reply", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_answers_deny(reply: Callable[[str, Any], Reply]) -> None:
    with serve(reply) as (url, recorder):
        asked, listed = _both(url)
    _assert_internal_error(asked, 7)
    _assert_internal_error(listed, 2)
    assert [path for path, _, _ in recorder.calls] == ["/v1/decisions", "/v1/tools/filter"]


def test_notification_is_never_answered_with_a_body() -> None:
    output = request_interceptor.handle(
        event("request-notifications-initialized", "tok"), config(f"http://127.0.0.1:{free_port()}")
    )
    assert output["mcp"]["transformedGatewayResponse"] == {"statusCode": 503, "headers": {}}


def test_missing_configuration_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PDP_URL", raising=False)
    _assert_internal_error(request_interceptor.handler(event("request-tools-call", "tok"), None), 7)
    _assert_internal_error(
        response_interceptor.handler(event("response-tools-list", "tok"), None), 2
    )


def test_the_handlers_read_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(json_reply(ALLOW)) as (url, recorder):
        monkeypatch.setenv("PDP_URL", url)
        monkeypatch.setenv("PDP_API_KEY", "k-123")
        monkeypatch.setenv("PDP_GATEWAY_ID", "gw-prod")
        monkeypatch.setenv("PDP_TIMEOUT_SECONDS", "0.5")
        output = request_interceptor.handler(event("request-tools-call", "user-token"), None)
    assert "transformedGatewayRequest" in output["mcp"]
    ((_path, headers, body),) = recorder.calls
    assert headers["Authorization"] == "Bearer k-123"
    assert body == {
        "token": "user-token",
        "method": "tools/call",
        "tool": "payments___refund",
        "arguments": {"orderId": "A-1001", "amount": 450},
        "gateway": "gw-prod",
        "context": {"session_id": "5f0c1f2e-1111-4c3a-9e21-0d7c1d2b3a4f"},
    }


@pytest.mark.parametrize(
    "env",
    [
        {"PDP_URL": "ftp://pdp"},
        {"PDP_TIMEOUT_SECONDS": "soon"},
        {"PDP_TIMEOUT_SECONDS": "0"},
        {"PDP_GATEWAY_ID": "bad id"},
    ],
)
def test_bad_configuration_is_refused(env: dict[str, str]) -> None:
    from pdp_client import Config, ConfigError

    with pytest.raises(ConfigError):
        Config.from_env({"PDP_URL": "http://127.0.0.1:1", **env})
    assert "k-1" not in repr(Config(url="http://x", api_key="k-1"))


def test_logs_name_the_failure_but_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="mcp_pdp.interceptor")
    with serve(json_reply({"oops": 1})) as (url, _):
        request_interceptor.handle(event("request-tools-call", "secret-user-token"), config(url))
    line = json.loads(caplog.records[-1].getMessage())
    assert line["event"] == "pdp_unavailable"
    assert "not a decision" in line["error"]
    assert "secret-user-token" not in caplog.text
    assert "test-decide-key" not in caplog.text


def _listing_event(request_body: Any = "keep", **result: Any) -> dict[str, Any]:
    """The tools/list response fixture; `request_body` None drops the request body."""
    incoming = event("response-tools-list", "tok")
    if request_body is None:
        del incoming["mcp"]["gatewayRequest"]["body"]
    elif request_body != "keep":
        incoming["mcp"]["gatewayRequest"]["body"] = request_body
    incoming["mcp"]["gatewayResponse"]["body"]["result"].update(result)
    return incoming


def _search_event(request_body: Any, **result: Any) -> dict[str, Any]:
    incoming = _listing_event(request_body)
    tools = incoming["mcp"]["gatewayResponse"]["body"]["result"]["tools"]
    text = {"type": "text", "text": json.dumps({"tools": tools})}
    search = {"structuredContent": {"tools": tools}, "content": [text], **result}
    incoming["mcp"]["gatewayResponse"]["body"]["result"] = search
    return incoming


SEARCH_CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "x_amz_bedrock_agentcore_search", "arguments": {"query": "q"}},
}
# Responses that carry tools however the event looks: each must be filtered, or denied.
CARRY_TOOLS = {
    "tools/list without a request body": lambda: _listing_event(None),
    "tools/list with isError": lambda: _listing_event(isError=True),
    "tools/list, no request body, isError": lambda: _listing_event(None, isError=True),
    "tools/list, request body not JSON-RPC": lambda: _listing_event("not json"),
    "search without a request body": lambda: _search_event(None),
    "search with isError": lambda: _search_event(SEARCH_CALL, isError=True),
}


@pytest.mark.parametrize("make", CARRY_TOOLS.values(), ids=CARRY_TOOLS.keys())
def test_a_result_carrying_tools_is_denied_when_the_pdp_is_down(
    make: Callable[[], dict[str, Any]],
) -> None:
    output = response_interceptor.handle(make(), config(f"http://127.0.0.1:{free_port()}"))
    _assert_internal_error(output, 2)


@pytest.mark.parametrize("make", CARRY_TOOLS.values(), ids=CARRY_TOOLS.keys())
def test_a_result_carrying_tools_is_filtered_by_its_shape(
    make: Callable[[], dict[str, Any]],
) -> None:
    with serve(listing_only("docs___search")) as (url, recorder):
        output = response_interceptor.handle(make(), config(url))
    result = output["mcp"]["transformedGatewayResponse"]["body"]["result"]
    tools = (
        result["structuredContent"]["tools"] if "structuredContent" in result else result["tools"]
    )
    assert [t["name"] for t in tools] == ["docs___search"]
    assert len(recorder.calls) == 1


def _with_result(request_body: Any, result: Any) -> dict[str, Any]:
    incoming = _listing_event(request_body)
    incoming["mcp"]["gatewayResponse"]["body"] = {"jsonrpc": "2.0", "id": 2, "result": result}
    return incoming


UNFILTERABLE = {
    "tools/list result not an object": lambda: _with_result(LIST_CALL, ["docs___search"]),
    "tools/list result missing": lambda: _with_result(LIST_CALL, None),
    "tools not a list": lambda: _with_result(LIST_CALL, {"tools": "docs___search"}),
    "tools not a list, no request body": lambda: _with_result(None, {"tools": {"a": 1}}),
    "search structuredContent.tools not a list": lambda: _with_result(
        SEARCH_CALL, {"structuredContent": {"tools": "payments___refund"}, "content": []}
    ),
    "search result not an object": lambda: _with_result(SEARCH_CALL, "payments___refund"),
}
LIST_CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


@pytest.mark.parametrize("make", UNFILTERABLE.values(), ids=UNFILTERABLE.keys())
def test_a_listing_that_cannot_be_filtered_is_denied(make: Callable[[], dict[str, Any]]) -> None:
    with serve(listing_only("docs___search")) as (url, _):
        output = response_interceptor.handle(make(), config(url))
    _assert_internal_error(output, 2)
