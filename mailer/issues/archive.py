"""The public archive: sent editions as a browser shows them, with no subscriber's links in them."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from mailer.config import Settings
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus
from mailer.langs import EDITIONS
from mailer.rendering.placeholders import MAIL_ONLY_END, MAIL_ONLY_START, fill, tags

# An edition is public once it has gone out to someone (a cancelled send included: its readers
# follow "view in browser" too); one scheduled for later is not.
_PUBLIC = or_(Edition.started_at.is_not(None), Issue.status == IssueStatus.SENT)


def neutral_links(edition: Edition, settings: Settings) -> dict[str, str]:
    """What stands where a subscriber's own links go (the edition's own tags): the sign-up page, in the
    edition's language; the edition switch shows the issue's other editions in the archive."""
    page = f"{settings.public_base}/subscribe?lang={'en' if edition.lang == 'en' else 'ko'}"
    issue_page = f"{settings.public_base}/archive/{edition.issue.number}"
    return tags(edition.link_tag).values(page, page, issue_page)


def public_issues(session: Session, latest: bool = False) -> list[tuple[Issue, list[Edition]]]:
    """Newest first (only the newest, if `latest`), each with its public editions in ko, en, both
    order; their stored HTML is not loaded."""
    query = (
        select(Issue, Edition)
        .join(Edition, Edition.issue_id == Issue.id)
        .where(_PUBLIC)
        .options(defer(Edition.html), defer(Edition.text))
        .order_by(Issue.number.desc())
    )
    if latest:
        newest = select(func.max(Issue.number)).join(Edition, Edition.issue_id == Issue.id)
        query = query.where(Issue.number == newest.where(_PUBLIC).scalar_subquery())
    rows = session.execute(query)
    found: dict[int, tuple[Issue, list[Edition]]] = {}
    for issue, edition in rows:
        found.setdefault(issue.number, (issue, []))[1].append(edition)
    for _, editions in found.values():
        editions.sort(key=lambda e: EDITIONS.index(e.lang))
    return list(found.values())


def public_editions(session: Session, lang: str) -> list[tuple[Issue, Edition]]:
    """One language's public editions, newest issue first (the archive's feed)."""
    rows = session.execute(
        select(Issue, Edition)
        .join(Edition, Edition.issue_id == Issue.id)
        .where(_PUBLIC, Edition.lang == lang)
        .order_by(Issue.number.desc())
    )
    return [(issue, edition) for issue, edition in rows]


def public_langs(session: Session, number: int) -> list[str]:
    """The languages an issue's public editions are in, ko, en, both order."""
    found = session.scalars(
        select(Edition.lang)
        .join(Issue, Issue.id == Edition.issue_id)
        .where(Issue.number == number, _PUBLIC)
    )
    return sorted(found, key=EDITIONS.index)


def public_edition(session: Session, number: int, lang: str) -> Edition | None:
    return session.scalar(
        select(Edition)
        .join(Issue, Issue.id == Edition.issue_id)
        .where(Issue.number == number, Edition.lang == lang, Edition.html.is_not(None), _PUBLIC)
    )


def without_mail_only(html: str, footer: str) -> str:
    """The web copy: every mail-only part (the reader's links, "view in browser") replaced by `footer`."""
    while (start := html.find(MAIL_ONLY_START)) != -1:
        end = html.find(MAIL_ONLY_END, start)
        if end == -1:
            break
        html = html[:start] + footer + html[end + len(MAIL_ONLY_END) :]
        footer = ""  # one footer, even if a layout marked two parts
    return html


def archive_html(edition: Edition, settings: Settings, footer: str = "") -> str:
    assert edition.html is not None  # an edition is stored rendered
    return fill(without_mail_only(edition.html, footer), neutral_links(edition, settings))
