"""The newsletter's home (`/`) and the page every unknown public address gets, in the reader's language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.routing import Router, get_route_path

from mailer.web import archive, page, public
from mailer.web.deps import DbSession

router = APIRouter()
# Machines' addresses, and the desk's: an unknown path under them keeps the JSON 404 they always had.
MACHINE_PATHS = ("/admin", "/webhooks", "/metrics", "/healthz", "/readyz")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession):
    """What the newsletter is, its sign-up form, the latest issue and the way to the archive."""
    lang = page.page_lang(request)
    latest = archive.listing(session, lang, latest=True)
    return public.subscribe_form_page(request, lang, name="home", issues=latest)


def _for_machines(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in MACHINE_PATHS)


def not_found(router: Router):
    """The router's fallback: an HTML page in the reader's language, or the JSON 404 for machines."""

    async def answer(scope, receive, send) -> None:
        if scope["type"] != "http" or _for_machines(get_route_path(scope)):
            return await router.not_found(scope, receive, send)
        response = page.render(Request(scope, receive), "not_found", 404)
        await response(scope, receive, send)

    return answer
