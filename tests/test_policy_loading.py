"""Loading policies: names, file:line diagnostics, strict validation, the generated schema."""

from __future__ import annotations

import json

import pytest

from service.engine.cedar_text import namespace_body_end, statements
from service.engine.errors import PolicyLoadError
from service.engine.policies import PolicyFile, compile_policies, policy_version, read_policy_dir
from service.engine.tools import ToolDefinitionError, tools_from_list_result
from tests.conftest import POLICY_DIR, demo_tools

STUB, DEMO_FILES = read_policy_dir(POLICY_DIR)
TOOLS = tools_from_list_result({"tools": demo_tools()})


def compile_one(text: str, name: str = "p.cedar"):
    return compile_policies(STUB, [PolicyFile(name, text)], TOOLS)


def test_demo_policies_compile_with_ids_and_lines() -> None:
    snapshot = compile_policies(STUB, DEMO_FILES, TOOLS)
    assert "tools.cedar#analysts-read-tools" in snapshot.policies
    info = snapshot.policies["guardrails.cedar#writes-need-scope"]
    assert (info.effect, info.required_scopes) == ("forbid", ("tools:write",))
    assert info.line > 1


def test_policy_without_id_is_named_by_file_and_line() -> None:
    snapshot = compile_one("// comment; with a semicolon\n\npermit (principal, action, resource);")
    assert list(snapshot.policies) == ["p.cedar:3"]


def test_syntax_error_names_file_and_line() -> None:
    text = 'permit (principal, action, resource);\n\n@id("x")\npermit (principal, action, resource) when { 1 + };\n'
    with pytest.raises(PolicyLoadError) as caught:
        compile_one(text)
    assert (caught.value.file, caught.value.line) == ("p.cedar", 3)
    assert str(caught.value).startswith("p.cedar:3: ")


def test_unknown_attribute_fails_strict_validation_with_file_and_line() -> None:
    text = "permit (principal, action, resource);\npermit (principal, action, resource) when { principal.shoe_size > 3 };\n"
    with pytest.raises(PolicyLoadError) as caught:
        compile_one(text)
    assert (caught.value.file, caught.value.line) == ("p.cedar", 2)
    assert "shoe_size" in caught.value.message
    assert "p.cedar:2" in caught.value.message  # Cedar's policyN is replaced by our id


def test_unknown_tool_action_fails_validation() -> None:
    with pytest.raises(PolicyLoadError, match="payments___charge"):
        compile_one('permit (principal, action == Mcp::Action::"payments___charge", resource);')


def test_argument_of_wrong_type_fails_validation() -> None:
    with pytest.raises(PolicyLoadError):
        compile_one(
            'permit (principal, action == Mcp::Action::"payments___refund", resource)'
            ' when { context.input.amount == "500" };'
        )


def test_duplicate_ids_are_refused() -> None:
    text = '@id("a")\npermit (principal, action, resource);\n@id("a")\nforbid (principal, action, resource);'
    with pytest.raises(PolicyLoadError, match="duplicate policy id p.cedar#a"):
        compile_one(text)


def test_templates_are_refused() -> None:
    with pytest.raises(PolicyLoadError, match="templates"):
        compile_one("permit (principal == ?principal, action, resource);")


def test_version_changes_with_policies_stub_and_tools() -> None:
    base = policy_version(STUB, DEMO_FILES, TOOLS)
    assert base == policy_version(STUB, list(reversed(DEMO_FILES)), TOOLS)
    assert base != policy_version(STUB + "\n", DEMO_FILES, TOOLS)
    assert base != policy_version(STUB, DEMO_FILES[1:], TOOLS)
    assert base != policy_version(STUB, DEMO_FILES, TOOLS[1:])


def test_schema_declares_groups_methods_and_tools() -> None:
    schema = compile_policies(STUB, DEMO_FILES, TOOLS).schema_text
    assert 'action "docs___search" in [Action::"CallTool", Action::"ReadOnlyTools"]' in schema
    assert 'action "files___delete" in [Action::"CallTool", Action::"DestructiveTools"]' in schema
    # destructiveHint false and readOnlyHint false: in neither annotation group
    assert 'action "crm___update_customer" in [Action::"CallTool"] ' in schema
    assert 'Action::"pii"' in schema  # a registry tag is an action group
    assert 'action "tools/list" in [Action::"Discovery"]' in schema


def test_tool_names_with_dashes_and_dots_are_supported() -> None:
    tools = tools_from_list_result(
        {"tools": [{"name": "my-tool.v2", "inputSchema": {"type": "object"}}, {"name": "bare"}]}
    )
    snapshot = compile_policies(
        STUB,
        [
            PolicyFile(
                "p.cedar", 'permit (principal, action == Mcp::Action::"my-tool.v2", resource);'
            )
        ],
        tools,
    )
    assert set(snapshot.tools) == {"my-tool.v2", "bare"}


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([{"name": 'evil"name'}], "must be 1-128 characters"),
        ([{"name": "Mcp::Action::x"}], "must be 1-128 characters"),
        ([{"name": "tools/list"}], "must be 1-128 characters"),
        ([{"name": "CallTool"}], "reserved"),
        ([{"name": "ping"}], "reserved"),
        ([{"name": "a"}, {"name": "a"}], "duplicate tool names: a"),
        ([{"name": "a", "tags": ["b"]}, {"name": "b"}], "tags clash"),
        ([{"name": "a", "inputSchema": []}], "must be objects"),
    ],
)
def test_bad_tool_definitions_are_refused(tools: list, message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        tools_from_list_result({"tools": tools})


def test_statements_ignore_semicolons_in_strings_and_comments() -> None:
    text = 'permit (principal, action, resource) when { "a;b" == "a;b" }; // x;\n\nforbid (principal, action, resource);'
    assert [s.line for s in statements(text)] == [1, 3]


def test_namespace_body_end_skips_braces_in_strings() -> None:
    stub = 'namespace Mcp {\n  type T = {"}": String};\n}\n'
    assert stub[namespace_body_end(stub, "Mcp")] == "}"
    assert namespace_body_end(stub, "Mcp") == len(stub) - 2
    with pytest.raises(ValueError, match="no `namespace Other"):
        namespace_body_end(stub, "Other")


def test_tools_list_shapes_are_accepted() -> None:
    tools = demo_tools()
    for document in ({"tools": tools}, {"result": {"tools": tools}}, tools):
        assert len(tools_from_list_result(json.loads(json.dumps(document)))) == len(tools)
