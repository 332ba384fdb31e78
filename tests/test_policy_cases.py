"""The demo's policy test cases (policies/tests) pass, and the runner can fail."""

from __future__ import annotations

import json
from pathlib import Path

from service.engine.policies import compile_policies, read_policy_dir
from service.engine.tools import tools_from_list_result
from service.policies.cases import run_dir, run_file
from tests.conftest import POLICY_DIR, demo_tools


def snapshot():
    stub, files = read_policy_dir(POLICY_DIR)
    return compile_policies(stub, files, tools_from_list_result({"tools": demo_tools()}))


async def test_demo_cases_pass() -> None:
    results = await run_dir(snapshot(), POLICY_DIR / "tests")
    assert len(results) >= 15
    assert [r for r in results if not r.passed] == []


async def test_runner_reports_a_wrong_expectation(tmp_path: Path) -> None:
    case = {
        "name": "wrong on purpose",
        "principal": {"id": "alice", "roles": ["analyst"]},
        "tool": "docs___search",
        "arguments": {"query": "q"},
        "expect": "deny",
        "reasons": ["tools.cedar#nope"],
    }
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps({"cases": [case, {**case, "expect": "maybe"}]}))
    first, second = await run_file(snapshot(), path)
    assert first.differences == (
        'decision: expected "deny", got "allow"',
        'reasons: expected ["tools.cedar#nope"], got ["tools.cedar#analysts-read-tools"]',
    )
    assert not second.passed
