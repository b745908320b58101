"""Finding an issue, drafting the next one, and moving an issue through its states."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.articles.models import Article
from mailer.config import Settings
from mailer.db import compare_and_set, utcnow
from mailer.issues.digest import render_issue
from mailer.issues.models import DraftRun, Edition, Issue, IssueStory
from mailer.issues.selection import Candidate, select_stories, window
from mailer.issues.states import ISSUE_TRANSITIONS, InvalidTransition, IssueStatus
from mailer.langs import EDITIONS

log = logging.getLogger(__name__)


class IssueError(ValueError):
    """A refused issue operation. The message is English, for logs and the CLI; `code` names the
    refusal and `params` holds its values, so a page can say it in its reader's language."""

    def __init__(self, message: str, code: str | None = None, **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


def get_issue(session: Session, number: int) -> Issue:
    issue = session.scalar(select(Issue).where(Issue.number == number))
    if issue is None:
        raise IssueError(f"no issue #{number}")
    return issue


def newest_first(session: Session) -> list[Issue]:
    return list(session.scalars(select(Issue).order_by(Issue.number.desc())))


def draft_issue(session: Session, now: datetime, settings: Settings) -> Issue | None:
    """Draft the next issue from stories since the last cutoff; None (and a log line) for an empty week."""
    last = session.scalar(select(Issue).order_by(Issue.number.desc()).limit(1))
    start, end = window(last.window_end if last else None, now)
    rows = session.execute(
        select(Article.id, Article.lang, Article.pair_id, Article.published_at).where(
            Article.published_at >= start, Article.published_at < end
        )
    )
    candidates = [Candidate(*row) for row in rows]
    used_rows = session.execute(
        select(IssueStory.article_id, Article.pair_id).join(
            Article, Article.id == IssueStory.article_id
        )
    )
    used = {i for row in used_rows for i in row if i is not None}
    picked = select_stories(
        candidates, start=start, end=end, used=used, limit=settings.digest_max_stories
    )
    if not picked:
        # Kept in draft_runs as well as logged: the dashboard tells editors why no issue appeared.
        session.add(DraftRun(ran_at=now, window_start=start, window_end=end, stories=0))
        session.flush()
        log.info(
            "no new stories between %s and %s: no issue drafted", start.isoformat(), end.isoformat()
        )
        return None
    number = (last.number if last else 0) + 1
    session.add(
        DraftRun(
            ran_at=now, window_start=start, window_end=end, stories=len(picked), issue_number=number
        )
    )
    issue = Issue(number=number, status=IssueStatus.DRAFT, window_start=start, window_end=end)
    issue.stories = [IssueStory(article_id=aid, position=i) for i, aid in enumerate(picked)]
    issue.editions = [Edition(lang=lang, subject="") for lang in EDITIONS]
    session.add(issue)
    session.flush()
    render_issue(session, issue, settings)
    return issue


def transition(session: Session, issue: Issue, to: IssueStatus, **values) -> None:
    """Compare-and-set: of two workers or editors racing for the same move, one wins, the other is told."""
    allowed = ISSUE_TRANSITIONS[to]
    if not compare_and_set(
        session, Issue, issue.id, allowed, status=to, updated_at=utcnow(), **values
    ):
        session.refresh(issue)
        raise InvalidTransition(f"issue #{issue.number} is {issue.status}; it cannot become {to}")
    session.refresh(issue)
