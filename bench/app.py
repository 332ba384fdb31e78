"""The server the benchmark runs: the real app plus one no-op route, the HTTP floor.

`POST /bench/noop` goes through the same uvicorn worker, middleware (request
id, body limit) and JSON body parsing as `POST /v1/decisions`, then answers a
fixed decision-sized body without deciding anything. What it costs is what the
web stack costs; the gap to a decision is the decision.
`GET /healthz` would skip the body read and parse, so it would flatter the floor.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.app import app_from_env


def bench_app() -> FastAPI:
    """`app_from_env()` plus `POST /bench/noop`."""
    app = app_from_env()

    @app.post("/bench/noop", include_in_schema=False)
    async def noop(body: dict[str, Any]) -> dict[str, Any]:
        return {"decision": "deny", "reasons": [], "errors": [], "cached": False}

    return app
