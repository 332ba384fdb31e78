"""`POST /v1/decisions` ahead of the router: the route's own answer, with fewer layers.

The route (api/decisions.py) stays the reference and the OpenAPI entry. This
middleware answers only what it can answer exactly as the route does, with the
same function (`answer`): a JSON body that validates from a caller that
authenticates. Anything else (bad or refused JSON, an invalid field, a
missing or wrong key, claims from an untrusted key) goes to the app, body
replayed, so every error is the app's own response. What was found on the way
is handed over in the request state, as OPA keeps a parsed body on its request
context: the app neither parses the body again (`json_body.PARSED_STATE`) nor
looks the key up again (`auth.CALLER_STATE`). On a cache hit the router,
exception middleware and request/response wrappers it skips were about a
quarter of the work (py-spy).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api import json_body
from service.api.auth import CALLER_STATE, bearer_key, check_caller
from service.api.decisions import answer
from service.api.middleware.body_limit import replay_body
from service.api.schemas import DecisionRequest
from service.runtime import runtime_of

PATH = "/v1/decisions"


class DecisionFastPath:
    """ASGI middleware: answer plain decision requests, pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decide here when the request is one the route would answer 200."""
        if not (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _json_content(headers.get("content-type")):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        state: dict[str, Any] = scope.setdefault("state", {})
        answer_body = await _answer(scope, state, body, headers.get("authorization"))
        if answer_body is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answer_body)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": answer_body})


async def _answer(
    scope: Scope, state: dict[str, Any], body: bytes, authorization: str | None
) -> bytes | None:
    """The route's answer, or None when the app must answer (an error response)."""
    try:
        parsed = json_body.loads(body)  # as the route parses its body (JsonRoute)
    except (ValueError, RecursionError) as exc:  # the app says what is wrong
        state[json_body.PARSED_STATE] = exc
        return None
    state[json_body.PARSED_STATE] = parsed
    try:
        request = DecisionRequest.model_validate(parsed)
    except ValidationError:
        return None
    runtime = runtime_of(scope["app"])
    try:
        access = await check_caller(runtime, bearer_key(authorization))
    except HTTPException as exc:  # 401: the app answers it, without a second lookup
        state[CALLER_STATE] = exc
        return None
    state[CALLER_STATE] = access
    try:
        return await answer(runtime, request, access)
    except HTTPException:
        return None  # 403 for claims from an untrusted key: the route raises it again


def _json_content(content_type: str | None) -> bool:
    """Whether FastAPI reads this body as JSON; without a content type the app decides."""
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
