"""Public pages a subscriber meets from an email. No login, no cookie: the signed token is enough."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from mailer.web.deps import db_session
from subscribers import service, tokens
from subscribers.models import Subscriber

router = APIRouter()
DbSession = Annotated[Session, Depends(db_session)]


def _page(request: Request, name: str, lang: str, status_code: int = 200, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, f"{name}.html", {"lang": lang, **context}, status_code=status_code
    )


def _subscriber(session: Session, token: str) -> Subscriber | None:
    try:
        return session.get(Subscriber, tokens.read_token(tokens.UNSUBSCRIBE, token))
    except tokens.InvalidToken:
        return None


def _page_lang(sub: Subscriber) -> str:
    return "en" if sub.lang == "en" else "ko"  # a bilingual reader gets the Korean page, with English beside


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(token: str, request: Request, session: DbSession):
    """Shows a confirmation button and changes nothing: mail scanners prefetch links."""
    sub = _subscriber(session, token)
    if sub is None:
        return _page(request, "invalid_link", "ko", status_code=400)
    return _page(request, "unsubscribe", _page_lang(sub), done=False, token=token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, session: DbSession):
    """The button's target and the RFC 8058 one-click target: 200 (never a redirect), at once, every time."""
    sub = _subscriber(session, token)
    if sub is None:
        return _page(request, "invalid_link", "ko", status_code=400)
    service.unsubscribe(session, sub.id)
    return _page(request, "unsubscribe", _page_lang(sub), done=True, token=token)
