"""The issue editor's changes, and render errors caught when saving, never at send time."""

import pytest

from mailer.db import utcnow
from mailer.issues import editing
from mailer.issues.service import IssueError
from mailer.rendering.render import RenderError


def test_reorder_is_pure_and_clamps():
    assert editing.reorder([1, 2, 3], 3, -1) == [1, 3, 2]
    assert editing.reorder([1, 2, 3], 1, -1) == [1, 2, 3]
    assert editing.reorder([1, 2, 3], 1, 5) == [2, 3, 1]
    assert editing.reorder([1, 2, 3], 9, 1) == [1, 2, 3]


def _order(issue):
    return [s.article_id for s in issue.stories]


def test_pinned_stories_lead_then_the_drafted_newest_first_order(session, issue, settings):
    before = _order(issue)
    editing.pin_story(session, issue, before[5], True, settings=settings)
    assert _order(issue) == [before[5]] + before[:5] + before[6:]
    editing.move_story(session, issue, before[0], 1, settings=settings)
    assert _order(issue)[:3] == [before[5], before[1], before[0]]


def test_add_and_remove_stories_and_refuse_one_already_used(session, issue, settings):
    from mailer.articles.models import Article

    first = _order(issue)[0]
    editing.remove_story(session, issue, first, settings=settings)
    assert first not in _order(issue) and len(issue.stories) == 9
    editing.add_story(session, issue, first, settings=settings)
    assert _order(issue)[-1] == first
    pair = session.get(Article, first).pair_id
    with pytest.raises(IssueError, match="already in issue #1"):
        editing.add_story(session, issue, pair, settings=settings)


def test_subject_preheader_and_notes_per_edition_are_rendered(session, issue, settings):
    story = _order(issue)[0]
    editing.set_story_note(session, issue, story, "이번 주 꼭 읽어 보세요", settings=settings)
    editing.update_editions(
        session,
        issue,
        {
            "ko": {
                "subject": "  이번 주   브리핑 ",
                "preheader": "미리 보기",
                "note": "편집자의 말",
            },
            "en": {"subject": "This week", "preheader": "Preview", "note": "From the editor"},
        },
        settings=settings,
    )
    ko = next(e for e in issue.editions if e.lang == "ko")
    en = next(e for e in issue.editions if e.lang == "en")
    assert ko.subject == "이번 주 브리핑" and "편집자의 말" in ko.html and "미리 보기" in ko.html
    assert "이번 주 꼭 읽어 보세요" in ko.html and "이번 주 꼭 읽어 보세요" in ko.text
    assert (
        en.subject == "This week" and "From the editor" in en.html and "From the editor" in en.text
    )
    editing.update_editions(
        session, issue, {"en": {"subject": "", "preheader": "", "note": ""}}, settings=settings
    )
    assert en.subject.startswith("The Seoul Ledger Weekly No. 1: ")  # blank: the default comes back


def test_a_broken_template_fails_when_saving_with_a_clear_message(
    session, issue, tmp_path, monkeypatch, settings
):
    import shutil

    from mailer import templates_dir
    from mailer.rendering import render

    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    (copy / "email" / "ko" / "digest" / "body.mjml.j2").write_text("{% for %}", "utf-8")
    monkeypatch.setattr(render, "templates_dir", lambda: copy)
    render.environment.cache_clear()
    try:
        with pytest.raises(RenderError, match=r"ko/digest/body.mjml.j2, line 1"):
            editing.update_editions(session, issue, {"ko": {"note": "x"}}, settings=settings)
    finally:
        render.environment.cache_clear()


def test_a_started_issue_cannot_be_edited(session, issue, settings):
    from tests.factories import start_send

    start_send(session, issue, settings, utcnow())
    session.commit()
    with pytest.raises(IssueError, match="only drafts"):
        editing.move_story(session, issue, _order(issue)[0], 1, settings=settings)


def test_sending_refuses_an_edition_that_was_never_rendered(session, issue, settings):
    from tests.factories import start_send

    issue.editions[0].html = None
    with pytest.raises(IssueError, match="not rendered"):
        start_send(session, issue, settings, utcnow())
