"""The audit log: one row per write, in the write's transaction; filters and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.store import audit as audit_store

AUDIT = "/admin/v1/audit"


async def entries(admin: httpx.AsyncClient, **params: object) -> list[dict]:
    response = await admin.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


async def test_each_write_records_actor_action_target_before_after(
    admin: httpx.AsyncClient,
) -> None:
    key = await admin.post("/admin/v1/keys", json={"name": "ops", "scope": "admin"})
    ops = {"Authorization": f"Bearer {key.json()['key']}"}
    started = datetime.now(UTC) - timedelta(seconds=1)
    await admin.put("/admin/v1/roles/auditor", json={"parents": ["employee"]}, headers=ops)
    await admin.put("/admin/v1/principals/gina/roles/auditor", json={}, headers=ops)
    await admin.patch("/admin/v1/principals/gina/attributes", json={"region": "eu"}, headers=ops)
    actor = f"key:{key.json()['id']}"
    rows = await entries(admin, actor=actor)
    assert [(e["action"], e["target_kind"], e["target"]) for e in rows] == [
        ("attributes.set", "principal", "gina"),
        ("role.assign", "principal", "gina"),
        ("role.put", "role", "auditor"),
    ]
    assert rows[2]["before"] is None
    assert rows[2]["after"] == {"name": "auditor", "description": "", "parents": ["employee"]}
    assert rows[0]["before"] == {"region": None} and rows[0]["after"] == {"region": "eu"}
    for row in rows:
        at = datetime.fromisoformat(row["at"])
        assert started <= at <= datetime.now(UTC)
    created = await entries(admin, actor="key:bootstrap")
    assert created[0]["action"] == "key.create" and created[0]["target"] == key.json()["id"]


async def test_filters_and_pages(admin: httpx.AsyncClient) -> None:
    for role in ["hr", "support", "analyst"]:
        await admin.put(f"/admin/v1/principals/gina/roles/{role}", json={})
    await admin.put("/admin/v1/principals/hank/roles/hr", json={})
    gina = await entries(admin, principal="gina")
    assert [e["after"]["role"] for e in gina] == ["analyst", "support", "hr"]
    first = (await admin.get(AUDIT, params={"principal": "gina", "limit": 2})).json()
    assert len(first["entries"]) == 2 and first["next_cursor"] is not None
    rest = await entries(admin, principal="gina", limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in first["entries"] + rest] == [e["id"] for e in gina]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await entries(admin, since=future) == []
    assert len(await entries(admin, until=future, principal="hank")) == 1
    assert await entries(admin, actor="nobody") == []


async def test_query_is_validated(admin: httpx.AsyncClient) -> None:
    for params in [
        {"limit": 0},
        {"limit": 501},
        {"since": "2026-01-01T00:00:00"},  # a time needs its zone
        {"cursor": 0},
        {"principal": "a/b"},
    ]:
        assert (await admin.get(AUDIT, params=params)).status_code == 422, params


async def test_change_and_audit_row_commit_together(
    admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The role row is flushed first; then its audit row fails: neither may remain.
    monkeypatch.setattr(audit_store.AuditEntry, "__init__", _refuse)
    with pytest.raises(RuntimeError):
        await admin.put("/admin/v1/roles/unaudited", json={})
    monkeypatch.undo()
    roles = (await admin.get("/admin/v1/roles")).json()["roles"]
    assert "unaudited" not in [r["name"] for r in roles]


def _refuse(*_: object, **__: object) -> None:
    raise RuntimeError("audit row refused")
