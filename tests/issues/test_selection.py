from datetime import UTC, datetime, timedelta

from mailer.issues.selection import DEFAULT_WINDOW, Candidate, select_stories, window

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def c(aid, lang, pair, hours_ago):
    return Candidate(aid, lang, pair, NOW - timedelta(hours=hours_ago))


def test_first_window_looks_back_a_week_and_later_ones_start_at_the_cutoff():
    assert window(None, NOW) == (NOW - DEFAULT_WINDOW, NOW)
    cutoff = NOW - timedelta(days=3)
    assert window(cutoff, NOW) == (cutoff, NOW)


def test_a_pair_is_one_story_newest_first_english_side_represents_it():
    cands = [c(1, "en", 11, 5), c(11, "ko", 1, 4), c(2, "en", None, 1), c(12, "ko", None, 30)]
    start, end = window(None, NOW)
    assert select_stories(cands, start=start, end=end, used=set(), limit=10) == [2, 1, 12]


def test_outside_the_window_used_before_and_the_cap():
    cands = [
        c(1, "en", None, 1),
        c(2, "en", 22, 2),
        c(22, "ko", 2, 2),
        c(3, "en", None, 3),
        c(4, "en", None, 24 * 8),
    ]
    start, end = window(None, NOW)
    assert select_stories(cands, start=start, end=end, used={22}, limit=10) == [1, 3]
    assert select_stories(cands, start=start, end=end, used=set(), limit=2) == [1, 2]


def test_an_empty_week_selects_nothing():
    start, end = window(NOW - timedelta(hours=1), NOW)
    assert select_stories([c(1, "en", None, 5)], start=start, end=end, used=set(), limit=10) == []
