"""/healthz: the process answers. /readyz: the database (and broker, when configured) answer too
(mailer.ops.readiness, which /metrics exports as mailer_ready)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mailer.ops import readiness
from mailer.web.deps import get_runtime

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks = readiness.checks(get_runtime(request))
    ready = readiness.ready(checks)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503
    )
