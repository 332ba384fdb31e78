"""Errors → HTTP, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.api.limits import FieldError
from service.store.errors import Conflict, NotFound


def _field(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may hold a token.
    detail = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _field_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldError)
    detail = [{"field": exc.field, "message": exc.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, field and store errors to 422, 404 and 409."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(FieldError, _field_error)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
