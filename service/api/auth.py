"""Caller authentication: `Authorization: Bearer <API key>` for admin and decision routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.api.deps import ChangesDep, SessionsDep, SettingsDep
from service.settings import Settings
from service.store.changes import ChangeFeed
from service.store.keys import Caller, authenticate, key_digest

log = logging.getLogger("mcp_pdp.auth")
bearer = HTTPBearer(
    auto_error=False,
    description="An API key made by `POST /admin/v1/keys` (or `bootstrap_admin_key`).",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _lookup(
    sessions: async_sessionmaker[AsyncSession], changes: ChangeFeed, raw_key: str
) -> Caller:
    # A key authenticated before is kept until a key write is announced (store/changes.py);
    # unknown keys are not kept, so each costs a lookup.
    digest = key_digest(raw_key)
    kept: Caller | None = changes.caller(digest)
    if kept is not None:
        return kept
    ticket = changes.ticket()
    async with sessions() as session:
        caller = await authenticate(session=session, raw=raw_key)
    if caller is None:
        raise _unauthorized("unknown or revoked API key")
    changes.keep_caller(digest, caller, ticket)
    return caller


async def require_admin(
    sessions: SessionsDep, changes: ChangesDep, credentials: CredentialsDep
) -> Caller:
    """An `admin` key, else 401 (no or bad key) or 403 (a `decide` key)."""
    if credentials is None:
        raise _unauthorized("an admin API key is required: Authorization: Bearer <key>")
    caller = await _lookup(sessions, changes, credentials.credentials)
    if caller.scope != "admin":
        raise HTTPException(403, "this key has scope `decide`; the admin API needs `admin`")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]


@dataclass(frozen=True)
class CallerAccess:
    """Who called a decision route; `caller` is None while keys are not required."""

    required: bool
    caller: Caller | None = None
    store_unavailable: bool = False

    def check_claims(self) -> None:
        """403 unless this caller may send pre-validated `claims`."""
        if self.required and not (self.caller and self.caller.trusted_claims):
            raise HTTPException(
                403, "this key is not trusted to send `claims`; send the user's `token`"
            )


async def caller_access(
    settings: SettingsDep, sessions: SessionsDep, changes: ChangesDep, credentials: CredentialsDep
) -> CallerAccess:
    """While `require_caller_key` is on, a `decide` or `admin` key, else 401."""
    raw = credentials.credentials if credentials else None
    return await check_caller(settings, sessions, changes, raw)


async def check_caller(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    changes: ChangeFeed,
    raw_key: str | None,
) -> CallerAccess:
    """`caller_access` without FastAPI's dependency machinery, for the decision hot path."""
    if not settings.require_caller_key:
        return CallerAccess(required=False)
    if raw_key is None:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    try:
        caller = await _lookup(sessions, changes, raw_key)
    except HTTPException:
        raise
    except Exception as exc:
        # Fail closed without a 5xx: the decision route answers deny store_unavailable.
        log.warning("key store unavailable: %s", type(exc).__name__)
        return CallerAccess(required=True, store_unavailable=True)
    return CallerAccess(required=True, caller=caller)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, as `HTTPBearer` reads it."""
    scheme, _, key = (authorization or "").partition(" ")
    return key if scheme.lower() == "bearer" and key else None


CallerAccessDep = Annotated[CallerAccess, Depends(caller_access)]
