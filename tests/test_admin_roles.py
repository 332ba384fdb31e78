"""Roles over the admin API, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

ROLES = "/admin/v1/roles"


async def all_roles(admin: httpx.AsyncClient) -> dict[str, dict]:
    response = await admin.get(ROLES)
    assert response.status_code == 200
    return {r["name"]: r for r in response.json()["roles"]}


async def test_create_update_and_list(admin: httpx.AsyncClient) -> None:
    created = await admin.put(
        f"{ROLES}/auditor", json={"description": "Reads logs", "parents": ["employee", "analyst"]}
    )
    assert created.status_code == 200, created.text
    assert created.json() == {
        "name": "auditor",
        "description": "Reads logs",
        "parents": ["analyst", "employee"],
    }
    updated = await admin.put(f"{ROLES}/auditor", json={"parents": ["employee"]})
    assert updated.json()["parents"] == ["employee"]
    roles = await all_roles(admin)
    assert roles["auditor"] == {"name": "auditor", "description": "", "parents": ["employee"]}
    assert roles["admin"]["parents"] == ["analyst", "support-lead"]


async def test_list_is_paginated(admin: httpx.AsyncClient) -> None:
    names: list[str] = []
    after = None
    for _ in range(10):
        params = {"limit": 2} | ({"after": after} if after else {})
        page = (await admin.get(ROLES, params=params)).json()
        assert len(page["roles"]) <= 2
        names += [r["name"] for r in page["roles"]]
        after = page["next_after"]
        if after is None:
            break
    assert names == sorted(["employee", "analyst", "support", "support-lead", "hr", "admin"])
    for bad in [{"limit": 0}, {"limit": 1001}, {"after": "bad name"}]:
        assert (await admin.get(ROLES, params=bad)).status_code == 422, bad


async def test_cycles_are_422_and_change_nothing(admin: httpx.AsyncClient) -> None:
    # admin inherits analyst inherits employee: employee may not inherit admin.
    response = await admin.put(f"{ROLES}/employee", json={"parents": ["admin"]})
    assert response.status_code == 422
    assert "cycle" in response.json()["detail"]
    self_loop = await admin.put(f"{ROLES}/hr", json={"parents": ["hr"]})
    assert self_loop.status_code == 422
    assert (await all_roles(admin))["employee"]["parents"] == []


async def test_unknown_parent_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.put(f"{ROLES}/new", json={"parents": ["ghost"]})
    assert response.status_code == 404
    assert "new" not in await all_roles(admin)


async def test_names_and_bodies_are_validated(admin: httpx.AsyncClient) -> None:
    for name in ["-lead", "a b", "x" * 129, "caf%C3%A9", "a|b"]:
        response = await admin.put(f"{ROLES}/{name}", json={})
        assert response.status_code == 422, name
        assert response.json()["detail"][0]["field"] == "path.role"
    for body in [
        {"description": "x" * 1025},
        {"parents": ["bad name"]},
        {"parents": [f"r{i}" for i in range(65)]},
        {"owner": "me"},
    ]:
        assert (await admin.put(f"{ROLES}/ok", json=body)).status_code == 422, body
    assert "ok" not in await all_roles(admin)


async def test_delete_in_use_is_409_unless_forced(admin: httpx.AsyncClient) -> None:
    in_use = await admin.delete(f"{ROLES}/analyst")  # alice holds it; admin inherits it
    assert in_use.status_code == 409
    assert "force" in in_use.json()["detail"]
    assert "analyst" in await all_roles(admin)
    forced = await admin.delete(f"{ROLES}/analyst", params={"force": "true"})
    assert forced.status_code == 204
    roles = await all_roles(admin)
    assert "analyst" not in roles
    assert roles["admin"]["parents"] == ["support-lead"]
    alice = (await admin.get("/admin/v1/principals/alice")).json()
    assert alice["roles"] == []
    audit = (await admin.get("/admin/v1/audit", params={"limit": 1})).json()["entries"][0]
    assert audit["action"] == "role.delete"
    assert audit["before"]["assigned_to"] == ["alice", "frank"]
    assert audit["before"]["inherited_by"] == ["admin"]


async def test_delete_unused_and_unknown(admin: httpx.AsyncClient) -> None:
    await admin.put(f"{ROLES}/temp", json={})
    assert (await admin.delete(f"{ROLES}/temp")).status_code == 204
    assert (await admin.delete(f"{ROLES}/temp")).status_code == 404
