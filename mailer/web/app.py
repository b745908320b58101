"""The web app factory (`mailer serve`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from mailer import __version__, templates_dir
from mailer.config import get_settings

# Pages load nothing from elsewhere and run no script; forms post only here; nobody may frame us.
CONTENT_SECURITY_POLICY = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def create_app() -> FastAPI:
    from mailer.web import archive, health, metrics, public, ratelimit, webhooks
    from mailer.web.admin import auth as admin_auth
    from mailer.web.admin import routes as admin

    settings = get_settings()
    app = FastAPI(title="Bilingual newsletter mailer", version=__version__, docs_url=None, redoc_url=None)
    app.state.templates = Jinja2Templates(directory=str(templates_dir() / "web"))
    app.state.rate_limiter = ratelimit.from_settings(settings)
    app.include_router(health.router)
    app.include_router(public.router)
    app.include_router(webhooks.router)
    app.include_router(metrics.router)
    app.include_router(archive.router)
    app.include_router(admin.router)
    app.add_exception_handler(admin_auth.LoginRequired, admin_auth.login_redirect)
    https = settings.public_url.startswith("https://")

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")  # tokens live in our URLs
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            # A page behind a token is nobody else's: no shared cache may keep it.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
