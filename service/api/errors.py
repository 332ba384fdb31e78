"""Errors → HTTP, in one place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError

from service.engine.errors import PolicyLoadError
from service.engine.tools import ToolDefinitionError
from service.store.errors import Conflict, Invalid, NotFound

log = logging.getLogger("mcp_pdp.api")


class FieldError(Exception):
    """A request field over a configured limit or of the wrong shape: answered 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _field(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_detail(exc)}, status_code=422)


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Each error as `{field, message, type}`; the offending input is not echoed (a token?)."""
    detail: list[dict[str, Any]] = []
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
    return detail


def _status(code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


async def _field_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldError)
    detail = [{"field": exc.field, "message": exc.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    # Two writers raced on the same row; the loser's transaction was rolled back.
    log.info("write conflict: %s", type(getattr(exc, "orig", exc)).__name__)
    return JSONResponse({"detail": "a concurrent change won; retry"}, status_code=409)


async def _database(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error: %s", type(getattr(exc, "orig", exc)).__name__)
    return JSONResponse({"detail": "the database is unavailable"}, status_code=503)


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, store, policy and database errors to 422, 404, 409 and 503."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(FieldError, _field_error)
    app.add_exception_handler(NotFound, _status(404))
    app.add_exception_handler(Conflict, _status(409))
    app.add_exception_handler(Invalid, _status(422))
    app.add_exception_handler(ToolDefinitionError, _status(422))
    app.add_exception_handler(PolicyLoadError, _status(422))
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _database)
