"""The desk's subscriber pages, for admins: search with filters and pages, one subscriber's history and the
changes an admin may make (each after a confirmation step), the bounce and complaint list, CSV import and
export."""

from __future__ import annotations

import re
from math import ceil

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from mailer.db import utcnow
from mailer.langs import EDITIONS
from mailer.web import language
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentAdmin, DbSession, FormField, back, page, page_lang
from mailer.web.admin.texts import TEXTS

router = APIRouter(prefix="/admin")

PER_PAGE = 50
SHOWN_BAD_ROWS = 200  # an import's bad rows listed on the page; the count covers them all
SUB_ACTIONS = ("lang", "unsubscribe", "resubscribe", "erase")


def _list(request: Request, session, editor, status_code: int = 200, **extra) -> HTMLResponse:
    """The list, filtered by ?q=&status=&lang= and paged by ?page= (1 to the last page, else a 400)."""
    from subscribers.service import FILTER_STATUSES, search_page

    t = TEXTS[page_lang(request)]
    params = request.query_params
    q, status, lang = params.get("q", "")[:320], params.get("status", ""), params.get("lang", "")
    filters = {"q": q, "status": status, "lang": lang}
    if (status and status not in FILTER_STATUSES) or (lang and lang not in EDITIONS):
        return page(
            request,
            "subscribers",
            400,
            editor=editor,
            rows=[],
            total=0,
            pages=1,
            current=1,
            error=t["bad_filter"],
            filters=filters,
            statuses=FILTER_STATUSES,
            **extra,
        )
    raw = params.get("page", "1")
    current = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    rows, total = search_page(
        session,
        q,
        status=status or None,
        lang=lang or None,
        page=max(current, 1),
        per_page=PER_PAGE,
    )
    pages = max(1, ceil(total / PER_PAGE))
    if not 1 <= current <= pages:
        return page(
            request,
            "subscribers",
            400,
            editor=editor,
            rows=[],
            total=total,
            pages=pages,
            current=1,
            error=t["bad_page"].format(pages=pages),
            filters=filters,
            statuses=FILTER_STATUSES,
            **extra,
        )
    return page(
        request,
        "subscribers",
        status_code,
        editor=editor,
        rows=rows,
        total=total,
        pages=pages,
        current=current,
        filters=filters,
        statuses=FILTER_STATUSES,
        **extra,
    )


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(request: Request, session: DbSession, editor: CurrentAdmin):
    return _list(request, session, editor, notice=request.query_params.get("n"))


_BAD_ROW_REASONS = (  # what the CSV reader says about a row, and the text key that says it in the page's language
    (re.compile(r"email is empty$"), "bad_email_empty"),
    (re.compile(r"lang must be one of .*, not (?P<value>.*)$"), "bad_lang"),
    (re.compile(r"status must be one of .*, not (?P<value>.*)$"), "bad_status"),
    (re.compile(r"created_at (?P<value>.*) is not an ISO 8601 date$"), "bad_created_at"),
)


def bad_row_reason(reason: str, lang: str) -> str:
    from subscribers.csv_import import STATUSES

    for pattern, key in _BAD_ROW_REASONS:
        found = pattern.match(reason)
        if found:
            return TEXTS[lang][key].format(statuses=", ".join(STATUSES), **found.groupdict())
    return TEXTS[lang]["bad_email"]  # the address check's reasons: not an address


@router.post("/subscribers/import")
async def subscribers_import(request: Request, session: DbSession, editor: CurrentAdmin):
    from subscribers.csv_import import CountedBytes, import_rows, read_rows, text_of

    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    upload = form.get("file")
    lang = page_lang(request)
    t = TEXTS[lang]
    if not hasattr(upload, "file"):  # a form field, not an uploaded file
        return _list(request, session, editor, 400, error=t["import_no_file"])
    bad_rows: list[tuple[int, str]] = []

    def on_bad_row(bad) -> None:
        if len(bad_rows) < SHOWN_BAD_ROWS:
            bad_rows.append((bad.line, bad_row_reason(bad.reason, lang)))

    try:  # import_rows commits chunk by chunk, like the CLI
        report = import_rows(
            session,
            read_rows(text_of(CountedBytes(upload.file))),
            now=utcnow(),
            on_bad_row=on_bad_row,
        )
    except (
        ValueError,
        UnicodeDecodeError,
    ):  # a bad header, a subscriber error, or a file that is not UTF-8
        session.rollback()
        return _list(request, session, editor, 400, error=t["import_unreadable"])
    summary = t["imported"].format(
        rows=report.rows,
        added=report.added,
        existing=report.existing,
        suppressed=report.suppressed,
        bad=report.bad,
    )
    return _list(request, session, editor, report=summary, bad_rows=bad_rows, bad_total=report.bad)


