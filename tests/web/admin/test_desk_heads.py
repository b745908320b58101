"""The issue page marks an editor's own subject, offers its default back, and warns when it names a
story dropped from the issue."""

from __future__ import annotations

import re

from mailer.issues.digest import stories_of
from tests.web.admin.conftest import csrf_of


def _form(page: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="((?:subject|preheader|note)_\w+)" value="([^"]*)"', page))
    return {"csrf_token": csrf_of(page), **fields}


def _post_story(admin, number, article_id, action):
    token = csrf_of(admin.get(f"/admin/issues/{number}").text)
    return admin.post(
        f"/admin/issues/{number}/stories",
        data={"csrf_token": token, "article_id": article_id, "action": action},
    )


def test_an_edited_subject_is_marked_kept_and_warned_about_in_korean(admin, issue, session):
    import html

    lead_id, lead = next(
        (story.article_id, sides["ko"]["title"])
        for story, sides in zip(issue.stories, stories_of(session, issue), strict=True)
        if sides["ko"]
    )
    page = admin.get("/admin/issues/1?lang=ko").text
    assert "기사 순서를 따름" in page and "직접 수정함" not in page
    form = _form(page)
    form["subject_ko"] = f"놓치지 마세요: {lead}"
    assert admin.post("/admin/issues/1/editions", data=form).status_code == 303
    assert _post_story(admin, 1, lead_id, "remove").status_code == 303

    page = html.unescape(admin.get("/admin/issues/1?lang=ko").text)
    assert f'value="놓치지 마세요: {lead}"' in page  # kept as written
    assert 'data-edited="subject_ko"' in page and "직접 수정함" in page
    assert f"이 제목에 이번 호에서 빠진 기사 “{lead}”이(가) 들어 있습니다." in page
    assert 'name="default" value="subject_ko"' in page

    # "use the default": the subject follows the stories again, and the warning is gone
    form = _form(admin.get("/admin/issues/1").text)
    assert (
        admin.post("/admin/issues/1/editions", data={**form, "default": "subject_ko"}).status_code
        == 303
    )
    page = html.unescape(admin.get("/admin/issues/1?lang=en").text)
    assert lead not in page.split('id="subject_ko"')[1].split(">")[0]
    assert "a story no longer in the issue" not in page and 'data-edited="subject_ko"' not in page
