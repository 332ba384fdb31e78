"""API keys for interceptors (`decide`) and administrators (`admin`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from service.api.admin.schemas import KeyCreated, KeyIn, KeyOut
from service.api.auth import AdminDep
from service.api.deps import SessionDep
from service.api.json_body import JsonRoute
from service.store import keys
from service.store.audit import utc
from service.store.models import ApiKey

router = APIRouter(tags=["admin: keys"], route_class=JsonRoute)
KeyPath = Annotated[str, Path(min_length=1, max_length=32, examples=["0123456789abcdef"])]


def _out(row: ApiKey) -> dict[str, object]:
    return {
        **keys.key_view(row),
        "created_by": row.created_by,
        "created_at": utc(row.created_at),
    }


@router.post("/keys", status_code=201)
async def create_key(body: KeyIn, admin: AdminDep, session: SessionDep) -> KeyCreated:
    """Make a key. The `key` is shown only in this response; the database keeps a hash."""
    row, key = await keys.create_key(
        session=session,
        actor=admin.actor,
        name=body.name,
        scope=body.scope,
        trusted_claims=body.trusted_claims,
    )
    await session.refresh(row)  # created_at comes from the database
    return KeyCreated.model_validate({**_out(row), "key": key})


@router.get("/keys")
async def list_keys(session: SessionDep) -> list[KeyOut]:
    """Every key, without secrets."""
    return [KeyOut.model_validate(_out(r)) for r in await keys.list_keys(session=session)]


@router.delete("/keys/{key_id}", status_code=204, responses={404: {"description": "no such key"}})
async def delete_key(key_id: KeyPath, admin: AdminDep, session: SessionDep) -> Response:
    """Revoke a key; the next request with it gets 401."""
    await keys.delete_key(session=session, actor=admin.actor, key_id=key_id)
    return Response(status_code=204)
