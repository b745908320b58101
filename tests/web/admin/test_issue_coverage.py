"""The issue page says, above its send and schedule actions, how many stories lack a version in
each language, counted from the stories' pairing."""

from __future__ import annotations

import html
import re

from mailer.articles.models import Article
from mailer.articles.pairing import unpair


def _line(client, number: int, lang: str) -> str | None:
    text = html.unescape(client.get(f"/admin/issues/{number}?lang={lang}").text)
    found = re.search(r'<p id="coverage"[^>]*>(.*?)</p>', text, re.DOTALL)
    return found and " ".join(found.group(1).split())


def test_the_coverage_line_counts_stories_without_a_version(admin, session, issue):
    articles = [session.get(Article, s.article_id) for s in issue.stories]
    total = len(articles)
    paired = [a for a in articles if a.pair_id]
    assert paired and total >= 3  # the sample's picks: paired stories to unpair
    before_ko = sum(1 for a in articles if a.lang == "en" and not a.pair_id)
    before_en = sum(1 for a in articles if a.lang == "ko" and not a.pair_id)
    unpair(session, paired[0].id)
    session.commit()
    no_ko = before_ko + (paired[0].lang == "en")
    no_en = before_en + (paired[0].lang == "ko")
    ko = _line(admin, issue.number, "ko")
    en = _line(admin, issue.number, "en")
    if no_ko:
        assert f"기사 {total}개 중 {no_ko}개는 한국어판이 없습니다." in ko
        assert f"{no_ko} of {total} stories have no Korean version." in en
    if no_en:
        assert f"기사 {total}개 중 {no_en}개는 영어판이 없습니다." in ko
        assert f"{no_en} of {total} stories have no English version." in en
    page = admin.get(f"/admin/issues/{issue.number}?lang=en").text
    assert page.index('id="coverage"') < page.index(
        f'action="/admin/issues/{issue.number}/schedule"'
    )
