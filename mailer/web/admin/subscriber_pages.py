"""The desk's subscriber pages, for admins: search with filters and pages, one subscriber's history and the
changes an admin may make (each after a confirmation step), the bounce and complaint list, CSV export
(the import is import_pages)."""

from __future__ import annotations

from math import ceil

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select

from mailer.coded import decode
from mailer.langs import EDITIONS
from mailer.runtime import Runtime
from mailer.web import language
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentAdmin, FormField, back, page, page_lang
from mailer.web.deps import DbSession, get_runtime, settings_of
from mailer.web.i18n import texts
from subscribers import changes, import_jobs

router = APIRouter(prefix="/admin")

PER_PAGE = 50
# A subscriber's page shows their newest ledger rows and events only: a year of weekly issues, and the
# events of the last few (retention keeps no more); `mailer subscribers show --json` shows everything.
DELIVERIES_SHOWN = 52
EVENTS_SHOWN = 100


def upload_limit(request: Request) -> str:
    """MAILER_UPLOAD_MAX_BYTES, said in the page's language."""
    mib = settings_of(request).upload_max_bytes / (1024 * 1024)
    return texts(page_lang(request))._("%(mib)s MiB", mib=f"{mib:.3g}")


def suppression_rows(session, rows, lang: str) -> dict[int, dict]:
    """For the suppression list: each bounced or complained reader's reason (in the page's language),
    the provider's own words, the issue that suppressed them (its number) and when."""
    from mailer.issues.models import Issue
    from subscribers.lookup import suppression_facts

    facts = suppression_facts(session, rows)
    issue_ids = {i for c in facts.values() if (i := changes.issue_of(c.detail)) is not None}
    numbers: dict[int, int] = {}
    if issue_ids:
        found = session.execute(select(Issue.id, Issue.number).where(Issue.id.in_(issue_ids)))
        numbers = {issue_id: number for issue_id, number in found}
    t, shown = texts(lang), {}
    for sid, change in facts.items():
        coded = decode(change.detail)
        params = coded.params if coded else {}
        if coded and coded.code == changes.PROVIDER:
            kind = {"bounce": "hard", "spamreport": "complaint"}.get(
                str(params.get("event")), "dropped"
            )
            reason = t.label("bounce_kind", kind)
        else:
            reason = detail_text(change.detail, lang) or t.label("hist", change.action)
        shown[sid] = {
            "reason": reason,
            "words": str(params.get("reason", ""))
            if coded and coded.code == changes.PROVIDER
            else "",
            "issue": numbers.get(changes.issue_of(change.detail) or 0),
            "at": change.at,
        }
    return shown


def list_page(request: Request, session, editor, status_code: int = 200, **extra) -> HTMLResponse:
    """The list, filtered by ?q=&status=&lang= and paged by ?page= (1 to the last page, else a 400).
    A search that more than lookup.COUNTED addresses match is not counted further: the page says "more
    than" and numbers its pages without a last one."""
    from subscribers.lookup import COUNTED, FILTER_STATUSES, Found, find

    t = texts(page_lang(request))
    extra.setdefault("upload_max", upload_limit(request))
    extra.setdefault("imports", import_jobs.recent(session))
    extra.setdefault("import_mode", None)  # what the import form had chosen, when it is shown again
    extra.setdefault("import_consent", None)
    params = request.query_params
    q, status, lang = params.get("q", "")[:320], params.get("status", ""), params.get("lang", "")
    shown = {"filters": {"q": q, "status": status, "lang": lang}, "statuses": FILTER_STATUSES}

    def listed(code: int, found: Found, current: int, **more) -> HTMLResponse:
        return page(
            request,
            "subscribers",
            code,
            editor=editor,
            rows=found.rows,
            total=found.total,
            exact=found.exact,
            counted=COUNTED,
            pages=max(1, ceil(found.total / PER_PAGE)),
            current=current,
            more=found.more,
            **shown,
            **more,
            **extra,
        )

    if (status and status not in FILTER_STATUSES) or (lang and lang not in EDITIONS):
        error = t._("That status or language is not one the list knows.")
        return listed(400, Found([], 0), 1, error=error)
    raw = params.get("page", "1")
    current = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    cursor = {  # the next and previous links' place in the list (lookup.find)
        name: int(value)
        for name in ("after", "before")
        for value in [params.get(name, "")]
        if value.isdigit() and len(value) < 10
    }
    found = find(
        session,
        q,
        status=status or None,
        lang=lang or None,
        page=max(current, 1),
        per_page=PER_PAGE,
        **cursor,
    )
    pages = max(1, ceil(found.total / PER_PAGE))
    extra.setdefault("facts", suppression_rows(session, found.rows, page_lang(request)))
    if found.exact and not 1 <= current <= pages:
        error = t._("A page number is between 1 and %(pages)s.", pages=pages)
        return listed(400, Found([], found.total), 1, error=error)
    if not found.exact and (current < 1 or (current > 1 and not found.rows)):
        error = t._("This search has no such page.")
        return listed(400, Found([], found.total, exact=False), 1, error=error)
    return listed(status_code, found, current)


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(request: Request, session: DbSession, editor: CurrentAdmin):
    return list_page(request, session, editor, notice=request.query_params.get("n"))


