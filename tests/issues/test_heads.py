"""Subjects and preheaders follow the stories on every change; an editor's own are kept, marked, and
warned about when they name a story no longer in the issue."""

from __future__ import annotations

from mailer.issues import editing
from mailer.issues.digest import stories_of
from mailer.issues.heads import named, stale_names


def _ko(issue):
    return next(e for e in issue.editions if e.lang == "ko")


def _titles(session, issue, lang="ko"):
    return [s[lang]["title"] for s in stories_of(session, issue) if s[lang]]


def _lead_id(session, issue):
    """The first story with a Korean side: the Korean edition's lead."""
    return next(
        story.article_id
        for story, sides in zip(issue.stories, stories_of(session, issue), strict=True)
        if sides["ko"]
    )


def _edit(session, issue, settings, lang, **values):
    editing.update_editions(session, issue, {lang: values}, settings=settings)


def test_dropping_the_lead_changes_the_default_subject_and_preheader(session, issue, settings):
    lead, second, *_ = _titles(session, issue)
    ko = _ko(issue)
    assert lead in ko.subject and second in ko.preheader and not ko.subject_edited
    editing.remove_story(session, issue, _lead_id(session, issue), settings=settings)
    assert lead not in ko.subject and second in ko.subject  # the new lead leads the subject
    assert second not in ko.preheader
    assert not ko.subject_edited and not ko.preheader_edited


def test_moving_a_story_up_makes_it_the_subject(session, issue, settings):
    lead, second, *_ = _titles(session, issue)
    second_id = issue.stories[1].article_id
    editing.move_story(session, issue, second_id, -1, settings=settings)
    assert second in _ko(issue).subject and lead not in _ko(issue).subject


def test_an_edited_subject_is_kept_and_warned_about_when_its_story_is_dropped(
    session, issue, settings
):
    lead, second, *_ = _titles(session, issue)
    ko = _ko(issue)
    _edit(session, issue, settings, "ko", subject=f"이번 주: {lead}", preheader=ko.preheader)
    assert ko.subject_edited and not ko.preheader_edited  # the preheader was left as it was
    assert stale_names(session, issue) == {}  # its story is still in the issue
    editing.remove_story(session, issue, _lead_id(session, issue), settings=settings)
    assert ko.subject == f"이번 주: {lead}" and ko.subject_edited  # kept as written
    assert stale_names(session, issue) == {"ko": {"subject": [lead]}}
    # the default back: blank, or the default itself, follows the stories again
    _edit(session, issue, settings, "ko", subject="", preheader=ko.preheader)
    assert not ko.subject_edited and second in ko.subject
    assert stale_names(session, issue) == {}


def test_saving_the_form_unchanged_marks_nothing_as_edited(session, issue, settings):
    fields = {
        e.lang: {"subject": e.subject, "preheader": e.preheader, "note": e.note}
        for e in issue.editions
    }
    editing.update_editions(session, issue, fields, settings=settings)
    assert not any(e.subject_edited or e.preheader_edited for e in issue.editions)
    editing.remove_story(session, issue, issue.stories[0].article_id, settings=settings)
    assert all(e.subject != fields[e.lang]["subject"] for e in issue.editions)


def test_a_title_that_is_part_of_a_story_still_in_the_issue_is_no_warning():
    assert named("주간: 서울 지하철 새 노선", ["서울 지하철", "부산"], []) == ["서울 지하철"]
    assert named("주간: 서울 지하철 새 노선", ["서울 지하철"], ["서울 지하철 새 노선"]) == []
    assert named("AI and more", ["AI"], []) == []  # too short to say a story is named


def test_a_pairing_undone_is_followed_by_the_subject_of_the_other_edition(session, issue, settings):
    from mailer.articles.models import Article
    from mailer.articles.pairing import unpair

    first = session.get(Article, issue.stories[0].article_id)
    assert first.pair_id is not None  # the sample's lead story has its translation
    other = "en" if first.lang == "ko" else "ko"
    edition = next(e for e in issue.editions if e.lang == other)
    translated = session.get(Article, first.pair_id).title
    assert translated in edition.subject
    before = {first.id, first.pair_id}
    unpair(session, first.id)
    assert editing.follow_pairing(session, before, settings) == [issue.number]
    assert translated not in edition.subject  # the next story with a translation leads now