def _export_stream(runtime, status: str | None):
    from subscribers.csv_export import csv_lines

    with runtime.session() as session:
        yield from csv_lines(session, status=status)


@router.get("/subscribers/export.csv")
def subscribers_export(
    request: Request, session: DbSession, editor: CurrentAdmin, status: str | None = None
):
    """Streamed a page of rows at a time, as `mailer subscribers export` writes it: a large list is never
    held in memory. From a session of the stream's own: the request's (the login check) is closed here,
    not held open for the whole download."""
    session.close()
    return StreamingResponse(
        _export_stream(request.app.state.runtime, status or None),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- one subscriber ---------------------------------------------------------------------------


def allowed_actions(sub) -> tuple[str, ...]:
    """What an admin may change: a bounce or complaint is a suppression nobody silently undoes, and only
    someone who unsubscribed may be resubscribed (a pending address has not confirmed it is theirs)."""
    from subscribers.models import SUPPRESSED, Status

    actions = ["lang"]
    if sub.status in (Status.ACTIVE, Status.PENDING):
        actions.append("unsubscribe")
    if sub.status == Status.UNSUBSCRIBED and sub.status not in SUPPRESSED:
        actions.append("resubscribe")
    actions.append("erase")
    return tuple(actions)


def detail_text(detail: str | None, lang: str) -> str:
    """A history row's detail ("active -> unsubscribed", "pending, lang ko") with its statuses and languages
    in the page's language."""
    t = TEXTS[lang]

    def word(match: re.Match) -> str:
        w = match.group(0)
        return t.get(f"sub_{w}") or t.get(f"lang_{w}") or (t["lang"] if w == "lang" else w)

    return re.sub(r"[a-z]+", word, detail or "")


def _subscriber_page(
    request: Request, session, editor, subscriber_id: int, status_code: int = 200, **extra
):
    from mailer.events.privacy import deliveries_of, events_of
    from subscribers.service import get, history

    sub = get(session, subscriber_id)
    if sub is None:
        return page(
            request, "refused", 404, editor=editor, error=TEXTS[page_lang(request)]["no_subscriber"]
        )
    return page(
        request,
        "subscriber",
        status_code,
        editor=editor,
        sub=sub,
        history=history(session, sub.id),
        deliveries=deliveries_of(session, sub.id),
        events=events_of(session, sub.email),
        actions=allowed_actions(sub),
        editions=EDITIONS,
        detail=lambda d: detail_text(d, page_lang(request)),
        **extra,
    )


@router.get("/subscribers/{subscriber_id:issue_number}", response_class=HTMLResponse)
def subscriber_page(subscriber_id: int, request: Request, session: DbSession, editor: CurrentAdmin):
    return _subscriber_page(
        request, session, editor, subscriber_id, notice=request.query_params.get("n")
    )


@router.post("/subscribers/{subscriber_id:issue_number}/change")
def change_subscriber(
    subscriber_id: int,
    request: Request,
    session: DbSession,
    editor: CurrentAdmin,
    action: FormField = "",
    lang: FormField = "",
    confirm: FormField = "",
    csrf_token: FormField = "",
):
    """Language, unsubscribe, resubscribe, erase: a first post asks, a second (confirm=yes) does it."""
    from mailer.events import privacy
    from subscribers import service

    check_csrf(request, csrf_token)
    t = TEXTS[page_lang(request)]
    sub = service.get(session, subscriber_id)
    if sub is None:
        return page(request, "refused", 404, editor=editor, error=t["no_subscriber"])
    if action not in allowed_actions(sub) or (action == "lang" and lang not in EDITIONS):
        return _subscriber_page(
            request, session, editor, subscriber_id, 409, error=t["sub_not_allowed"]
        )
    if confirm != "yes":
        return page(
            request,
            "subscriber_confirm",
            editor=editor,
            sub=sub,
            action=action,
            new_lang=lang,
            switch_url=f"/admin/subscribers/{subscriber_id}?lang={language.other(page_lang(request))}",
        )
    ip = request.client.host if request.client else None
    if action == "erase":
        privacy.erase(session, sub.email)
        session.commit()
        return back("/admin/subscribers", n="erased")
    try:
        if action == "lang":
            service.set_lang(session, sub, lang, source="desk", ip=ip)
        elif action == "unsubscribe":
            service.unsubscribe(session, sub.id, source="desk", ip=ip)
        else:
            service.resubscribe(session, sub, source="desk", ip=ip)
    except service.SubscriberError:
        session.rollback()
        return _subscriber_page(
            request, session, editor, subscriber_id, 409, error=t["sub_not_allowed"]
        )
    session.commit()
    return back(f"/admin/subscribers/{subscriber_id}", n="saved")
