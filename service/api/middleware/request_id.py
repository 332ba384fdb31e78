"""X-Request-ID: taken from the caller when well-formed, else made; echoed; in every log line."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.request_context import current_request_id

HEADER = b"x-request-id"
_SAFE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


class RequestId:
    """ASGI middleware: set the request id for the request's logs and answer with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pick or make the id, expose it to logs, echo it on the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == HEADER), b"")
        request_id = given if _SAFE.fullmatch(given) else uuid.uuid4().hex.encode()
        token = current_request_id.set(request_id.decode())

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, with_header)
        finally:
            current_request_id.reset(token)
