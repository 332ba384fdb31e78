"""Tool registry, policy status and reload over the admin API."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from service.settings import Settings
from tests.conftest import ADMIN_KEY, POLICY_DIR, app_client, demo_tools, load_demo

CALENDAR = {
    "name": "calendar___list",
    "description": "List calendar events",
    "inputSchema": {"type": "object", "properties": {"day": {"type": "string"}}},
    "annotations": {"readOnlyHint": True},
}
UPDATE = ("crm___update_customer", {"customerId": "C", "changes": {}})


async def decide(http: httpx.AsyncClient, tool: str, arguments: dict, sub: str = "alice") -> dict:
    body = {"claims": {"sub": sub}, "method": "tools/call", "tool": tool, "arguments": arguments}
    response = await http.post("/v1/decisions", json=body)
    assert response.status_code == 200
    return response.json()


async def version(admin: httpx.AsyncClient) -> str:
    return str((await admin.get("/admin/v1/policies")).json()["version"])


async def test_put_tools_takes_effect_on_the_next_decision(admin: httpx.AsyncClient) -> None:
    assert (await decide(admin, "calendar___list", {}))["code"] == "unknown_tool"
    old = await version(admin)
    response = await admin.put("/admin/v1/tools", json={"tools": [*demo_tools(), CALENDAR]})
    assert response.status_code == 200, response.text
    assert response.json()["policy_version"] != old
    assert response.json()["policy_version"] == await version(admin)
    body = await decide(admin, "calendar___list", {"day": "mon"})
    assert (body["decision"], body["reasons"]) == ("allow", ["tools.cedar#analysts-read-tools"])
    listed = (await admin.get("/admin/v1/tools")).json()["tools"]
    calendar = next(t for t in listed if t["name"] == "calendar___list")
    assert calendar["groups"] == ["CallTool", "ReadOnlyTools"]
    assert calendar["inputSchema"] == CALENDAR["inputSchema"]
    entry = (await admin.get("/admin/v1/audit", params={"limit": 1})).json()["entries"][0]
    assert entry["action"] == "tools.put"
    assert set(entry["after"]["tools"]) - set(entry["before"]["tools"]) == {"calendar___list"}


async def test_get_tools_round_trips_through_put(admin: httpx.AsyncClient) -> None:
    listed = (await admin.get("/admin/v1/tools")).json()
    again = await admin.put("/admin/v1/tools", json={"tools": listed["tools"]})
    assert again.status_code == 200
    assert again.json() == listed  # same registry, same policy version


async def test_put_tools_that_break_policies_is_refused(admin: httpx.AsyncClient) -> None:
    old = await version(admin)
    without_refund = [t for t in demo_tools() if t["name"] != "payments___refund"]
    response = await admin.put("/admin/v1/tools", json={"tools": without_refund})
    assert response.status_code == 422
    assert "tools.cedar" in response.json()["detail"]  # names the policy that broke
    assert await version(admin) == old
    names = [t["name"] for t in (await admin.get("/admin/v1/tools")).json()["tools"]]
    assert "payments___refund" in names
    claims_bob = {"orderId": "A", "amount": 5}
    body = await decide(admin, "payments___refund", claims_bob, sub="carol")
    assert body["code"] is None  # still a registered tool
    entries = (await admin.get("/admin/v1/audit")).json()["entries"]
    assert [e for e in entries if e["action"] == "tools.put" and e["actor"] != "seed"] == []


async def test_bad_tool_documents_are_422(admin: httpx.AsyncClient) -> None:
    old = await version(admin)
    for document in [
        {"nope": []},
        {"tools": [{"name": "bad name"}]},
        {"tools": [CALENDAR, CALENDAR]},
        {"tools": [{"name": "tools/list"}]},
        {"tools": [{**CALENDAR, "inputSchema": "x"}]},
    ]:
        response = await admin.put("/admin/v1/tools", json=document)
        assert response.status_code == 422, document
    assert await version(admin) == old


async def test_policy_status_and_reload(database_url: str, tmp_path: Path) -> None:
    policy_dir = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policy_dir)
    await load_demo(database_url)
    settings = Settings(
        database_url=database_url, bootstrap_admin_key=ADMIN_KEY, policy_dir=policy_dir
    )
    async with app_client(settings) as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        status = (await http.get("/admin/v1/policies")).json()
        assert status["last_error"] is None
        assert "tools.cedar#analysts-read-tools" in status["policies"]
        assert status["tools"] == len(demo_tools())
        assert (await decide(http, *UPDATE))["decision"] == "deny"

        (policy_dir / "extra.cedar").write_text(
            '@id("analysts-crm")\npermit (principal in Mcp::Role::"analyst", '
            'action == Mcp::Action::"crm___update_customer", resource);\n'
        )
        reloaded = await http.post("/admin/v1/policies/reload")
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["version"] != status["version"]
        assert "extra.cedar#analysts-crm" in reloaded.json()["policies"]
        assert (await decide(http, *UPDATE))["decision"] == "allow"

        (policy_dir / "broken.cedar").write_text("\npermit (principal, action, resource) when {")
        failed = await http.post("/admin/v1/policies/reload")
        assert failed.status_code == 422
        assert failed.json()["version"] == reloaded.json()["version"]  # last good set serves
        assert failed.json()["last_error"].startswith("broken.cedar:2")
        assert (await http.get("/admin/v1/policies")).json()["last_error"] == failed.json()[
            "last_error"
        ]
        assert (await decide(http, *UPDATE))["decision"] == "allow"

        (policy_dir / "broken.cedar").unlink()
        fixed = await http.post("/admin/v1/policies/reload")
        assert (fixed.status_code, fixed.json()["last_error"]) == (200, None)
        entries = (await http.get("/admin/v1/audit")).json()["entries"]
        reloads = [e for e in entries if e["action"] == "policies.reload"]
        assert [e["after"]["error"] is None for e in reloads] == [True, False, True]
