from mailer.articles.sanitize import clean_html, summarize, to_text
from mailer.articles.urls import canonical

HOSTILE = """
<p onclick="steal()">Hello <a href="javascript:alert(1)">x</a> <a href="https://ok.example/a">ok</a></p>
<script>alert(1)</script><style>p{display:none}</style>
<iframe src="https://ads.example.net/"></iframe><object data="x.swf">fallback</object>
<form action="/x"><input name="q"></form><p style="color:red">styled</p>
<img src="https://img.example/a.jpg" onerror="bad()" alt="A photo">
"""


def test_clean_html_keeps_the_story_and_drops_everything_active():
    out = clean_html(HOSTILE)
    for bad in (
        "<script",
        "alert(1)",
        "<style",
        "display:none",
        "<iframe",
        "<object",
        "fallback",
        "<form",
        "<input",
        "onclick",
        "onerror",
        "javascript:",
        "style=",
    ):
        assert bad not in out, bad
    assert "Hello" in out and "styled" in out
    assert '<a href="https://ok.example/a" rel="noopener noreferrer">ok</a>' in out
    assert '<img src="https://img.example/a.jpg" alt="A photo">' in out


def test_to_text_folds_markup_and_entities():
    assert to_text("<p>A &amp; B</p><p>C<br>D</p>") == "A & B C D"


def test_summary_ends_at_a_sentence_when_one_is_late_enough():
    text = (
        "First sentence here. Second sentence is a little longer. Third one would not fit at all."
    )
    assert summarize(text, 60) == "First sentence here. Second sentence is a little longer."


def test_summary_ends_at_a_word_in_korean():
    text = "서울시가 내년부터 심야 자율주행 버스 노선을 열두 개로 확대하고 요금은 동결하기로 결정했다고 밝혔다"
    out = summarize(text, 30)
    assert out.endswith("…")
    assert len(out) <= 31
    assert text.startswith(out[:-1])
    assert text[len(out) - 1] == " "  # cut at a space, never inside a word


def test_short_text_is_left_alone():
    assert summarize("  짧은 기사.  ", 100) == "짧은 기사."


def test_canonical_strips_tracking_and_fragments():
    assert (
        canonical("HTTPS://News.Example.com/en/story/?utm_source=x&id=3&fbclid=y#top")
        == "https://news.example.com/en/story?id=3"
    )


def test_a_link_no_url_parser_reads_is_kept_as_it_is_rather_than_raising():
    from mailer.articles.urls import canonical

    assert canonical(" https://[news.example/en/story ") == "https://[news.example/en/story"
    assert canonical("HTTPS://News.Example/a/?utm_source=x") == "https://news.example/a"


def test_no_nul_leaves_a_feed_in_any_text_postgresql_would_refuse_it():
    from mailer.articles.parse import parse_feed
    from mailer.db import utcnow

    body = (
        b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Ne\x00ws</title>"
        b"<item><title>Kim\x00jang</title><link>https://news.example.com/a</link><guid>g\x001</guid>"
        b"<description>Cab\x00bage</description></item></channel></rss>"
    )
    parsed = parse_feed(body, now=utcnow(), summary_length=200, lang="en")
    item = parsed.items[0]
    assert (
        "\x00"
        not in (parsed.title or "") + item.title + item.guid + item.summary + item.content_html
    )
    assert item.title == "Kimjang"
