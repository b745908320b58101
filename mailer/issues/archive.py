"""The public archive: sent editions as a browser shows them, with no subscriber's links in them."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus
from mailer.rendering.placeholders import fill, tags

# An edition is public once it has gone out to someone (a cancelled send included: its readers
# follow "view in browser" too); one scheduled for later is not.
_PUBLIC = or_(Edition.started_at.is_not(None), Issue.status == IssueStatus.SENT)


def neutral_links(edition: Edition, settings: Settings) -> dict[str, str]:
    """What stands where a subscriber's own links go (the edition's own tags): the sign-up page, in the
    edition's language; the edition switch shows the issue's other editions in the archive."""
    page = f"{settings.public_base}/subscribe?lang={'en' if edition.lang == 'en' else 'ko'}"
    issue_page = f"{settings.public_base}/archive/{edition.issue.number}"
    return tags(edition.link_tag).values(page, page, issue_page)


def public_issues(session: Session) -> list[tuple[Issue, list[Edition]]]:
    """Newest first, each with its public editions; each edition's `dated` is the day it went out."""
    rows = session.execute(
        select(Issue, Edition)
        .join(Edition, Edition.issue_id == Issue.id)
        .where(_PUBLIC)
        .order_by(Issue.number.desc(), Edition.lang)
    )
    found: dict[int, tuple[Issue, list[Edition]]] = {}
    for issue, edition in rows:
        found.setdefault(issue.number, (issue, []))[1].append(edition)
    return list(found.values())


def public_edition(session: Session, number: int, lang: str) -> Edition | None:
    return session.scalar(
        select(Edition)
        .join(Issue, Issue.id == Edition.issue_id)
        .where(Issue.number == number, Edition.lang == lang, Edition.html.is_not(None), _PUBLIC)
    )


def archive_html(edition: Edition, settings: Settings) -> str:
    assert edition.html is not None  # an edition is stored rendered
    return fill(edition.html, neutral_links(edition, settings))
