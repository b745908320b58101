"""GET /metrics in Prometheus' text format."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mailer.ops.metrics import registry

router = APIRouter()


@router.get("/metrics")
async def metrics() -> Response:
    body = await run_in_threadpool(generate_latest, registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST)
