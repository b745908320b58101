"""Beat's daily sunset rule (subscribers.sunset), thin: first the issues settled since the last pass move
their readers' unread counts (mailer.events.unread), then each pass claims a chunk of readers and writes
their "still want this?" mails in the same transaction, commits, then hands the mails to the `mail`
queue. A broker down at that moment loses nothing: the transactional sweep queues them later."""

from __future__ import annotations

from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.events import unread
from mailer.mail import transactional
from mailer.mail.models import MailKind
from mailer.runtime import Runtime
from subscribers import sunset

SUNSET = "mailer.sunset"


def run_sunset(rt: Runtime) -> dict[str, int]:
    """Ask the readers due to be asked and pause the silent, a chunk per transaction, until none is
    left. Safe to run twice: the claims are compare-and-set, so nobody gets a second mail."""
    with rt.session() as session:
        issues = unread.settled_issues(session, utcnow())
    for issue_id in issues:  # a transaction each: an issue of a million readers holds no long lock
        with rt.session() as session:
            unread.count_issue(session, issue_id, utcnow())
    asked = paused = 0
    while True:
        with rt.session() as session:
            now = utcnow()
            outcome = sunset.run(session, now, rt.settings.sunset_issues)
            mails = [
                transactional.record(session, i, lang, now=now, kind=MailKind.REENGAGE)
                for i, lang in outcome.asked
            ]
        if mails:
            rt.tasks.send_mails(mails)
        asked, paused = asked + len(outcome.asked), paused + len(outcome.paused)
        if len(outcome.asked) < sunset.CHUNK and len(outcome.paused) < sunset.CHUNK:
            return {"asked": asked, "paused": paused}


@app.task(name=SUNSET, queue="assemble", bind=True)
def sunset_readers(self) -> dict[str, int]:
    """Beat, daily."""
    return run_sunset(runtime_of(self.app))
