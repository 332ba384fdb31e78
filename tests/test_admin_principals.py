"""Assignments and attributes over the admin API; each write shows in the next decision."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import decision_body

P = "/admin/v1/principals"


async def decide(admin: httpx.AsyncClient, sub: str, **fields: object) -> dict:
    body = decision_body(claims={"sub": sub}, **fields)
    response = await admin.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def search(admin: httpx.AsyncClient, sub: str) -> str:
    body = await decide(admin, sub, tool="docs___search", arguments={"query": "q"})
    return str(body["decision"])


async def audit(admin: httpx.AsyncClient, **params: object) -> list[dict]:
    response = await admin.get("/admin/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


async def test_assign_allows_and_revoke_denies_without_restart(admin: httpx.AsyncClient) -> None:
    assert await search(admin, "gina") == "deny"
    assigned = await admin.put(f"{P}/gina/roles/analyst", json={"reason": "OPS-1"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["roles"] == [
        {"role": "analyst", "expires_at": None, "active": True, "reason": "OPS-1"}
    ]
    assert await search(admin, "gina") == "allow"
    assert (await admin.delete(f"{P}/gina/roles/analyst")).status_code == 204
    assert await search(admin, "gina") == "deny"


async def test_assign_and_revoke_are_idempotent(admin: httpx.AsyncClient) -> None:
    for _ in range(2):
        response = await admin.put(f"{P}/gina/roles/hr", json={"reason": "x"})
        assert response.status_code == 200
    assert len((await admin.get(f"{P}/gina")).json()["roles"]) == 1
    for _ in range(2):
        assert (await admin.delete(f"{P}/gina/roles/hr")).status_code == 204
    actions = [e["action"] for e in await audit(admin, principal="gina")]
    assert actions == ["role.revoke", "role.assign"]  # repeats change nothing, log nothing


async def test_reassign_updates_expiry_and_reason(admin: httpx.AsyncClient) -> None:
    await admin.put(f"{P}/gina/roles/hr", json={"reason": "a"})
    body = {"expires_at": "2099-01-01T02:00:00+02:00", "reason": "b"}
    updated = await admin.put(f"{P}/gina/roles/hr", json=body)
    assert updated.json()["roles"][0] | {"active": True} == {
        "role": "hr",
        "expires_at": "2099-01-01T00:00:00Z",
        "active": True,
        "reason": "b",
    }
    entries = await audit(admin, principal="gina")
    assert entries[0]["before"] == {"role": "hr", "expires_at": None, "reason": "a"}
    assert entries[0]["after"]["expires_at"] == "2099-01-01T00:00:00+00:00"


async def test_expiry_in_the_past_is_accepted_but_inert(admin: httpx.AsyncClient) -> None:
    response = await admin.put(
        f"{P}/gina/roles/analyst", json={"expires_at": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 200
    assert response.json()["roles"][0]["active"] is False
    assert await search(admin, "gina") == "deny"


async def test_assignment_is_validated(admin: httpx.AsyncClient) -> None:
    unknown = await admin.put(f"{P}/gina/roles/ghost", json={})
    assert unknown.status_code == 404
    assert "ghost" in unknown.json()["detail"]
    for body in [
        {"expires_at": "2099-01-01T00:00:00"},  # no time zone
        {"expires_at": "soon"},
        {"reason": "x" * 1025},
        {"role": "hr"},
    ]:
        assert (await admin.put(f"{P}/gina/roles/hr", json=body)).status_code == 422, body
    assert (await admin.put(f"{P}/{'x' * 257}/roles/hr", json={})).status_code == 422
    assert (await admin.get(f"{P}/gina")).status_code == 404  # nothing was stored


async def test_principal_view_and_ids_with_separators(admin: httpx.AsyncClient) -> None:
    alice = (await admin.get(f"{P}/alice")).json()
    assert alice["attributes"] == {"clearance": 3, "department": "finance"}
    assert [r["role"] for r in alice["roles"]] == ["analyst"]
    frank = (await admin.get(f"{P}/frank")).json()
    assert frank["roles"][0]["active"] is False
    # Issuer-prefixed ids ("okta|00u1") and e-mail ids are ordinary path segments.
    for principal in ["okta|00u1", "j.doe@example.com"]:
        response = await admin.put(f"{P}/{principal}/roles/analyst", json={})
        assert response.status_code == 200
        assert (await admin.get(f"{P}/{principal}")).json()["id"] == principal
        assert await search(admin, principal) == "allow"
    assert (await admin.get(f"{P}/nobody")).status_code == 404


async def test_attributes_set_remove_and_keep_types(admin: httpx.AsyncClient) -> None:
    export = {"tool": "reports___export", "arguments": {"report": "revenue"}}
    assert (await decide(admin, "gina", **export))["decision"] == "deny"
    changes = {"department": "finance", "clearance": 3, "employee": True}
    response = await admin.patch(f"{P}/gina/attributes", json=changes)
    assert response.status_code == 200, response.text
    assert response.json()["attributes"] == changes
    stored = (await admin.get(f"{P}/gina")).json()["attributes"]
    assert type(stored["clearance"]) is int and stored["employee"] is True
    assert (await decide(admin, "gina", **export))["decision"] == "allow"
    removed = await admin.patch(f"{P}/gina/attributes", json={"clearance": None})
    assert removed.json()["attributes"] == {"department": "finance", "employee": True}
    assert (await decide(admin, "gina", **export))["decision"] == "deny"
    entry = (await audit(admin, principal="gina"))[0]
    assert (entry["before"], entry["after"]) == ({"clearance": 3}, {"clearance": None})


async def test_attributes_must_fit_the_schema(admin: httpx.AsyncClient) -> None:
    for changes in [
        {"shoe_size": 42},  # not declared on User
        {"clearance": "3"},
        {"clearance": 3.5},
        {"clearance": True},
        {"clearance": 2**63},
        {"employee": "yes"},
        {"department": ["finance"]},
        {"department": "x" * 4097},
        {},
        {"bad name": "x"},
        {f"a{i}": None for i in range(65)},
    ]:
        response = await admin.patch(f"{P}/alice/attributes", json=changes)
        assert response.status_code == 422, changes
    assert (await admin.patch(f"{P}/alice/attributes", json=[1])).status_code == 422
    alice = (await admin.get(f"{P}/alice")).json()
    assert alice["attributes"] == {"clearance": 3, "department": "finance"}
    # Removing an undeclared attribute (say, left over from an older schema) is allowed.
    assert (await admin.patch(f"{P}/alice/attributes", json={"shoe_size": None})).status_code == 200


async def test_concurrent_identical_assignments_make_one(admin: httpx.AsyncClient) -> None:
    body = {"expires_at": "2099-01-01T00:00:00Z", "reason": "race"}
    responses = await asyncio.gather(
        *(admin.put(f"{P}/racer/roles/analyst", json=body) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    roles = (await admin.get(f"{P}/racer")).json()["roles"]
    assert [(r["role"], r["reason"]) for r in roles] == [("analyst", "race")]
    # One row and exactly one audit row: the losers find the same values and write nothing.
    assert [e["action"] for e in await audit(admin, principal="racer")] == ["role.assign"]
    assert await search(admin, "racer") == "allow"
