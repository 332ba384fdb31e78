"""Protocol revisions in the engine: the facts policies read, and the header check's edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.engine.errors import HeaderMismatch
from service.engine.evaluate import build_request, evaluate
from service.engine.model import Action
from service.engine.policies import load_snapshot
from service.engine.revisions import (
    McpHeaders,
    check_headers,
    decode_header_value,
    received,
    revision_number,
)
from service.engine.tools import tools_from_list_result
from tests.conftest import DEMO_TOOLS, POLICY_DIR
from tests.mcp_fixtures import demo_snapshot, person

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "2"},
    "progressToken": 1,
}


def test_revision_numbers() -> None:
    assert revision_number("2026-07-28") == 20260728
    assert revision_number("2025-06-18") < revision_number("2025-11-25") < 20260728  # type: ignore[operator]
    for other in ("DRAFT-2026-v1", "2026-7-28", "", None, "2026-07-28x"):
        assert revision_number(other) is None


def test_the_revision_and_client_reach_context_request() -> None:
    action, mismatch = received(Action("tools/list"), META, None)
    assert mismatch is None
    principal, _ = person("nobody")
    request = build_request(demo_snapshot(), principal, action, 1)
    assert request.context["request"] == {
        "time": 1,
        "protocol_version": MODERN,
        "protocol_revision": 20260728,
        "client_name": "claude-code",
    }
    # The header speaks for a request without `_meta`; `_meta` wins when both do.
    by_header, _ = received(Action("ping"), None, McpHeaders(protocol_version="2025-11-25"))
    assert by_header.protocol_version == "2025-11-25"


def test_only_what_a_decision_depends_on_is_kept() -> None:
    first, _ = received(Action("tools/list"), META, None)
    second, _ = received(Action("tools/list"), {**META, "progressToken": 2}, None)
    assert first == second  # one cache key for both


@pytest.mark.parametrize(
    ("action", "headers"),
    [
        # An older revision need not send Mcp-Method, but one it sends must agree.
        (Action("tools/list", protocol_version="2025-11-25"), McpHeaders(method="prompts/list")),
        (Action("tools/call", tool="a", protocol_version="2025-06-18"), McpHeaders(name="b")),
        # With no revision known, what is sent must agree all the same.
        (Action("tools/list"), McpHeaders(method="tools/call")),
        # A later revision than 2026-07-28 must send them too.
        (
            Action("tools/list", protocol_version="2027-01-01"),
            McpHeaders(protocol_version="2027-01-01"),
        ),
        # A non-canonical base64 spelling (`YWJ=` decodes to `ab` too) is refused.
        (
            Action("tools/call", tool="ab", protocol_version=MODERN),
            McpHeaders(method="tools/call", name="=?base64?YWJ=?=", protocol_version=MODERN),
        ),
        (Action("tools/list", protocol_version=MODERN), McpHeaders(method="tools/list")),
    ],
)
def test_header_mismatches(action: Action, headers: McpHeaders) -> None:
    with pytest.raises(HeaderMismatch):
        check_headers(action, headers)


def test_headers_that_agree() -> None:
    older = Action("tools/call", tool="a", protocol_version="2025-11-25")
    check_headers(older, McpHeaders(protocol_version="2025-11-25"))  # nothing else needed
    modern = Action("tools/list", protocol_version=MODERN)
    # Mcp-Name is defined for tools/call, prompts/get and resources/read only.
    check_headers(modern, McpHeaders("tools/list", "anything", MODERN))
    canonical = Action("tools/call", tool="ab", protocol_version=MODERN)
    check_headers(canonical, McpHeaders("tools/call", "=?base64?YWI=?=", MODERN))
    assert decode_header_value("=?base64?w6k=?=") == "é"
    assert decode_header_value("=?base64?%%%?=") is None


def test_a_stub_without_the_new_facts_keeps_working(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    stub = (POLICY_DIR / "schema.cedarschema").read_text()
    for line in (
        "protocol_version?: String,",
        "protocol_revision?: Long,",
        "client_name?: String,",
    ):
        stub = stub.replace(line, "")
    (folder / "schema.cedarschema").write_text(stub)
    (folder / "tools.cedar").write_text(
        '@id("all")\npermit (principal, action == Mcp::Action::"tools/list", resource);\n'
    )
    tools = tools_from_list_result(json.loads(DEMO_TOOLS.read_text()))
    snapshot = load_snapshot(folder, tools)
    assert snapshot.request_attributes is not None
    assert "protocol_version" not in snapshot.request_attributes
    action, _ = received(Action("tools/list"), META, None)
    principal, stored = person("nobody")
    request = build_request(snapshot, principal, action, 1)
    assert request.context["request"] == {"time": 1}
    assert evaluate(snapshot, principal, stored, request, "default").allowed
