"""API keys: `mcppdp_<id>_<secret>`, looked up by id, secret compared as a SHA-256 hash.

The secret itself is never stored nor logged; it is shown once, when the key is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store import audit
from service.store.errors import NotFound
from service.store.models import ApiKey

Scope = Literal["decide", "admin"]
SCOPES: tuple[Scope, ...] = ("decide", "admin")
PREFIX = "mcppdp"
BOOTSTRAP_ID = "bootstrap"
SETTINGS = "settings"  # `created_by` of the keys the settings store, and their audit actor
MAX_KEY_LENGTH = 512
_KEY = re.compile(rf"{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_\-]{{32,128}})")
# Compared against when the id is unknown, so a miss costs what a hit costs.
_NO_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class Caller:
    """An authenticated key: what it may do, and how the audit log names it."""

    key_id: str
    scope: Scope
    trusted_claims: bool

    @property
    def actor(self) -> str:
        """The audit log's name for this caller."""
        return f"key:{self.key_id}"


def split_key(raw: str) -> tuple[str, str]:
    """(id, secret) of a presented key; a key in another format is the bootstrap key."""
    match = _KEY.fullmatch(raw)
    return (match.group(1), match.group(2)) if match else (BOOTSTRAP_ID, raw)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_digest(raw: str) -> str:
    """SHA-256 of a whole presented key: how a worker remembers it without keeping it."""
    return hashlib.sha256(raw.encode()).hexdigest()


async def authenticate(*, session: AsyncSession, raw: str) -> Caller | None:
    """The caller a presented key belongs to, or None for an unknown or wrong key."""
    if not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    key_id, secret = split_key(raw)
    row = await session.get(ApiKey, key_id)
    matches = hmac.compare_digest(_hash(secret), row.secret_hash if row else _NO_HASH)
    if row is None or not matches or row.scope not in SCOPES:
        return None
    scope: Scope = "admin" if row.scope == "admin" else "decide"
    return Caller(row.id, scope, bool(row.trusted_claims))


async def create_key(
    *, session: AsyncSession, actor: str, name: str, scope: Scope, trusted_claims: bool
) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the full key, which exists nowhere else."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        name=name,
        scope=scope,
        secret_hash=_hash(secret),
        trusted_claims=trusted_claims,
        created_by=actor,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="key.create",
        target_kind=audit.KEY,
        target=key_id,
        after=key_view(row),
    )
    return row, f"{PREFIX}_{key_id}_{secret}"


async def delete_key(*, session: AsyncSession, actor: str, key_id: str) -> None:
    """Revoke a key at once; NotFound if there is no such key."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"key {key_id!r} does not exist")
    before = key_view(row)
    await session.delete(row)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="key.delete",
        target_kind=audit.KEY,
        target=key_id,
        before=before,
    )


async def list_keys(*, session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first (no secrets: only hashes are stored)."""
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def count_keys(*, session: AsyncSession, lasting: bool = False) -> int:
    """How many keys exist; `lasting`: only those a start without bootstrap key keeps."""
    query = select(func.count()).select_from(ApiKey)
    if lasting:
        query = query.where(ApiKey.created_by != SETTINGS)
    return int(await session.scalar(query) or 0)


async def ensure_bootstrap_key(*, session: AsyncSession, raw: str) -> bool:
    """Store the configured bootstrap admin key (or its new value); True if anything changed."""
    key_id, secret = split_key(raw)
    row = await session.get(ApiKey, key_id)
    digest = _hash(secret)
    if row is not None and row.scope == "admin" and hmac.compare_digest(row.secret_hash, digest):
        return False
    before = key_view(row) if row else None
    if row is None:
        row = ApiKey(id=key_id, name="bootstrap_admin_key", trusted_claims=False)
        session.add(row)
    row.scope, row.secret_hash, row.created_by = "admin", digest, SETTINGS
    await session.flush()
    await audit.record(
        session=session,
        actor=SETTINGS,
        action="key.bootstrap",
        target_kind=audit.KEY,
        target=key_id,
        before=before,
        after=key_view(row),
    )
    return True


async def retire_bootstrap_keys(*, session: AsyncSession, keep: str | None) -> list[str]:
    """Revoke the keys the settings stored before, except the one with id `keep`; their ids.

    A key removed from (or changed in) the settings must stop working, not live on
    in the database. One DELETE … RETURNING: of replicas starting together, each
    audits only the rows its own statement removed, so a key is revoked once.
    """
    query = delete(ApiKey).where(ApiKey.created_by == SETTINGS)
    if keep is not None:
        query = query.where(ApiKey.id != keep)
    removed = (await session.scalars(query.returning(ApiKey))).all()
    for row in removed:
        await audit.record(
            session=session,
            actor=SETTINGS,
            action="key.delete",
            target_kind=audit.KEY,
            target=row.id,
            before=key_view(row),
        )
    return [row.id for row in removed]


def key_view(row: ApiKey) -> dict[str, object]:
    """What may be shown of a key: never its secret or hash."""
    return {
        "id": row.id,
        "name": row.name,
        "scope": row.scope,
        "trusted_claims": bool(row.trusted_claims),
    }
