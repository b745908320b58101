"""The issue page, as its own route and the editing, scheduling and sending routes show it (with
their refusal): what each of those modules imports, so none imports another."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.coded import decode
from mailer.config import Settings
from mailer.db import utcnow
from mailer.issues import approvals, editing, heads, reasons, story_pairs
from mailer.issues.digest import stories_of
from mailer.issues.models import Editor, Issue
from mailer.issues.service import get_issue
from mailer.issues.states import RESENDABLE, IssueStatus
from mailer.langs import EDITIONS
from mailer.web.admin import preview_pages, progress_pages
from mailer.web.admin.pages import page, page_lang
from mailer.web.deps import get_runtime, settings_of
from mailer.web.i18n import texts

USUAL_ZONES = ("Asia/Seoul", "America/New_York", "America/Los_Angeles", "Europe/London", "UTC")


@cache
def zone_choices() -> tuple[str, ...]:
    """Every IANA zone this system knows, the newsroom's usual ones first."""
    return USUAL_ZONES + tuple(sorted(available_timezones() - set(USUAL_ZONES)))


ADMIN_ONLY = frozenset(
    {"send", "resume", "cancel", "resend"}
)  # an editor curates, tests, schedules and may pause


def unstarted(issue: Issue) -> list[str]:
    return [e.lang for e in issue.editions if e.started_at is None]


def actions_for(issue: Issue, editor: Editor) -> tuple[str, ...]:
    """What can be done to the issue now, by this editor, in the order the page shows them."""
    s = IssueStatus
    by_status: dict[str, tuple[str, ...]] = {
        s.DRAFT: ("send",),
        s.SCHEDULED: ("send", "cancel"),
        # sending with editions not started (a per-edition schedule): "send now" starts the rest
        s.SENDING: (("send",) if unstarted(issue) else ()) + ("pause", "cancel"),
        s.PAUSED: ("resume", "cancel"),
    }
    if issue.status in RESENDABLE and _some_failed(issue):
        by_status[issue.status] = ("resend",)
    return tuple(
        a for a in by_status.get(issue.status, ()) if editor.is_admin or a not in ADMIN_ONLY
    )


def _some_failed(issue: Issue) -> bool:
    """Whether the finished send left failed batches: its status reason says so (no query)."""
    coded = decode(issue.status_reason)
    return coded is not None and coded.code == reasons.BATCHES_FAILED


def reason_text(reason: str | None, lang: str) -> str:
    """An issue's status reason (mailer.issues.reasons) in the page's language. An editor's own words
    and the provider's error are kept as written, and so is a reason stored before codes."""
    coded = decode(reason)
    if coded is None:
        return reason or ""
    t, p = texts(lang), coded.params
    if coded.code == reasons.PAUSED:
        if "name" not in p:
            return t._("Paused by an editor.")
        if "why" not in p:
            return t._("Paused by %(name)s.", name=p["name"])
        return t._("Paused by %(name)s: %(why)s", name=p["name"], why=p["why"])
    if coded.code == reasons.CANCELLED:
        return t._("Cancelled by an editor.")
    if coded.code == reasons.BATCHES_FAILED:
        count = int(p.get("count", 0))
        return t.ngettext("%(num)s batch failed.", "%(num)s batches failed.", count)
    if coded.code == reasons.CREDENTIALS_REFUSED:
        return t._(
            "SendGrid refused the mailer's credentials (%(error)s). Whoever runs the mailer must "
            "fix MAILER_SENDGRID_API_KEY; then the issue can be resumed.",
            error=p.get("error", ""),
        )
    return reasons.english(reason)


def live_status(request: Request, session: Session, editor: Editor, issue: Issue) -> dict:
    """What the issue page's live block shows, read at one moment: the heading's status, the state, rate,
    time left and bars (progress_pages.views), the status reason and the buttons the state allows."""
    view = progress_pages.views(
        session, [issue], page_lang(request), utcnow(), get_runtime(request)
    )[issue.number]
    return {
        "issue": issue,
        "live": view,
        "actions": actions_for(issue, editor),
        "status_reason": reason_text(issue.status_reason, page_lang(request)),
    }


