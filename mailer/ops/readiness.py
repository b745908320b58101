"""What "ready" means, for /readyz and for /metrics (mailer_ready, mailer_dependency_up): the database
answers, and so does the broker when one is configured. Each check says which kind of error it met,
never the URL (which may carry a password)."""

from __future__ import annotations

from sqlalchemy import text

from mailer.redis_client import client, is_redis
from mailer.runtime import Runtime

OK = "ok"


def checks(runtime: Runtime) -> dict[str, str]:
    """{"database": "ok" | "error: <kind>", "broker": ...}; no broker entry when tasks run in-process."""
    found = {}
    try:
        with runtime.session() as session:
            session.execute(text("SELECT 1"))
        found["database"] = OK
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which kind, not the URL
        found["database"] = f"error: {type(exc).__name__}"
    broker = runtime.settings.broker_url
    if is_redis(broker):
        try:
            client(broker).ping()
            found["broker"] = OK
        except Exception as exc:  # noqa: BLE001
            found["broker"] = f"error: {type(exc).__name__}"
    return found


def ready(found: dict[str, str]) -> bool:
    return all(v == OK for v in found.values())
