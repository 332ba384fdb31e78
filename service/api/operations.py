"""`/metrics`: Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.json_body import JsonRoute
from service.observability.metrics import Metrics
from service.runtime import runtime_of

router = APIRouter(tags=["operations"], route_class=JsonRoute)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process."""
    registry: Metrics = runtime_of(request.app).metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
