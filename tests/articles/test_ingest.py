from sqlalchemy import func, select

from mailer.articles.ingest import add_feed, ingest_all
from mailer.articles.models import Article, Feed
from mailer.articles.pairing import pair, unpair
from mailer.articles.parse import parse_feed
from mailer.db import utcnow

KO_RSS = """<?xml version="1.0" encoding="euc-kr"?>
<rss version="2.0"><channel><title>한국어 피드</title>
<item><title>첫눈 내린 서울</title><link>https://news.example.com/ko/snow?utm_source=rss</link>
<guid>ko-snow</guid><description>&lt;p&gt;서울에 첫눈이 내렸다.&lt;/p&gt;</description></item>
</channel></rss>"""


def test_sample_feeds_ingest_sanitized_and_paired(session, ingested):
    assert [(r.new, r.error) for r in ingested] == [(10, None), (10, None)]
    articles = session.scalars(select(Article)).all()
    assert len(articles) == 20
    for a in articles:
        assert "<script" not in a.content_html and "onclick" not in a.content_html
        assert "javascript:" not in a.content_html and "<iframe" not in a.content_html
        assert a.summary and len(a.summary) <= 201
    by_id = {a.id: a for a in articles}
    # every story is paired one-to-one and symmetrically, including the Korean story that does not link back
    assert all(a.pair_id is not None for a in articles)
    assert all(
        by_id[a.pair_id].pair_id == a.id and by_id[a.pair_id].lang != a.lang for a in articles
    )


def test_ingesting_twice_changes_nothing(session, ingested, settings):
    before = {a.id: (a.title, a.updated_at) for a in session.scalars(select(Article))}
    again = ingest_all(session, utcnow(), settings)
    assert [(r.new, r.updated) for r in again] == [(0, 0), (0, 0)]
    after = {a.id: (a.title, a.updated_at) for a in session.scalars(select(Article))}
    assert before == after


def test_an_edited_story_updates_its_row(session, ingested, sample_feeds, settings):
    en = sample_feeds["en"]
    en.write_text(
        en.read_text("utf-8").replace("Kimjang Costs Ease", "Kimjang Costs Drop"), "utf-8"
    )
    results = ingest_all(session, utcnow(), settings)
    assert results[0].updated == 1 and results[0].new == 0
    titles = session.scalars(select(Article.title).where(Article.lang == "en")).all()
    assert any(t.startswith("Kimjang Costs Drop") for t in titles)
    assert session.scalar(select(func.count()).select_from(Article)) == 20


def test_legacy_korean_encoding_is_read(tmp_path):
    parsed = parse_feed(KO_RSS.encode("euc-kr"), now=utcnow(), summary_length=100)
    assert parsed.error is None
    [item] = parsed.items
    assert item.title == "첫눈 내린 서울"
    assert item.summary == "서울에 첫눈이 내렸다."
    assert item.url == "https://news.example.com/ko/snow"  # tracking parameter stripped


def test_item_without_a_date_gets_the_fetch_time():
    now = utcnow()
    parsed = parse_feed(KO_RSS.encode("euc-kr"), now=now, summary_length=100)
    assert parsed.items[0].published_at == now


def test_a_broken_feed_is_recorded_and_never_stops_the_others(
    session, ingested, tmp_path, settings
):
    broken = tmp_path / "broken.xml"
    broken.write_text("<rss><channel><item><title>half", "utf-8")
    add_feed(session, str(broken), "en", settings)
    add_feed(session, str(tmp_path / "missing.xml"), "ko", settings)
    session.commit()
    results = {r.feed_url: r for r in ingest_all(session, utcnow(), settings)}
    assert results[str(broken)].error and "malformed" in results[str(broken)].error
    assert "cannot read" in results[str(tmp_path / "missing.xml")].error
    feed = session.scalar(select(Feed).where(Feed.url == str(broken)))
    assert feed.last_error
    assert session.scalar(select(func.count()).select_from(Article)) == 20  # nothing lost


def test_editors_pair_and_unpair_by_hand(session, ingested):
    en = session.scalars(select(Article).where(Article.lang == "en").order_by(Article.id)).all()
    ko = session.scalars(select(Article).where(Article.lang == "ko").order_by(Article.id)).all()
    pair(session, en[0].id, ko[1].id)  # re-pair across: both old partners are released
    session.commit()
    session.expire_all()
    assert en[0].pair_id == ko[1].id and ko[1].pair_id == en[0].id
    released = [a for a in en + ko if a.pair_id is None]
    assert len(released) == 2
    unpair(session, ko[1].id)
    session.commit()
    session.expire_all()
    assert en[0].pair_id is None and ko[1].pair_id is None
