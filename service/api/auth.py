"""Caller authentication: `Authorization: Bearer <API key>` for admin and decision routes.

The decision fast path authenticates before the app does; when it hands a
request on, it leaves what it found in the request state (`CALLER_STATE`), so
the key is never looked up twice for one request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.deps import RuntimeDep
from service.engine.errors import StoreUnavailable
from service.runtime import Runtime
from service.store.keys import Caller, authenticate, key_digest

log = logging.getLogger("mcp_pdp.auth")
bearer = HTTPBearer(
    auto_error=False,
    description="An API key made by `POST /admin/v1/keys` (or `bootstrap_admin_key`).",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
CALLER_STATE = "mcp_pdp_caller"  # request state: a CallerAccess, or the HTTPException to raise
KEY_STORE_DOWN = "the key store could not be read to authenticate the caller"


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _lookup(runtime: Runtime, raw_key: str) -> Caller:
    # A key authenticated before is kept until a key write is announced (store/changes.py);
    # unknown keys are not kept, so each costs a lookup.
    changes = runtime.changes
    digest = key_digest(raw_key)
    kept: Caller | None = changes.caller(digest)
    if kept is not None:
        return kept
    ticket = changes.ticket()
    async with runtime.sessions() as session:
        caller = await authenticate(session=session, raw=raw_key)
    if caller is None:
        raise _unauthorized("unknown or revoked API key")
    changes.keep_caller(digest, caller, ticket)
    return caller


async def require_admin(runtime: RuntimeDep, credentials: CredentialsDep) -> Caller:
    """An `admin` key, else 401 (no or bad key) or 403 (a `decide` key)."""
    if credentials is None:
        raise _unauthorized("an admin API key is required: Authorization: Bearer <key>")
    caller = await _lookup(runtime, credentials.credentials)
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
        """403 unless this caller may send pre-validated `claims`.

        A caller whose key could not be checked is not refused here: every decision
        it asks for is a deny `store_unavailable` (`refused`), which says more.
        """
        if self.store_unavailable:
            return
        if self.required and not (self.caller and self.caller.trusted_claims):
            raise HTTPException(
                403, "this key is not trusted to send `claims`; send the user's `token`"
            )

    @property
    def key_id(self) -> str | None:
        """The caller's key id, as the decision log names it."""
        return self.caller.key_id if self.caller else None

    @property
    def refused(self) -> StoreUnavailable | None:
        """The deny every decision of this caller ends in, when the key store was away."""
        return StoreUnavailable(KEY_STORE_DOWN) if self.store_unavailable else None


async def caller_access(
    request: Request, runtime: RuntimeDep, credentials: CredentialsDep
) -> CallerAccess:
    """While `require_caller_key` is on, a `decide` or `admin` key, else 401."""
    return await request_access(request, runtime)


async def request_access(request: Request, runtime: Runtime) -> CallerAccess:
    """The caller of a request: what the fast path found for it, or authenticated now."""
    found: Any = getattr(request.state, CALLER_STATE, None)
    if isinstance(found, HTTPException):
        raise found
    if isinstance(found, CallerAccess):
        return found
    return await check_caller(runtime, bearer_key(request.headers.get("authorization")))


async def check_caller(runtime: Runtime, raw_key: str | None) -> CallerAccess:
    """`caller_access` without FastAPI's dependency machinery, for the decision fast path."""
    if not runtime.settings.require_caller_key:
        return CallerAccess(required=False)
    if raw_key is None:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    try:
        caller = await _lookup(runtime, raw_key)
    except HTTPException:
        raise
    except Exception as exc:
        # Fail closed without a 5xx: the decision routes answer deny store_unavailable.
        log.warning("key store unavailable: %s", type(exc).__name__)
        return CallerAccess(required=True, store_unavailable=True)
    return CallerAccess(required=True, caller=caller)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, as `HTTPBearer` reads it."""
    scheme, _, key = (authorization or "").partition(" ")
    return key if scheme.lower() == "bearer" and key else None


CallerAccessDep = Annotated[CallerAccess, Depends(caller_access)]
