"""Errors → HTTP, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.store.errors import Conflict, NotFound


def _field(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may hold a token.
    detail = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # loc is (body, offset): say where
            offset = error.get("loc", ("body", "?"))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            detail.append(
                {"field": "body", "message": f"{reason} at byte {offset}", "type": "json_invalid"}
            )
            continue
        detail.append(
            {
                "field": _field(error.get("loc", ())),
                "message": error.get("msg", ""),
                "type": error.get("type"),
            }
        )
    return JSONResponse({"detail": detail}, status_code=422)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    """Map validation and store errors to 422, 404 and 409."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
