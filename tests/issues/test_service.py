import pytest
from sqlalchemy import select

from mailer.db import utcnow
from mailer.issues.models import Issue
from mailer.issues.service import draft_issue, transition
from mailer.issues.states import InvalidTransition, IssueStatus


def test_draft_picks_this_weeks_stories_and_renders_every_edition(session, ingested, settings):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    assert issue.number == 1 and issue.status == IssueStatus.DRAFT
    assert len(issue.stories) == 10  # ten translated pairs: one story each
    assert {e.lang for e in issue.editions} == {"ko", "en", "both"}
    for e in issue.editions:
        assert e.subject and e.html and e.text and e.rendered_at
    ko = next(e for e in issue.editions if e.lang == "ko")
    assert "주간 브리핑 제1호: " in ko.subject


def test_an_empty_week_drafts_no_issue(session, ingested, settings):
    assert draft_issue(session, utcnow(), settings) is not None
    session.commit()
    assert draft_issue(session, utcnow(), settings) is None
    assert len(session.scalars(select(Issue)).all()) == 1


def test_no_articles_no_issue(session, settings):
    assert draft_issue(session, utcnow(), settings) is None


def test_transitions_are_compare_and_set(session, ingested, settings):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    transition(session, issue, IssueStatus.SENDING)
    assert issue.status == IssueStatus.SENDING
    with pytest.raises(InvalidTransition, match="is sending"):
        transition(session, issue, IssueStatus.SENDING)
    transition(session, issue, IssueStatus.PAUSED)
    transition(session, issue, IssueStatus.SENDING)  # resume
    transition(session, issue, IssueStatus.SENT)
    with pytest.raises(InvalidTransition):
        transition(session, issue, IssueStatus.CANCELLED)
