"""Every way the tool registry is written: awkward property names load, and a
registry the policies do not compile against is never saved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from service.cli.main import main
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.tools import load_tools
from tests.conftest import ADMIN_KEY, DEMO_TOOLS, app_client, demo_tools, load_demo

# Property names that JSON escapes differently from Cedar, or not at all.
AWKWARD = ["à", 'say "hi"', "back\\slash", "😀", "it's", "dossier é"]
ODD = {
    "name": "odd___names",
    "description": "A tool whose argument names need escaping in Cedar",
    "inputSchema": {
        "type": "object",
        "properties": {
            **{name: {"type": "string"} for name in AWKWARD[:-1]},
            "dossier é": {"type": "string", "format": "path"},
            "tab\there": {"type": "string"},  # not printable: left out of context.input
        },
        "required": AWKWARD[:4],
    },
    "annotations": {"readOnlyHint": True},
}
# A policy reading the awkward names, written as Cedar string literals.
ODD_POLICY = (
    '@id("odd-names")\n'
    'permit (principal, action == Mcp::Action::"odd___names", resource)\n'
    'when { context.input["à"] == "oui" && context.input["\\u{e0}"] == "oui"\n'
    '  && context.input["say \\"hi\\""] == "hello" && context.input["back\\\\slash"] == "\\\\"\n'
    '  && context.input["😀"] == "smile" }\n'
    'unless { context.paths has "dossier é" && !(context.paths["dossier é"].normalized like "/srv/*") };\n'
)
ARGUMENTS = {"à": "oui", 'say "hi"': "hello", "back\\slash": "\\", "😀": "smile", "it's": "x"}


async def _decide(http: httpx.AsyncClient, arguments: dict) -> str:
    # `stranger` has no role: only odd.cedar can allow the call.
    body = {"claims": {"sub": "stranger"}, "method": "tools/call", "tool": ODD["name"]}
    response = await http.post("/v1/decisions", json={**body, "arguments": arguments})
    assert response.status_code == 200, response.text
    return str(response.json()["decision"])


async def _check_odd_policy(http: httpx.AsyncClient) -> None:
    assert await _decide(http, ARGUMENTS) == "allow"
    assert await _decide(http, {**ARGUMENTS, "dossier é": "/srv/a.txt"}) == "allow"
    assert await _decide(http, {**ARGUMENTS, "à": "non"}) == "deny"
    assert await _decide(http, {**ARGUMENTS, "😀": "frown"}) == "deny"
    assert await _decide(http, {**ARGUMENTS, "dossier é": "/etc/passwd"}) == "deny"


async def test_awkward_property_names_register_over_the_api(
    database_url: str, policy_dir: Path
) -> None:
    await load_demo(database_url)
    settings = Settings(
        database_url=database_url, bootstrap_admin_key=ADMIN_KEY, policy_dir=policy_dir
    )
    async with app_client(settings) as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        put = await http.put("/admin/v1/tools", json={"tools": [*demo_tools(), ODD]})
        assert put.status_code == 200, put.text
        (policy_dir / "odd.cedar").write_text(ODD_POLICY, encoding="utf-8")
        reloaded = await http.post("/admin/v1/policies/reload")
        assert reloaded.status_code == 200, reloaded.text
        await _check_odd_policy(http)
        listed = (await http.get("/admin/v1/tools")).json()["tools"]
        assert (
            next(t for t in listed if t["name"] == ODD["name"])["inputSchema"]
            == (ODD["inputSchema"])
        )


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, policy_dir: Path, *args: str) -> int:
    monkeypatch.setenv("MCP_PDP_DATABASE_URL", url)
    monkeypatch.setenv("MCP_PDP_POLICY_DIR", str(policy_dir))
    return main(list(args))


async def test_awkward_property_names_register_with_the_cli(
    database_url: str, policy_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load_demo(database_url)
    (policy_dir / "odd.cedar").write_text(ODD_POLICY, encoding="utf-8")
    document = tmp_path / "tools.json"
    document.write_text(json.dumps({"tools": [*demo_tools(), ODD]}), encoding="utf-8")
    code = await asyncio.to_thread(
        _cli, monkeypatch, database_url, policy_dir, "tools", "sync", str(document)
    )
    assert code == 0
    # The service starts on what the CLI saved, and the policy reads the names.
    async with app_client(Settings(database_url=database_url, policy_dir=policy_dir)) as http:
        assert (await http.get("/readyz")).status_code == 200
        await _check_odd_policy(http)


async def _registry(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return [t.name for t in await load_tools(session=session)]
    finally:
        await engine.dispose()


async def test_cli_sync_refuses_a_registry_the_policies_do_not_compile_against(
    database_url: str,
    policy_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await load_demo(database_url)
    before = await _registry(database_url)
    # The demo policies name payments___refund: a registry without it cannot load.
    without_refund = [t for t in demo_tools() if t["name"] != "payments___refund"]
    document = tmp_path / "tools.json"
    document.write_text(json.dumps({"tools": without_refund}), encoding="utf-8")
    code = await asyncio.to_thread(
        _cli, monkeypatch, database_url, policy_dir, "tools", "sync", str(document)
    )
    assert code == 1
    error = capsys.readouterr().err
    assert "not saved" in error
    assert "tools.cedar" in error  # names the policy that would break
    assert await _registry(database_url) == before
    assert "payments___refund" in before


async def test_cli_sync_of_the_demo_registry_still_works(
    database_url: str, policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await asyncio.to_thread(
        _cli, monkeypatch, database_url, policy_dir, "tools", "sync", str(DEMO_TOOLS)
    )
    assert code == 0
    assert len(await _registry(database_url)) == len(demo_tools())
