"""The public archive: sent editions only, and never a subscriber's link."""

import re


def test_a_draft_is_not_public(client, drafted):
    assert client.get("/archive/1/ko").status_code == 404
    assert "/archive/1/" not in client.get("/archive?lang=en").text


def test_a_sent_edition_is_shown_without_any_subscribers_links(client, drafted, runtime):
    from mailer.delivery.facade import send_now

    send_now(runtime, 1)
    listing = client.get("/archive?lang=ko")
    assert (
        listing.status_code == 200
        and 'href="/archive/1/ko"' in listing.text
        and "제1호" in listing.text
    )
    for lang in ("ko", "en", "both"):
        page = client.get(f"/archive/{1}/{lang}")
        assert page.status_code == 200
        html = page.text
        assert "%unsubscribe_url%" not in html and "%preferences_url%" not in html
        assert "/unsubscribe/" not in html and "/preferences/" not in html
        assert re.search(r'href="https://news\.example\.com/subscribe\?lang=(ko|en)"', html)
        assert "img-src https:" in page.headers["content-security-policy"]
    assert client.get("/archive/1/fr").status_code == 404
    assert client.get("/archive/2/ko").status_code == 404
