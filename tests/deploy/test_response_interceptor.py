"""The RESPONSE interceptor: tools/list and semantic search results filtered by the PDP."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import response_interceptor

from tests.deploy.conftest import config, event
from tests.deploy.loopback import Issuer, json_reply, listing_only, serve
from tests.leaks import list_results, mentions, search_results

SEARCH = "x_amz_bedrock_agentcore_search"


def _tools(output: dict[str, Any]) -> list[str]:
    return [
        t["name"] for t in output["mcp"]["transformedGatewayResponse"]["body"]["result"]["tools"]
    ]


def search_event(token: str) -> dict[str, Any]:
    """The gateway's semantic search answering with the fixture's tools, in both places."""
    incoming = event("response-tools-list", token)
    tools = incoming["mcp"]["gatewayResponse"]["body"]["result"]["tools"]
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call"}
    call["params"] = {"name": SEARCH, "arguments": {"query": "refund"}}
    incoming["mcp"]["gatewayRequest"]["body"] = call
    incoming["mcp"]["gatewayResponse"]["body"] = {
        "jsonrpc": "2.0",
        "id": 9,
        "result": {
            "structuredContent": {"tools": tools},
            "content": [
                {"type": "text", "text": json.dumps({"tools": tools})},
                {"type": "text", "text": "Best match: files___delete"},
                {"type": "text", "text": "4 tools found"},
            ],
            "isError": False,
        },
    }
    return incoming


def _search_names(output: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    result = output["mcp"]["transformedGatewayResponse"]["body"]["result"]
    structured = [t["name"] for t in result["structuredContent"]["tools"]]
    text = [t["name"] for t in json.loads(result["content"][0]["text"])["tools"]]
    others = [b["text"] for b in result["content"][1:]]
    return structured, text, others


def test_tools_list_is_filtered_per_user(pdp: str, issuer: Issuer) -> None:
    alice = response_interceptor.handle(
        event("response-tools-list", issuer.token("alice")), config(pdp)
    )
    bob = response_interceptor.handle(
        event("response-tools-list", issuer.token("bob", scope="tools:write")), config(pdp)
    )
    assert _tools(alice) == ["docs___search"]
    assert _tools(bob) == ["docs___search", "payments___refund"]
    fixture = event("response-tools-list", "x")["mcp"]["gatewayResponse"]["body"]["result"]["tools"]
    listed = alice["mcp"]["transformedGatewayResponse"]["body"]["result"]["tools"]
    assert listed == [fixture[0]]  # the tool definition itself is untouched


def test_search_results_are_filtered_in_both_places(pdp: str, issuer: Issuer) -> None:
    output = response_interceptor.handle(search_event(issuer.token("alice")), config(pdp))
    structured, text, others = _search_names(output)
    assert structured == text == ["docs___search"]
    assert others == []  # prose cannot be shown clean: gone, with or without a name
    assert output["mcp"]["transformedGatewayResponse"]["body"]["id"] == 9


def test_filter_request_and_the_answer_applied() -> None:
    answer = {
        "tools": [{"name": "docs___search"}],
        "withheld": ["payments___refund", "files___delete", SEARCH],
        "details": [],
        "decision_id": "f-1",
        "policy_version": "v",
    }
    with serve(json_reply(answer)) as (url, recorder):
        listed = response_interceptor.handle(
            event("response-tools-list", "user-token"), config(url)
        )
        searched = response_interceptor.handle(search_event("user-token"), config(url))
    assert _tools(listed) == ["docs___search"]
    assert _search_names(searched) == (["docs___search"], ["docs___search"], [])
    (path, headers, body), _ = recorder.calls
    assert path == "/v1/tools/filter"
    assert headers["Authorization"] == "Bearer test-decide-key"
    fixture = event("response-tools-list", "x")["mcp"]["gatewayResponse"]["body"]["result"]["tools"]
    assert body == {"token": "user-token", "tools": fixture, "gateway": "default"}
    # Every response is asked about afresh: nothing is cached between calls.
    assert len(recorder.calls) == 2


def test_other_responses_pass_unchanged() -> None:
    call = event("response-tools-list", "tok")
    call["mcp"]["gatewayRequest"]["body"] = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "docs___search"},
    }
    call["mcp"]["gatewayResponse"]["body"] = {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"content": [{"type": "text", "text": "hi"}]},
    }
    error = event("response-tools-list", "tok")
    error["mcp"]["gatewayResponse"] = {
        "statusCode": 401,
        "headers": {"WWW-Authenticate": "Bearer"},
        "body": {"jsonrpc": "2.0", "id": 2, "error": {"code": -32001, "message": "no"}},
    }
    with serve(json_reply({})) as (url, recorder):
        for incoming in (call, error):
            expected = copy.deepcopy(incoming["mcp"]["gatewayResponse"])
            output = response_interceptor.handle(incoming, config(url))
            assert output == {
                "interceptorOutputVersion": "1.0",
                "mcp": {"transformedGatewayResponse": expected},
            }
    assert recorder.calls == []


def test_no_bearer_token_in_the_event_withholds_the_list() -> None:
    with serve(json_reply({})) as (url, recorder):
        output = response_interceptor.handle(event("response-tools-list"), config(url))
    assert output["mcp"]["transformedGatewayResponse"]["body"]["error"]["code"] == -32603
    assert recorder.calls == []


FIXTURE_TOOLS = event("response-tools-list", "x")["mcp"]["gatewayResponse"]["body"]["result"][
    "tools"
]
FOUND = [t for t in FIXTURE_TOOLS if t["name"] in {"docs___search", "payments___refund"}]
KEPT = FOUND[:1]
SEARCH_LEAKS = search_results(FOUND, "payments___refund")
LIST_LEAKS = list_results(FOUND, "payments___refund")


def response_event(result: Any, request_body: Any) -> dict[str, Any]:
    """The fixture event with `result` answering `request_body` (None: no request body)."""
    incoming = event("response-tools-list", "tok")
    if request_body is None:
        del incoming["mcp"]["gatewayRequest"]["body"]
    else:
        incoming["mcp"]["gatewayRequest"]["body"] = request_body
    incoming["mcp"]["gatewayResponse"]["body"] = {"jsonrpc": "2.0", "id": 9, "result": result}
    return incoming


SEARCH_CALL = {
    "jsonrpc": "2.0",
    "id": 9,
    "method": "tools/call",
    "params": {"name": SEARCH, "arguments": {"query": "refund"}},
}
LIST_CALL = {"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}


def _result(output: dict[str, Any]) -> Any:
    return output["mcp"]["transformedGatewayResponse"]["body"]["result"]


@pytest.mark.parametrize("vector", SEARCH_LEAKS, ids=list(SEARCH_LEAKS))
def test_search_result_leaks_no_withheld_name(vector: str) -> None:
    with serve(listing_only("docs___search")) as (url, _):
        output = response_interceptor.handle(
            response_event(SEARCH_LEAKS[vector], SEARCH_CALL), config(url)
        )
    result = _result(output)
    assert not mentions(result, "payments___refund")
    (text,) = result.pop("content")
    assert (text["type"], json.loads(text["text"])) == ("text", {"tools": KEPT})
    assert result == {"structuredContent": {"tools": KEPT}, "isError": False}


@pytest.mark.parametrize("vector", LIST_LEAKS, ids=list(LIST_LEAKS))
def test_tools_list_result_leaks_no_withheld_name(vector: str) -> None:
    with serve(listing_only("docs___search")) as (url, _):
        output = response_interceptor.handle(
            response_event(LIST_LEAKS[vector], LIST_CALL), config(url)
        )
    result = _result(output)
    assert not mentions(result, "payments___refund")
    assert result == {"tools": KEPT, "nextCursor": "page-2"}