def _export_stream(runtime: Runtime, status: str | None):
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
        _export_stream(get_runtime(request), status or None),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- one subscriber ---------------------------------------------------------------------------


def allowed_actions(sub, soft: bool = False) -> tuple[str, ...]:
    """What an admin may change: a bounce or complaint is a suppression nobody silently undoes (but a
    reader bounced for soft bounces in a row, `soft`, may be re-enabled), and only someone who
    unsubscribed may be resubscribed (a pending address has not confirmed it is theirs)."""
    from subscribers.models import SUPPRESSED, Status

    actions = ["lang"]
    if sub.status in (Status.ACTIVE, Status.PENDING, Status.PAUSED):
        actions.append("unsubscribe")
    # an address unsubscribed before it was ever confirmed has not confirmed it is theirs either
    if (
        sub.status == Status.UNSUBSCRIBED
        and sub.status not in SUPPRESSED
        and sub.confirmed_at is not None
    ):
        actions.append("resubscribe")
    if soft:
        actions.append("reenable")
    actions.append("erase")
    return tuple(actions)


def detail_text(detail: str | None, lang: str) -> str:
    """A history row's detail (subscribers.changes) in the page's language, its statuses and languages
    named by their labels. A provider's words are kept as written, and so is a detail stored before
    codes."""
    coded = decode(detail)
    if coded is None:
        return detail or ""
    t, p = texts(lang), {k: str(v) for k, v in coded.params.items()}
    if coded.code == changes.ADDED:
        return t._(
            "%(status)s, %(edition)s",
            status=t.label("sub", p.get("status", "")),
            edition=t.label("edition", p.get("lang", "")),
        )
    if coded.code == changes.REQUESTED:
        return t.label("edition", p.get("lang", ""))
    if coded.code == changes.UNREAD:
        return t._("%(count)s issues delivered without an open or click", count=p.get("count", ""))
    if coded.code == changes.SOFT_BOUNCES:
        return t._("Soft bounces: %(count)s issues in a row", count=p.get("count", ""))
    if coded.code in (changes.MOVED, changes.LANG_CHANGED):
        kind = "sub" if coded.code == changes.MOVED else "edition"
        moved = t._(
            "%(before)s -> %(after)s",
            before=t.label(kind, p.get("before", "")),
            after=t.label(kind, p.get("after", "")),
        )
        if "lang" not in p:
            return moved
        return t._("%(status)s, %(edition)s", status=moved, edition=t.label("edition", p["lang"]))
    if coded.code == changes.PROVIDER:
        event = t.label("ev", p.get("event", ""))
        if "reason" not in p:
            return t._("SendGrid reported: %(event)s", event=event)
        return t._("SendGrid reported: %(event)s (%(reason)s)", event=event, reason=p["reason"])
    return changes.english(detail) or ""


def _subscriber_page(
    request: Request, session, editor, subscriber_id: int, status_code: int = 200, **extra
):
    from mailer.events.privacy import deliveries_of, events_of
    from subscribers.bounces import suppressed_softly
    from subscribers.lookup import history
    from subscribers.service import get

    sub = get(session, subscriber_id)
    if sub is None:
        return page(
            request,
            "refused",
            404,
            editor=editor,
            error=texts(page_lang(request))._("There is no such subscriber."),
        )
    return page(
        request,
        "subscriber",
        status_code,
        editor=editor,
        sub=sub,
        history=history(session, sub.id),
        deliveries=deliveries_of(session, sub.id, limit=DELIVERIES_SHOWN),
        events=events_of(session, sub.email, limit=EVENTS_SHOWN),
        shown={"deliveries": DELIVERIES_SHOWN, "events": EVENTS_SHOWN},
        actions=allowed_actions(sub, suppressed_softly(session, sub)),
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
    from subscribers import bounces, service

    check_csrf(request, csrf_token)
    t = texts(page_lang(request))
    sub = service.get(session, subscriber_id)
    if sub is None:
        return page(
            request, "refused", 404, editor=editor, error=t._("There is no such subscriber.")
        )

    def not_allowed():
        return _subscriber_page(
            request,
            session,
            editor,
            subscriber_id,
            409,
            error=t._("That change is not allowed in this subscriber's state."),
        )

    soft = bounces.suppressed_softly(session, sub)
    if action not in allowed_actions(sub, soft) or (action == "lang" and lang not in EDITIONS):
        return not_allowed()
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
        elif action == "reenable":
            bounces.reenable(session, sub, source="desk", ip=ip)
        else:
            service.resubscribe(session, sub, source="desk", ip=ip)
    except service.SubscriberError:
        session.rollback()
        return not_allowed()
    session.commit()
    return back(f"/admin/subscribers/{subscriber_id}", n="saved")
