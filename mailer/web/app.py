"""The web app factory (`mailer serve`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mailer import __version__, templates_dir


def create_app() -> FastAPI:
    from mailer.web import health, public, webhooks

    app = FastAPI(title="Bilingual newsletter mailer", version=__version__, docs_url=None, redoc_url=None)
    app.state.templates = Jinja2Templates(directory=str(templates_dir() / "web"))
    app.include_router(health.router)
    app.include_router(public.router)
    app.include_router(webhooks.router)

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")  # tokens live in our URLs
        response.headers.setdefault("X-Frame-Options", "DENY")
        if isinstance(response, HTMLResponse) or response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
        return response

    return app
