"""Public pages a subscriber meets: sign-up, confirmation, unsubscribe and the preference centre.

No login: a signed token in the link is the credential. The cookies are the sign-up form's
pre-session (mailer.web.csrf) and the reader's page language (mailer.web.page); confirming,
unsubscribing and the preference centre need neither.
Every change is committed before the page answers, so a page that says "done" is never followed by
a lost change.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import utcnow
from mailer.issues.next_issue import next_issue
from mailer.langs import EDITIONS
from mailer.mail import transactional
from mailer.mail.models import MailKind
from mailer.web import csrf, page, signup
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
from subscribers import one_click, service, sunset, tokens
from subscribers.emails import InvalidEmail, normalize
from subscribers.models import SUPPRESSED, Status, Subscriber

router = APIRouter()
FormField = Annotated[str, Form()]


def _page(
    request: Request, name: str, lang: str, status_code: int = 200, **context
) -> HTMLResponse:
    return page.render(request, name, status_code, lang=lang, **context)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _page_lang(request: Request) -> str:
    """The reader's page language; the edition they receive never chooses it."""
    return page.page_lang(request)


def _invalid_link(request: Request) -> HTMLResponse:
    return _page(request, "invalid_link", _page_lang(request), status_code=400)


def _from_link(
    request: Request, session: Session, purpose: str, token: str
) -> tuple[Subscriber, tokens.Claim] | None:
    try:
        return service.from_token(session, purpose, token, settings_of(request))
    except tokens.InvalidToken:
        return None


def _preferences_url(request: Request, subscriber_id: int) -> str:
    token = tokens.make_token(tokens.PREFERENCES, subscriber_id, settings_of(request))
    return f"/preferences/{token}"


def _way_back(request: Request, token: str) -> str | None:
    """The unsubscribe page's link to the preference centre: the same token when it opens that page too
    (a digest's LINKS token), else none. An unsubscribe-only token is never traded for a wider one."""
    try:
        tokens.read(tokens.PREFERENCES, token, settings_of(request))
    except tokens.InvalidToken:
        return None
    return f"/preferences/{token}"


# --- subscribe --------------------------------------------------------------------------------


def subscribe_form_page(
    request: Request,
    lang: str,
    *,
    name: str = "subscribe",
    status_code: int = 200,
    error: str | None = None,
    email: str = "",
    chosen: str | None = None,
    **extra,
) -> HTMLResponse:
    """A page with the sign-up form (the form itself, the home page, or "check your inbox" with its
    resend button: the same sign-up again, under the same limits and with the same answer)."""
    settings = settings_of(request)
    pre_session = csrf.pre_session_cookie(request)
    response = _page(
        request,
        name,
        lang,
        status_code,
        error=error,
        email=email,
        chosen=chosen if chosen in EDITIONS else lang,
        csrf_token=csrf.issue_bound(settings, csrf.SUBSCRIBE, pre_session),
        **extra,
    )
    csrf.set_pre_session_cookie(response, pre_session, settings)
    return response


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request):
    return subscribe_form_page(request, _page_lang(request))


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(
    request: Request,
    background: BackgroundTasks,
    email: FormField = "",
    lang: FormField = "",
    csrf_token: FormField = "",
):
    """Answers alike for a new, pending, active, unsubscribed or suppressed address: no enumeration.

    Async, with the work in one thread-pool call, so that waiting out MAILER_SIGNUP_ANSWER_SECONDS
    holds no thread: every valid sign-up is answered that long after it arrived, whoever it names.
    """
    arrived = time.monotonic()
    page_lang = _page_lang(request)
    t = texts(page_lang)
    settings = settings_of(request)
    limited = await signup.client_limited(request)
    if not limited.allowed:
        return signup.rate_limited_page(request, page_lang, limited)
    email = email.strip()
    if not csrf.verify_bound(settings, csrf_token, csrf.SUBSCRIBE, csrf.pre_session_of(request)):
        return subscribe_form_page(
            request,
            page_lang,
            status_code=400,
            error=t._("The form expired. Please submit it once more."),
            email=email,
            chosen=lang,
        )
    if lang not in EDITIONS:
        return subscribe_form_page(
            request, page_lang, status_code=400, error=t._("Please choose a language."), email=email
        )
    try:
        address = normalize(email)
    except InvalidEmail:
        return subscribe_form_page(
            request,
            page_lang,
            status_code=400,
            error=t._("Please enter a valid email address."),
            email=email,
            chosen=lang,
        )
    await signup.sign_up(request, background, address, lang, arrived)
    return subscribe_form_page(
        request,
        page_lang,
        name="subscribe_sent",
        email=email,
        chosen=lang,
        days=tokens.CONFIRM_MAX_AGE_DAYS,
    )


