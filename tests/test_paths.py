"""Path-like arguments and resource URIs as policies see them."""

from __future__ import annotations

import pytest

from service.engine.errors import InvalidArguments
from service.engine.evaluate import build_request, evaluate
from service.engine.model import Action
from service.engine.paths import path_facts, uri_facts
from service.engine.schema import generated_actions
from tests.mcp_fixtures import demo_snapshot, person


def test_absolute_path_is_resolved_and_split() -> None:
    facts = path_facts("/data/./reports//2026/../q1.csv")
    assert facts == {
        "normalized": "/data/reports/q1.csv",
        "ancestors": ["/", "/data", "/data/reports"],
        "segments": ["data", "q1.csv", "reports"],
    }


def test_traversal_leaves_the_folder_it_named() -> None:
    facts = path_facts("/data/reports/../../etc/passwd")
    assert facts["normalized"] == "/etc/passwd"
    assert "/data/reports" not in facts["ancestors"]
    # A sibling sharing the string prefix is not inside the folder.
    assert "/data/reports" not in path_facts("/data/reports-old/q1.csv")["ancestors"]
    assert "/data/reports" not in path_facts("/data/reports\\..\\..\\etc")["ancestors"]


@pytest.mark.parametrize("raw", ["/..", "/data/../../etc", "../x", "a/../../b", "/a/b\0c"])
def test_escapes_and_nul_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidArguments):
        path_facts(raw)


def test_relative_paths_keep_no_root() -> None:
    assert path_facts("a/b/c") == {
        "normalized": "a/b/c",
        "ancestors": ["a", "a/b"],
        "segments": ["a", "b", "c"],
    }
    assert path_facts("/")["normalized"] == "/"
    assert path_facts("./")["normalized"] == "."


def test_uri_is_percent_decoded_before_normalising() -> None:
    facts = uri_facts("file:///data/reports/%2e%2e/%2E%2E/etc/passwd")
    assert (facts["scheme"], facts["authority"], facts["path"]) == ("file", "", "/etc/passwd")
    assert uri_facts("docs://Public/handbook.md")["authority"] == "public"
    with pytest.raises(InvalidArguments):
        uri_facts("file:///data/reports%2f..%2f..%2fetc")
    with pytest.raises(InvalidArguments):
        uri_facts("file:///../etc/passwd")


def test_schema_declares_paths_for_path_like_arguments() -> None:
    tools = demo_snapshot().tools
    assert tools["files___read_file"].path_fields == {"path": True}  # "format": "path"
    assert tools["files___move_file"].path_fields == {"source": True, "destination": True}
    assert tools["docs___search"].path_fields == {}
    text = generated_actions(tools.values())
    read = text[text.index('action "files___read_file"') :].split(";", 1)[0]
    assert '"path": {normalized: String, ancestors: Set<String>, segments: Set<String>}' in read
    assert "paths" not in text[text.index('action "docs___search"') :].split(";", 1)[0]
    resource_read = text[text.index('action "resources/read"') :].split(";", 1)[0]
    assert "uri: {scheme: String" in resource_read


def test_raw_path_stays_in_input_and_facts_go_to_paths() -> None:
    snapshot = demo_snapshot()
    alice, stored = person("alice")
    action = Action("tools/call", "files___read_file", {"path": "/data/reports/../../etc/passwd"})
    request = build_request(snapshot, alice, action, 1)
    assert request.context["input"]["path"] == "/data/reports/../../etc/passwd"
    assert request.context["paths"]["path"]["normalized"] == "/etc/passwd"
    decision = evaluate(snapshot, alice, stored, request, "default")
    assert decision.reasons == ("guardrails.cedar#file-reads-stay-in-reports",)
    inside_call = Action("tools/call", "files___read_file", {"path": "/data/reports/q1.csv"})
    inside = build_request(snapshot, alice, inside_call, 1)
    assert evaluate(snapshot, alice, stored, inside, "default").allowed
