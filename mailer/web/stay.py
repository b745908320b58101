"""The "still want this?" answer: the link in the sunset rule's mail (subscribers.sunset).

The link is signed (a token of its own purpose) and is the credential. GET and HEAD only show one button:
mail scanners fetch every link, and an answer they gave would keep mailing someone who stopped reading.
The button's POST (with a CSRF token bound to the reader) says yes: an asked reader is asked no more,
a paused one is mailed again from the next issue, and a history row says when, how and from where.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from mailer.web import csrf
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
from mailer.web.public import _from_link, _invalid_link, _ip, _page, _page_lang, _preferences_url
from subscribers import sunset, tokens
from subscribers.models import Status, Subscriber

router = APIRouter()


def _stay_page(
    request: Request,
    sub: Subscriber,
    token: str,
    *,
    done: bool = False,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    if sub.status == Status.PAUSED or (sub.status == Status.ACTIVE and sub.asked_at is not None):
        state = "ask"  # a question stands: the button answers it
    else:
        state = "active" if sub.status == Status.ACTIVE else "not_mailed"
    return _page(
        request,
        "stay",
        _page_lang(request),
        status_code,
        token=token,
        state=state,
        paused=sub.status == Status.PAUSED,
        done=done,
        error=error,
        preferences_url=_preferences_url(request, sub.id),
        csrf_token=csrf.issue(settings_of(request), csrf.PREFERENCES, str(sub.id)),
    )


@router.get("/stay/{token}", response_class=HTMLResponse)
@router.head("/stay/{token}", response_class=HTMLResponse)
def stay_form(token: str, request: Request, session: DbSession):
    """One button, or what stands when there is no question; changes nothing."""
    found = _from_link(request, session, tokens.STAY, token)
    if found is None:
        return _invalid_link(request)
    return _stay_page(request, found[0], token)


@router.post("/stay/{token}", response_class=HTMLResponse)
def stay(
    token: str,
    request: Request,
    session: DbSession,
    csrf_token: Annotated[str, Form(max_length=512)] = "",
):
    """The button. Pressing it again changes nothing; an unsubscribed or suppressed reader stays so
    (the preferences page is their way back)."""
    found = _from_link(request, session, tokens.STAY, token)
    if found is None:
        return _invalid_link(request)
    sub, _ = found
    if not csrf.verify(settings_of(request), csrf_token, csrf.PREFERENCES, str(sub.id)):
        t = texts(_page_lang(request))
        return _stay_page(
            request,
            sub,
            token,
            status_code=400,
            error=t._("The form expired. Please submit it once more."),
        )
    sunset.come_back(session, sub.id, source=sunset.STAY_SOURCE, ip=_ip(request))
    session.commit()
    return _stay_page(request, sub, token, done=True)
