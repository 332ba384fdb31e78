"""A fresh deployment: policies wait for the tool registry instead of refusing to run."""

from __future__ import annotations

import json

from tests.conftest import ADMIN_KEY, DEMO_TOOLS, app_client, decision_body, demo_settings


async def test_empty_registry_waits_then_tools_activate_the_policies(database_url: str) -> None:
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY)
    async with app_client(settings) as http:
        waiting = await http.get("/readyz")
        assert waiting.status_code == 503
        assert "tool registry is empty" in waiting.json()["policy_error"]
        search = decision_body(tool="docs___search", arguments={"query": "q"})
        assert (await http.post("/v1/decisions", json=search)).json()["decision"] == "deny"
        put = await http.put(
            "/admin/v1/tools",
            json=json.loads(DEMO_TOOLS.read_text()),
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert put.status_code == 200, put.text
        assert (await http.get("/readyz")).status_code == 200
        body = (await http.post("/v1/decisions", json=decision_body(method="tools/list"))).json()
        assert body["decision"] == "allow"
