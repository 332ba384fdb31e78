"""The route class of the AuthZEN routes: a malformed request is a 400, as AuthZEN says.

The `/v1` routes answer 422 to a body that does not validate; AuthZEN's HTTPS
binding (and its conformance suite) wants 400 Bad Request for a missing or
mistyped member, malformed JSON, an empty body or another content type. The
body of the answer is the usual `{"detail": [{field, message, type}]}`. Errors
about the caller (401, 403) and the body size (413) are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.api.errors import FieldError, validation_detail
from service.api.json_body import JsonRoute


def bad_request(detail: Any) -> JSONResponse:
    """A 400 with `detail` naming what is wrong."""
    return JSONResponse({"detail": detail}, status_code=400)


class AuthzenRoute(JsonRoute):
    """`JsonRoute` (NUL, surrogate and duplicate-key checks) with AuthZEN's 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The JSON route's handler, its validation errors answered 400."""
        handler = super().get_route_handler()

        async def authzen(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return bad_request(validation_detail(exc))
            except FieldError as exc:
                return bad_request(
                    [{"field": exc.field, "message": exc.message, "type": "value_error"}]
                )
            except HTTPException as exc:
                if exc.status_code == 422:  # a refused JSON body (JsonRoute)
                    return bad_request(exc.detail)
                raise

        return authzen
