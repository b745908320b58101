"""The footer's one-click edition switch: every digest links to the reader's other editions.

The link is signed (a token of its own purpose) and is the credential, as the preference centre's is.
GET and HEAD only show the reader their edition and one button: mail scanners fetch every link, and a
switch they made would send someone the edition they never chose. The button's POST switches, with a
CSRF token bound to the reader, and the next issue goes out in the new edition (its ledger is written
from each reader's language when it starts).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from mailer.langs import EDITIONS
from mailer.web import csrf
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
from mailer.web.public import _from_link, _invalid_link, _ip, _page, _page_lang
from subscribers import service, tokens
from subscribers.models import Status, Subscriber

router = APIRouter()
SOURCE = "edition-link"  # the history row's source


def _switch_page(
    request: Request,
    sub: Subscriber,
    token: str,
    target: str,
    *,
    done: bool = False,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "edition_switch",
        _page_lang(request),
        status_code,
        token=token,
        current=sub.lang,
        target=target,
        active=sub.status == Status.ACTIVE,  # whether a next issue comes at all
        done=done,
        error=error,
        csrf_token=csrf.issue(settings_of(request), csrf.PREFERENCES, str(sub.id)),
    )


@router.get("/edition/{token}/{target}", response_class=HTMLResponse)
@router.head("/edition/{token}/{target}", response_class=HTMLResponse)
def switch_form(token: str, target: str, request: Request, session: DbSession):
    """Shows the edition the reader gets and a button for the one they chose; changes nothing."""
    found = _from_link(request, session, tokens.EDITION, token)
    if found is None or target not in EDITIONS:
        return _invalid_link(request)
    return _switch_page(request, found[0], token, target)


@router.post("/edition/{token}/{target}", response_class=HTMLResponse)
def switch(
    token: str,
    target: str,
    request: Request,
    session: DbSession,
    csrf_token: Annotated[str, Form()] = "",
):
    """The button: the reader's edition is the one chosen from the next issue on (a history row says
    when, how and from where). Pressing it again changes nothing."""
    found = _from_link(request, session, tokens.EDITION, token)
    if found is None or target not in EDITIONS:
        return _invalid_link(request)
    sub, _ = found
    if not csrf.verify(settings_of(request), csrf_token, csrf.PREFERENCES, str(sub.id)):
        t = texts(_page_lang(request))
        return _switch_page(
            request,
            sub,
            token,
            target,
            status_code=400,
            error=t._("The form expired. Please submit it once more."),
        )
    service.set_lang(session, sub, target, source=SOURCE, ip=_ip(request))
    session.commit()
    return _switch_page(request, sub, token, target, done=True)
