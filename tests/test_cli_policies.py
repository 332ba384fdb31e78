"""The policy authoring commands: exit codes and file:line diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli.main import main
from tests.conftest import DEMO_TOOLS, POLICY_DIR


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(POLICY_DIR), "--tools", str(DEMO_TOOLS))
    assert code == 0
    assert out.startswith("ok: ")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("permit (principal, action, resource)\nwhen { principal.shoe_size == 3 };\n", "shoe_size"),
        ('permit (principal, action == Mcp::Action::"nope___tool", resource);\n', "nope___tool"),
    ],
)
def test_check_fails_with_file_and_line(
    capsys: pytest.CaptureFixture[str], policy_dir: Path, text: str, needle: str
) -> None:
    (policy_dir / "zz.cedar").write_text("// first line\n\n" + text)
    code, _, err = run(capsys, "check", str(policy_dir), "--tools", str(DEMO_TOOLS))
    assert code == 1
    assert "zz.cedar:3:" in err
    assert needle in err


def test_test_command_fails_on_a_wrong_expectation(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    cases = json.loads((policy_dir / "tests" / "acme.json").read_text())
    cases["cases"][0]["expect"] = "deny"
    (policy_dir / "tests" / "acme.json").write_text(json.dumps(cases))
    code, out, _ = run(capsys, "test", str(policy_dir), "--tools", str(DEMO_TOOLS))
    assert code == 1
    assert f"FAIL acme.json: {cases['cases'][0]['name']}" in out
    assert 'decision: expected "deny", got "allow"' in out
    assert out.strip().endswith("1 failed")


def test_test_command_fails_on_a_wrong_cedar_format_case(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    path = policy_dir / "tests" / "cedar-format.json"
    cases = json.loads(path.read_text())
    cases[0]["reason"] = ["tools.cedar#refunds-under-500"]
    path.write_text(json.dumps(cases))
    code, out, _ = run(capsys, "test", str(policy_dir), "--tools", str(DEMO_TOOLS))
    assert code == 1
    assert "missing reasons: tools.cedar#refunds-under-500" in out


def test_fmt_check_and_rewrite(capsys: pytest.CaptureFixture[str], policy_dir: Path) -> None:
    assert run(capsys, "fmt", "--check", str(policy_dir))[0] == 0
    (policy_dir / "ugly.cedar").write_text("permit(principal,action,resource);")
    code, out, _ = run(capsys, "fmt", "--check", str(policy_dir))
    assert (code, out.strip()) == (1, "would reformat ugly.cedar")
    assert run(capsys, "fmt", str(policy_dir))[0] == 0
    assert (policy_dir / "ugly.cedar").read_text() == "permit (principal, action, resource);\n"
    assert run(capsys, "fmt", "--check", str(policy_dir))[0] == 0


def test_schema_prints_the_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", str(POLICY_DIR), "--tools", str(DEMO_TOOLS))
    assert code == 0
    assert "entity User in [Role]" in out
    assert 'action "payments___refund" in [Action::"CallTool", Action::"DestructiveTools"]' in out


def test_decide_explains_with_file_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "decide",
        str(POLICY_DIR),
        "--tools",
        str(DEMO_TOOLS),
        "--principal",
        "bob",
        "--roles",
        "support",
        "--tool",
        "payments___refund",
        "--arguments",
        '{"orderId": "A", "amount": 90}',
    )
    explained = json.loads(out)
    assert code == 1
    assert explained["decision"] == "deny"
    assert explained["reasons"][0]["policy"] == "guardrails.cedar#writes-need-scope"
    assert explained["reasons"][0]["file"] == "guardrails.cedar"
    assert explained["required_scopes"] == ["tools:write"]
    code, out, _ = run(
        capsys,
        "decide",
        str(POLICY_DIR),
        "--tools",
        str(DEMO_TOOLS),
        "--principal",
        "bob",
        "--roles",
        "support",
        "--claims",
        '{"scope": "tools:write"}',
        "--tool",
        "payments___refund",
        "--arguments",
        '{"orderId": "A", "amount": 90}',
    )
    assert (code, json.loads(out)["decision"]) == (0, "allow")