def progress_of(session: Session, issue: Issue, settings: Settings) -> dict:
    from mailer.delivery.stats import progress
    from mailer.events.stats import stored_counts

    now = progress(session, issue)
    counts = stored_counts(session, issue, utcnow(), settings)
    return {
        "done": now.done,
        "total": now.total,
        "state": now.state,
        "unscheduled": now.unscheduled,
        "stats": counts.stats,
        "counted_at": counts.counted_at,
    }


def _with_pairs(session: Session, articles: list) -> list[tuple]:
    """Each candidate story with its translation's title (or None), Korean first: a story shows both titles."""
    from mailer.articles.models import Article

    ids = [a.pair_id for a in articles if a.pair_id]
    rows = (
        session.execute(select(Article.id, Article.title).where(Article.id.in_(ids))) if ids else ()
    )
    pairs = {pair_id: title for pair_id, title in rows}
    return [(a, pairs.get(a.pair_id)) for a in articles]


def coverage(stories: list[dict]) -> dict[str, int]:
    """How many of an issue's stories (digest.stories_of: each language's side, or None where the
    story has no pair in it) have no version in each language, said before the issue is sent."""
    return {
        "total": len(stories),
        "no_ko": sum(1 for s in stories if s["ko"] is None),
        "no_en": sum(1 for s in stories if s["en"] is None),
    }


def story_context(request: Request, session: Session, issue: Issue) -> dict:
    """What the story list and what follows the stories show, for the page and for its fragment."""
    settings = settings_of(request)
    articles = stories_of(session, issue)
    return {
        "stories": list(zip(issue.stories, articles, strict=True)),
        "coverage": coverage(articles),
        "editable": editing.is_editable(issue),
        "candidates": _with_pairs(session, editing.candidates(session)),
        "partners": story_pairs.partners(session),
        "inbox": preview_pages.inbox(issue, settings),
        "stale": heads.stale_names(session, issue),
    }


def is_fragment(request: Request) -> bool:
    """A story action sent by the page's htmx (it says so in a header), answered with the fragment."""
    return request.headers.get("HX-Request") == "true"


def stories_fragment(
    request: Request, session: Session, number: int, status_code: int = 200, **extra
) -> HTMLResponse:
    """The story list and, out of band, the subjects, preheaders, coverage and inbox lines."""
    issue = get_issue(session, number)
    response = page(
        request,
        "issue_stories",
        status_code,
        issue=issue,
        **story_context(request, session, issue),
        **extra,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response


def audience(request: Request, session: Session, issue: Issue) -> dict[str, int]:
    """{edition: active subscribers}: whom each edition not yet started would reach, as the list was
    counted within beat's refresh interval (the dashboard's figures; counting a million readers at each
    view took most of the page's time). Empty for an issue whose editions have all started: the page
    shows none then. The send step itself counts afresh (send_pages.recipients)."""
    from subscribers.lookup import cached_counts

    if not unstarted(issue):
        return {}
    max_age = 2 * settings_of(request).stats_refresh_seconds
    by = cached_counts(session, get_runtime(request).kv, max_age)
    return {lang: by.get((lang, "active"), 0) for lang in EDITIONS}


def issue_view(
    request: Request, session: Session, editor: Editor, number: int, status_code: int = 200, **extra
) -> HTMLResponse:
    issue = get_issue(session, number)
    settings = settings_of(request)
    return page(
        request,
        "issue",
        status_code,
        editor=editor,
        **story_context(request, session, issue),
        progress=progress_of(session, issue, settings),
        frame_sandbox=preview_pages.FRAME_SANDBOX,
        timezones=zone_choices(),
        usual_zones=USUAL_ZONES,
        default_tz=settings.desk_zone,
        notice=request.query_params.get("n"),
        **live_status(request, session, editor, issue),
        awaiting=approvals.waiting(issue),
        audience=audience(request, session, issue),
        **extra,
    )
