"""No stored value is filled with a reader's link: a feed's title, link, picture and summary and an
editor's notes that hold the subscriber-link tags go out as written, in the outbox and in the SendGrid
request alike, while the template's own links are each reader's."""

from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailer.articles.models import Article
from mailer.db import utcnow
from mailer.delivery.facade import send_now
from mailer.issues.digest import render_issue
from mailer.mail.sendgrid import SendGridSender
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL, fill, tags
from mailer.standin import Faults, StandIn

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")

TAGS = "%unsubscribe_url%+%preferences_url%"
HOSTILE = {
    "title": f"Title {TAGS}",
    "url": f"https://evil.example/link/{TAGS}",
    "image_url": f"https://evil.example/pixel/{TAGS}.png",
    "summary": f"Summary {TAGS}",
}
NOTE = f"Note {TAGS}"


def _poison(session, issue, settings) -> None:
    """Every story and note holds both tags, stored as a feed or an editor would leave them."""
    for article in session.scalars(select(Article)):  # each story's translation too
        for name, value in HOSTILE.items():
            setattr(article, name, value)
    for story in issue.stories:
        story.note_ko = story.note_en = NOTE
    for edition in issue.editions:
        edition.note = NOTE
    render_issue(session, issue, settings)
    session.commit()


def _check(body: str, html: bool) -> None:
    assert body.count(TAGS) >= 3  # title, link and summary (and the picture, in HTML) as written
    assert NOTE in body
    for name, value in HOSTILE.items():
        if html or name != "image_url":  # the text part shows no pictures
            assert value in body or value.replace("&", "&amp;") in body
    assert "evil.example/pixel/http" not in body and "evil.example/link/http" not in body


def _check_reader(body: str, settings) -> None:
    _check(body, html="<html" in body)
    base = f"{settings.public_base}/"
    assert f"{base}unsubscribe/" in body and f"{base}preferences/" in body
    assert "%unsubscribe_url_" not in body and "%preferences_url_" not in body


def test_outbox_sends_stored_tags_as_written(session, issue, settings, runtime):
    _poison(session, issue, settings)
    send_now(runtime, issue.number)
    files = sorted(Path(settings.outbox_dir).rglob("*.eml"))
    assert len(files) == 9
    for path in files:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
        assert len(parts) == 2
        for body in parts:
            _check_reader(body, settings)
        unsubscribe = msg["List-Unsubscribe"].strip("<>")
        assert all(unsubscribe in body for body in parts)  # the reader's own link, in the footer


def test_an_edition_rendered_with_the_shared_tags_is_rendered_again_when_sent(
    session, issue, settings, runtime
):
    _poison(session, issue, settings)
    for edition in issue.editions:  # as stored before editions had their own tags
        own = tags(edition.link_tag)
        for part in ("html", "text"):
            legacy = getattr(edition, part).replace(own.unsubscribe, UNSUBSCRIBE_URL)
            setattr(edition, part, legacy.replace(own.preferences, PREFERENCES_URL))
        edition.link_tag = None
        # dated as it goes out today: only its tags call for rendering it again
        edition.dated = utcnow().astimezone(ZoneInfo(settings.digest_timezone)).date()
    session.commit()
    send_now(runtime, issue.number)
    files = sorted(Path(settings.outbox_dir).rglob("*.eml"))
    assert len(files) == 9
    for path in files:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        for body in [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]:
            _check_reader(body, settings)


def test_sendgrid_request_keeps_stored_tags_as_written(session, issue, settings, make_runtime):
    _poison(session, issue, settings)
    with StandIn(api_key="SG.test", faults=Faults(), keep_payloads=True) as standin:
        runtime = make_runtime(sender=SendGridSender("SG.test", standin.url, timeout=5.0))
        send_now(runtime, issue.number)
        payloads = [r["payload"] for r in standin.accepted()]
    readers = [p for payload in payloads for p in payload["personalizations"]]
    assert len(readers) == 9
    for payload in payloads:
        for p in payload["personalizations"]:
            assert set(p["substitutions"]).isdisjoint({"%unsubscribe_url%", "%preferences_url%"})
            # what SendGrid does: every substitution filled into the subject and each part
            assert fill(payload["subject"], p["substitutions"]) == payload["subject"]
            for content in payload["content"]:
                body = fill(content["value"], p["substitutions"])
                _check_reader(body, settings)
                unsubscribe = p["headers"]["List-Unsubscribe"].strip("<>")
                assert unsubscribe in body