def _confirmed_page(request: Request, session: Session, sub: Subscriber) -> HTMLResponse:
    lang = _page_lang(request)
    when, _ = next_issue(session, settings_of(request), sub.lang, utcnow())
    return _page(
        request,
        "confirmed",
        lang,
        subscriber_lang=sub.lang,
        next_issue=page.say_when(when, lang),
        preferences_url=_preferences_url(request, sub.id),
    )


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_form(token: str, request: Request, session: DbSession):
    """The double opt-in link from the confirmation mail shows a button and changes nothing: mail
    scanners prefetch links, and a sign-up they confirmed would prove nobody read the mail."""
    found = _from_link(request, session, tokens.CONFIRM, token)
    if found is None:
        return _invalid_link(request)
    sub, claim = found
    if sub.status == Status.ACTIVE:
        return _confirmed_page(request, session, sub)
    try:
        # no button that could only answer "not valid"
        service.check_confirmable(session, sub, claim)
    except (tokens.InvalidToken, service.NotAllowed):
        return _invalid_link(request)
    return _page(request, "confirm", _page_lang(request), token=token)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(token: str, request: Request, session: DbSession, background: BackgroundTasks):
    """The button on the confirmation page. Pressing it again changes nothing."""
    found = _from_link(request, session, tokens.CONFIRM, token)
    if found is None:
        return _invalid_link(request)
    sub, claim = found
    first = sub.status != Status.ACTIVE  # a second press confirms nothing and welcomes nobody
    rejoining = first and service.bounced_hard(session, sub)
    try:
        service.confirm(session, sub, claim, ip=_ip(request))
    except (tokens.InvalidToken, service.NotAllowed):
        session.rollback()
        return _invalid_link(request)
    # Written with the confirmation, so that an outage cannot lose them; queued after the commit. A
    # reader back after a hard bounce: SendGrid forgets the bounce first, or it would drop every digest.
    kinds = [MailKind.FORGET_BOUNCE] * rejoining + [MailKind.WELCOME] * first
    mails = [transactional.record(session, sub.id, sub.lang, kind=kind) for kind in kinds]
    session.commit()
    if mails:
        background.add_task(request.app.state.runtime.tasks.send_mails, mails)
    return _confirmed_page(request, session, sub)


# --- unsubscribe ------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(token: str, request: Request, session: DbSession):
    """Shows a confirmation button and changes nothing: mail scanners prefetch links."""
    found = _from_link(request, session, tokens.UNSUBSCRIBE, token)
    if found is None:
        return _invalid_link(request)
    sub, _ = found
    # Someone already not mailed sees that, with the way back, instead of a button that does nothing.
    done = sub.status not in (Status.ACTIVE, Status.PENDING, Status.PAUSED)
    return _page(
        request,
        "unsubscribe",
        _page_lang(request),
        done=done,
        token=token,
        preferences_url=_way_back(request, token),
    )


ONE_CLICK_BODY_MAX = 64 * 1024


