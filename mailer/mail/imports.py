"""A subscriber import's task: the file imported chunk by chunk (subscribers.import_jobs), and, when
the editor chose to ask the readers, one confirmation mail per reader added, written to the outbox in
the chunk's own transaction and handed to the `mail` queue once it is committed (a lost hand-over is
queued again by beat's sweep, as for a sign-up)."""

from __future__ import annotations

from sqlalchemy import insert

from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.mail.models import MailKind, MailStatus, OutboxMail
from mailer.runtime import Runtime
from subscribers.csv_import import Added
from subscribers.import_jobs import run_import_job
from subscribers.models import Status

IMPORT_SUBSCRIBERS = "mailer.import_subscribers"


def write_confirmations(session, added: list[Added]) -> list[int]:
    """An outbox row (a confirmation mail) for each pending reader added; their ids."""
    pending = [a for a in added if a.status == Status.PENDING]
    if not pending:
        return []
    now = utcnow()
    rows = [
        {
            "kind": MailKind.CONFIRMATION.value,
            "subscriber_id": a.id,
            "lang": a.lang,
            "created_at": now,
            "queued_at": now,
            "status": MailStatus.PENDING.value,
        }
        for a in pending
    ]
    return list(session.scalars(insert(OutboxMail).returning(OutboxMail.id), rows))


def run_import(rt: Runtime, job_id: int) -> str:
    waiting: list[int] = []

    def on_added(session, added: list[Added]) -> None:
        waiting.extend(write_confirmations(session, added))

    def after_chunk() -> None:
        if waiting:
            rt.tasks.send_mails(list(waiting))
            waiting.clear()

    return run_import_job(rt, job_id, on_added=on_added, after_chunk=after_chunk)


# On the background worker's queue, with feed ingestion: a long import never holds up a send.
@app.task(name=IMPORT_SUBSCRIBERS, queue="ingest", bind=True, acks_late=True)
def import_subscribers(self, job_id: int) -> str:
    return run_import(runtime_of(self.app), job_id)
