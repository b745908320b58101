"""The desk saves a story's note in the language of the form it was typed in."""

from sqlalchemy import select

from mailer.issues.models import IssueStory
from tests.web.admin.conftest import csrf_of


def _note(admin, number, article_id, note, lang):
    token = csrf_of(admin.get(f"/admin/issues/{number}").text)
    return admin.post(
        f"/admin/issues/{number}/stories",
        data={
            "csrf_token": token,
            "article_id": article_id,
            "action": "note",
            "note": note,
            "lang": lang,
        },
    )


def test_each_form_saves_its_own_language_and_an_empty_one_clears_only_its_own(
    admin, issue, session
):
    story = issue.stories[0]
    assert _note(admin, issue.number, story.article_id, "Seoul's pick", "en").status_code == 303
    assert _note(admin, issue.number, story.article_id, "한국어 메모", "ko").status_code == 303
    assert _note(admin, issue.number, story.article_id, "", "ko").status_code == 303
    session.expire_all()
    saved = session.scalar(
        select(IssueStory).where(
            IssueStory.issue_id == issue.id, IssueStory.article_id == story.article_id
        )
    )
    assert saved.notes() == {"ko": None, "en": "Seoul's pick"}
