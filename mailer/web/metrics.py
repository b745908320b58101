"""GET /metrics in Prometheus' text format. With MAILER_METRICS_TOKEN set a scrape must send
`Authorization: Bearer <token>`; production refuses to start without one (mailer.config), so /metrics
is open only while developing and in tests."""

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mailer.ops.metrics import registry
from mailer.web.deps import settings_of

router = APIRouter()


def _authorized(request: Request) -> bool:
    token = settings_of(request).metrics_token.get_secret_value()
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    if not _authorized(request):
        return Response(
            "a bearer token is required\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = await run_in_threadpool(generate_latest, registry(request.app.state.runtime))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
