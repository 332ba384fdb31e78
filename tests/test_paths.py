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


# Segments some server could read as `..` (or `.`): a server that percent-decodes
# a path argument (once or repeatedly, `%uXXXX` too), applies NFKC, strips trailing
# dots and spaces (Windows) or cuts `;parameters` (Tomcat) must not climb where the
# policy saw a plain folder name.
READS_AS_DOTS = [
    "/data/reports/%2e%2e/%2e%2e/etc/passwd",  # tool paths are not decoded: a name to us
    "/data/reports/.%2E/etc",
    "/data/reports/%252e%252e/etc",  # double-encoded
    "/data/reports/%25252e%25252e/etc",  # and again
    "/data/reports/%u002e%u002e/etc",  # IIS `%u` escapes
    "/data/reports/\uff0e\uff0e/etc",  # full-width full stops: NFKC `..`
    "/data/reports/\u2025/etc",  # two dot leader: NFKC `..`
    "/data/reports/\uff05\uff12\uff45\uff05\uff12\uff45/etc",  # full-width `%2e%2e`
    "/data/reports/%EF%BC%8E%EF%BC%8E/etc",  # encoded full-width full stops
    "/data/reports/.. /etc",  # Windows strips trailing spaces
    "/data/reports/../../x/.. /etc",
    "/data/reports/.../etc",  # and trailing dots
    "/data/reports/.. ./etc",
    "/data/reports/ ../etc",  # a server that strips both ends
    "/data/reports/..\u3000/etc",  # ideographic space: NFKC ` `
    "/data/reports/..;jsessionid=1/etc",  # `;` path parameters (Tomcat)
    "/data/reports/..%3b/etc",
    "/data/reports/%2e/etc",  # reads as `.`: no climb, but a folder name to us
    "/data/reports/. /etc",
]
# Separators some server could see inside one of our segments.
HIDDEN_SEPARATORS = [
    "/data/reports/..%2f..%2fetc",
    "/data/reports/..%2F..%5Cetc",
    "/data/reports/..%252f..%252fetc",  # double-encoded
    "/data/reports/..\uff0f..\uff0fetc",  # full-width solidus
    "/data/reports/..\ufe68..\ufe68etc",  # small reverse solidus
    "/data/reports/%EF%BC%8F",  # encoded full-width solidus
]
OTHER_REFUSALS = [
    "/data/reports/%c0%ae%c0%ae/etc",  # overlong UTF-8 for `.`: some decoders accept it
    "/data/reports/x%00/etc",  # an encoded NUL
    "/data/reports/%" + "25" * 20 + "2e",  # encoded beyond any plausible reading
]


@pytest.mark.parametrize("raw", READS_AS_DOTS + HIDDEN_SEPARATORS + OTHER_REFUSALS)
def test_segments_that_could_climb_on_some_server_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidArguments, match="arguments.path"):
        path_facts(raw, "arguments.path")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("/data/reports/q1.csv", "/data/reports/q1.csv"),
        ("/data/reports/a..b.txt", "/data/reports/a..b.txt"),
        ("/home/u/.hidden/..x", "/home/u/.hidden/..x"),
        ("/data/reports/file.", "/data/reports/file."),  # a name on Windows too: no climb
        ("/data/reports/q1 .csv", "/data/reports/q1 .csv"),
        ("/data/reports/ /q1.csv", "/data/reports/ /q1.csv"),  # blank: at most an empty segment
        ("/data/reports/100%.csv", "/data/reports/100%.csv"),  # not an escape
        ("/data/reports/%41.csv", "/data/reports/%41.csv"),  # an escape, but not of a dot
        ("/data/reports/\uff311.csv", "/data/reports/\uff311.csv"),  # full-width letter
        ("/data/reports/re\u0301sume\u0301.pdf", "/data/reports/re\u0301sume\u0301.pdf"),
        ("/data/reports/\u2488 intro.md", "/data/reports/\u2488 intro.md"),  # NFKC `1. intro.md`
        ("/data/reports/x;v=1", "/data/reports/x;v=1"),
    ],
)
def test_ordinary_names_are_kept_as_given(raw: str, normalized: str) -> None:
    facts = path_facts(raw)
    assert facts["normalized"] == normalized
    assert "/data/reports" in facts["ancestors"] or "/home/u" in facts["ancestors"]


def test_uri_is_decoded_once_and_a_second_level_is_refused() -> None:
    # One level of escapes is the URI's own: `%2e%2e` is `..` and is resolved.
    assert uri_facts("file:///data/reports/%2e%2e/q1.csv")["path"] == "/data/q1.csv"
    assert uri_facts("file:///data/reports/a%2e%2eb.txt")["path"] == "/data/reports/a..b.txt"
    assert uri_facts("file:///data/reports/100%25.csv")["path"] == "/data/reports/100%.csv"
    for uri in [
        "file:///data/reports/%252e%252e/%252e%252e/etc/passwd",
        "file:///data/reports/%25252e%25252e/etc",
        "file:///data/reports/..%252f..%252fetc",
        "file:///data/reports/%EF%BC%8E%EF%BC%8E/etc",
        "file:///data/reports/\uff0e\uff0e/etc",
        "file:///data/reports/%2e%2e%20/etc",
        "file:///data/reports/.../etc",
        "file:///data/reports/..;x/etc",
        "file:///data/reports/%c0%ae%c0%ae/etc",
        "file:///data/reports/%EF%BC%8F..",
    ]:
        with pytest.raises(InvalidArguments, match="uri"):
            uri_facts(uri)
