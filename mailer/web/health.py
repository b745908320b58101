"""/healthz: the process answers. /readyz: the database (and broker, when configured) answer too."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from mailer.config import get_settings
from mailer.redis_client import client, is_redis

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks = {}
    try:
        with request.app.state.runtime.sessions.kw["bind"].connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which kind, not the URL
        checks["database"] = f"error: {type(exc).__name__}"
    broker = get_settings().broker_url
    if is_redis(broker):
        try:
            client(broker).ping()
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503
    )
