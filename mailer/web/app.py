"""The web app factory (`mailer serve`)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.routing import Match, Router, get_route_path

from mailer import __version__, templates_dir
from mailer.kv import Fallback
from mailer.runtime import Runtime
from mailer.web import i18n

# Pages load nothing from elsewhere and run no script; forms post only here; nobody may frame us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def security_headers(content_type: str, https: bool) -> list[tuple[str, str]]:
    """The headers every answer carries (a route's own value of one wins)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),  # tokens live in our URLs
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    if content_type.startswith("text/html"):
        headers.append(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        # A page behind a token is nobody else's: no shared cache may keep it.
        headers.append(("Cache-Control", "no-store"))
    return headers


class SecurityHeaders:
    """Plain ASGI rather than @app.middleware("http"): that one runs each request through a task group and
    memory streams, which cost more CPU than the one-click route's own work."""

    def __init__(self, app, https: bool):
        self.app, self.https = app, https

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(headers.get("content-type", ""), self.https):
                    headers.setdefault(name, value)
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class SlashRedirect:
    """Starlette's redirect_slashes, with a Location that is a path and never a URL: Starlette builds its
    URL from the request's Host header, so a forged Host made us redirect to another site. Installed as
    the router's default (what runs when no route matches), in place of the 404 it falls back to."""

    def __init__(self, router: Router, fallback=None):
        self.router = router
        self.fallback = fallback or router.not_found

    async def __call__(self, scope, receive, send):
        path = scope["path"]
        if scope["type"] == "http" and get_route_path(scope) != "/":
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            # "//host" in a Location is another site: such a path is nobody's page here anyway
            if other.startswith("/") and not other.startswith("//"):
                redirect_scope = {**scope, "path": other}
                if any(r.matches(redirect_scope)[0] is not Match.NONE for r in self.router.routes):
                    query = scope.get("query_string", b"").decode("latin-1")
                    location = quote(other) + ("?" + query if query else "")
                    return await RedirectResponse(location)(scope, receive, send)
        return await self.fallback(scope, receive, send)


def _lifespan(threads: int):
    @asynccontextmanager
    async def lifespan(_app):
        import anyio.to_thread

        # Sync routes share anyio's thread limiter (40 by default). With more threads than pooled database
        # connections, PostgreSQL requests past the pool each opened and closed a connection of their own
        # (a server process forked per request); waiting for a thread is cheaper.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def create_app(runtime: Runtime) -> FastAPI:
    """The app on `runtime`'s services: routes reach it as app.state.runtime (mailer.web.deps)."""
    from mailer.web import (
        archive,
        bodylimit,
        challenge,
        edition_switch,
        embed,
        health,
        home,
        metrics,
        public,
        ratelimit,
        stay,
        webhooks,
    )
    from mailer.web.admin import (
        account_pages,
        approval_pages,
        bounce_pages,
        embed_pages,
        feed_pages,
        import_pages,
        issue_pages,
        login,
        mail_pages,
        note_pages,
        preview_pages,
        progress_pages,
        report_pages,
        schedule_pages,
        send_pages,
        story_pages,
        stylesheet,
        subscriber_pages,
        throttle,
        times,
        two_factor_pages,
    )
    from mailer.web.admin import auth as admin_auth
    from mailer.web.admin.pages import admin_only, number

    settings = runtime.settings
    # No schema at a public address: it lists every admin route. /admin/openapi.json serves it to editors.
    app = FastAPI(
        title="Bilingual newsletter mailer",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan(settings.database_pool_size),
        redirect_slashes=False,
    )
    app.router.default = SlashRedirect(app.router, home.not_found(app.router))
    app.state.runtime = runtime
    # Templates ship with the package: no stat() of each template on every render, except while developing.
    app.state.templates = Jinja2Templates(directory=str(templates_dir() / "web"))
    app.state.templates.env.auto_reload = settings.env == "development"
    app.state.templates.env.filters["num"] = number  # 1445 -> 1,445 on every page
    i18n.install(app.state.templates.env)  # _() and ngettext() in the page's language
    # every time in the desk's zone, a send time in the zone it was chosen in, named in the page's language
    times.install(app.state.templates.env, settings.desk_zone)
    app.state.stylesheet = stylesheet.install(
        app.state.templates.env, reload=settings.env == "development"
    )
    app.state.rate_limiter = ratelimit.Limiter(runtime.kv)
    app.state.login_throttle = throttle.LoginThrottle(settings, runtime.kv)
    app.state.proof_counts = Fallback(runtime.kv)  # each desk account's proofs this hour
    app.state.spent_challenges = Fallback(runtime.kv)  # the embedded form's challenges, used once
    app.state.challenge_difficulty = challenge.DIFFICULTY
    app.include_router(health.router)
    app.include_router(public.router)
    app.include_router(embed.router)
    app.include_router(edition_switch.router)
    app.include_router(stay.router)
    app.include_router(home.router)
    app.include_router(webhooks.router)
    app.include_router(metrics.router)
    app.include_router(archive.router)
    for desk in (
        stylesheet,
        login,
        issue_pages,
        story_pages,
        note_pages,
        schedule_pages,
        approval_pages,
        send_pages,
        subscriber_pages,
        import_pages,
        feed_pages,
        account_pages,
        progress_pages,
        report_pages,
        bounce_pages,
        preview_pages,
        mail_pages,
        embed_pages,
        two_factor_pages,
    ):
        app.include_router(desk.router)
    # Starlette types a handler as taking any Exception; it calls each only with its own class.
    app.add_exception_handler(admin_auth.LoginRequired, admin_auth.login_redirect)  # type: ignore[arg-type]
    app.add_exception_handler(admin_auth.AdminOnly, admin_only)  # type: ignore[arg-type]
    app.add_exception_handler(admin_auth.EnrolmentRequired, admin_auth.enrolment_redirect)  # type: ignore[arg-type]
    # Inside SecurityHeaders, so that its 413 carries the headers too.
    app.add_middleware(bodylimit.PublicBodyLimit)
    app.add_middleware(SecurityHeaders, https=settings.public_url.startswith("https://"))
    if settings.signup_origin_list:  # outermost: a preflight, a 413 and a 429 answer CORS alike
        app.add_middleware(embed.SignupCors, origins=settings.signup_origin_list)
    return app