async def _is_one_click(request: Request) -> bool:
    """Whether the body says `List-Unsubscribe=One-Click`. Read raw, not parsed as a form: whatever a
    mailbox provider sends (urlencoded, multipart, a broken boundary, nothing), the POST still works."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > ONE_CLICK_BODY_MAX:
            break
    return b"List-Unsubscribe" in body and b"One-Click" in body


def _unsubscribe_committed(
    sessions, token: str, settings: Settings, source: str, ip: str | None
) -> tuple[int, str] | None:
    """The change and its history, committed together: (subscriber id, lang), or None for a bad link."""
    try:
        return one_click.unsubscribe_by_link_committed(
            sessions, token, settings, source=source, ip=ip
        )
    except tokens.InvalidToken:
        return None


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(
    token: str, request: Request, one_click: Annotated[bool, Depends(_is_one_click)]
):
    """The button's target and the RFC 8058 one-click target: 200 (never a redirect), at once, every time.

    No CSRF token, cookie or auth: a mailbox provider posts `List-Unsubscribe=One-Click` and nothing else.
    Async, with the database work in one thread-pool call: as a sync route with a session dependency it
    took three thread hops a request (the dependency's start and end, and the route), and this route takes
    the wave of one-click posts that follows every digest.
    """
    done = await run_in_threadpool(
        _unsubscribe_committed,
        request.app.state.runtime.sessions,
        token,
        settings_of(request),
        "one-click" if one_click else "web",
        _ip(request),
    )
    if done is None:
        return _invalid_link(request)
    return _page(
        request,
        "unsubscribe",
        _page_lang(request),
        done=True,
        token=token,
        preferences_url=_way_back(request, token),
    )


# --- preference centre ------------------------------------------------------------------------


def _preferences_page(
    request: Request,
    sub: Subscriber,
    token: str,
    *,
    status_code: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "preferences",
        _page_lang(request),
        status_code,
        token=token,
        email=sub.email,
        subscriber_lang=sub.lang,
        status="suppressed" if sub.status in SUPPRESSED else sub.status,
        confirmed=sub.confirmed_at is not None,
        notice=notice,
        error=error,
        csrf_token=csrf.issue(settings_of(request), csrf.PREFERENCES, str(sub.id)),
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_form(token: str, request: Request, session: DbSession):
    found = _from_link(request, session, tokens.PREFERENCES, token)
    if found is None:
        return _invalid_link(request)
    return _preferences_page(request, found[0], token)


@router.post("/preferences/{token}", response_class=HTMLResponse)
def preferences(
    token: str,
    request: Request,
    session: DbSession,
    action: FormField = "",
    lang: FormField = "",
    csrf_token: FormField = "",
):
    """Change language, unsubscribe or resubscribe. A bad request changes nothing and says why."""
    found = _from_link(request, session, tokens.PREFERENCES, token)
    if found is None:
        return _invalid_link(request)
    sub, _ = found
    t = texts(_page_lang(request))
    if not csrf.verify(settings_of(request), csrf_token, csrf.PREFERENCES, str(sub.id)):
        return _preferences_page(
            request,
            sub,
            token,
            status_code=400,
            error=t._("The form expired. Please submit it once more."),
        )
    ip = _ip(request)
    try:
        if action == "lang":
            service.set_lang(session, sub, lang, source="preferences", ip=ip)
        elif action == "unsubscribe":
            service.unsubscribe(session, sub.id, source="preferences", ip=ip)
        elif action == "resubscribe":
            service.resubscribe(session, sub, source="preferences", ip=ip)
        elif action == "resume":  # paused for not reading (subscribers.sunset): one click back
            sunset.come_back(session, sub.id, source="preferences", ip=ip)
        else:
            return _preferences_page(
                request,
                sub,
                token,
                status_code=400,
                error=t._("We could not do that. Please try again."),
            )
    except service.NotAllowed as exc:
        session.rollback()
        if exc.code == "unconfirmed":  # the page itself says how to confirm, when that can be done
            return _preferences_page(
                request,
                sub,
                token,
                status_code=409,
                error=t._("We could not do that. Please try again."),
            )
        return _preferences_page(
            request,
            sub,
            token,
            status_code=409,
            error=t._(
                "Mail to this address bounced or was reported as spam, so it cannot be subscribed again."
            ),
        )
    except service.SubscriberError:
        session.rollback()
        return _preferences_page(
            request, sub, token, status_code=400, error=t._("Please choose a language.")
        )
    session.commit()
    return _preferences_page(request, sub, token, notice=t.label("saved", action))
