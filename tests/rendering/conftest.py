"""Issues whose editions the rendering tests read: one where a story exists in only one language."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def postal(monkeypatch, settings):
    """A postal address of two lines, one in each language, as production must have."""
    monkeypatch.setattr(
        settings,
        "postal_address",
        "서울특별시 중구 세종대로 110\\n110 Sejong-daero, Jung-gu, Seoul 04524",
    )
    return settings.postal_lines


@pytest.fixture
def mixed(session, ingested, postal, settings):
    """Issue 1 with the newest pair split: an English-only story leads (one minute newer) and a Korean-only
    story follows; notes in each language on the first story and on the issue. {lang: Edition}."""
    from sqlalchemy import select

    from mailer.articles.models import Article
    from mailer.articles.pairing import unpair
    from mailer.db import utcnow
    from mailer.issues import editing
    from mailer.issues.service import draft_issue

    en = session.scalar(
        select(Article).where(Article.lang == "en").order_by(Article.published_at.desc()).limit(1)
    )
    unpair(session, en.id)
    en.published_at = en.published_at + timedelta(minutes=1)
    session.flush()
    issue = draft_issue(session, utcnow(), settings)
    lead = issue.stories[0].article_id
    editing.set_story_note(session, issue, lead, "이번 주 꼭 읽어 보세요", "ko", settings=settings)
    editing.set_story_note(
        session, issue, lead, "Worth your time this week", "en", settings=settings
    )
    editing.update_editions(
        session,
        issue,
        {
            "ko": {"note": "편집자의 말: 김장철입니다."},
            "en": {"note": "From the editor: kimchi season."},
        },
        settings=settings,
    )
    session.commit()
    return {e.lang: e for e in issue.editions}
