"""The desk's preview of the transactional mails a reader gets (the welcome mail, the "still want
this?" mail), rendered from the same templates and with the same data as the ones that go out, so an
edit to them shows here first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mailer.db import utcnow
from mailer.langs import EDITIONS
from mailer.mail.reengage import REENGAGE_EMAIL, reengage_context
from mailer.mail.transactional import NOBODY
from mailer.mail.welcome import WELCOME_EMAIL, welcome_context
from mailer.rendering.render import Rendered, render_email
from mailer.web.admin.pages import CurrentEditor, page, page_lang
from mailer.web.admin.preview_pages import PREVIEW_POLICY
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts

router = APIRouter(prefix="/admin/mails")
WELCOME_PATH = "/admin/mails/welcome"  # ?lang= names the edition here; the page's own is ?ui=
REENGAGE_PATH = "/admin/mails/reengage"
MAILS = (WELCOME_EMAIL, REENGAGE_EMAIL)


def _render(request: Request, session, name: str, lang: str) -> Rendered:
    # Nobody's links (the id no subscriber has): the preview must not carry a reader's tokens.
    settings = settings_of(request)
    if name == REENGAGE_EMAIL:
        return render_email(name, lang, reengage_context(NOBODY, lang, settings))
    return render_email(name, lang, welcome_context(session, NOBODY, lang, settings, utcnow()))


@router.get("/welcome", response_class=HTMLResponse)
def welcome(request: Request, session: DbSession, editor: CurrentEditor, lang: str = "ko"):
    """The welcome mail as a reader of the `lang` edition gets it, framed in a sandbox."""
    return _preview(request, session, WELCOME_EMAIL, lang)


@router.get("/reengage", response_class=HTMLResponse)
def reengage(request: Request, session: DbSession, editor: CurrentEditor, lang: str = "ko"):
    """The "still want this?" mail (subscribers.sunset) as a reader of the `lang` edition gets it."""
    return _preview(request, session, REENGAGE_EMAIL, lang)


def _preview(request: Request, session, name: str, lang: str) -> HTMLResponse:
    if lang not in EDITIONS:
        t = texts(page_lang(request))
        return page(
            request,
            "mail_preview",
            status_code=400,
            error=t._("There is no such edition. Choose Korean, English or both."),
            edition=None,
            editions=EDITIONS,
            mail=name,
        )
    settings = settings_of(request)
    return page(
        request,
        "mail_preview",
        edition=lang,
        editions=EDITIONS,
        mail=name,
        subject=_render(request, session, name, lang).subject,
        from_name=settings.from_name(lang),
        from_email=settings.from_email,
    )


@router.get("/{name}/{lang}/frame", response_class=HTMLResponse)
def mail_frame(name: str, lang: str, request: Request, session: DbSession, editor: CurrentEditor):
    if lang not in EDITIONS or name not in MAILS:
        return Response("no such edition", status_code=404)
    return HTMLResponse(
        _render(request, session, name, lang).html,
        headers={"Content-Security-Policy": PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"},
    )
