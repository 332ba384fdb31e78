"""`POST /v1/decisions` ahead of the router: the route's own answer, with fewer layers.

The route (api/decisions.py) stays the reference and the OpenAPI entry. This
middleware answers only what it can answer exactly as the route does, with the
same function (`decide_body`): a JSON body that validates from a caller that
authenticates. Anything else (bad or refused JSON, an invalid field, a
missing or wrong key, claims from an untrusted key) goes to the app unchanged,
body replayed, so every error is the app's own response. On a cache hit the
router, exception middleware and request/response wrappers it skips were
about a quarter of the work (py-spy).
"""

from __future__ import annotations

from fastapi import HTTPException
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api import json_body
from service.api.decisions import decide_body
from service.api.middleware.body_limit import replay_body
from service.api.schemas import DecisionRequest

PATH = "/v1/decisions"


class DecisionFastPath:
    """ASGI middleware: answer plain decision requests, pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decide here when the request is one the route would answer 200."""
        if not (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and _json_content(scope)
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        answer = await _answer(scope, body)
        if answer is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answer)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


async def _answer(scope: Scope, body: bytes) -> bytes | None:
    """The route's answer, or None when the app must answer (an error response)."""
    try:
        # As the route parses its body (JsonRoute): json_body.loads, then the model.
        request = DecisionRequest.model_validate(json_body.loads(body))
    except (ValueError, ValidationError, RecursionError):  # the app says what is wrong
        return None
    try:
        return await decide_body(scope["app"].state, request, _header(scope, b"authorization"))
    except HTTPException:
        return None  # 401 or 403: the app authenticates again and answers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _json_content(scope: Scope) -> bool:
    """Whether FastAPI reads this body as JSON; without a content type the app decides."""
    content_type = _header(scope, b"content-type")
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
