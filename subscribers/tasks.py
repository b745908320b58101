"""The Celery task around a desk upload's import (the body is subscribers.import_jobs.run_import_job)."""

from __future__ import annotations

from mailer.celery_app import app, runtime_of
from subscribers.import_jobs import run_import_job

IMPORT_SUBSCRIBERS = "mailer.import_subscribers"


# On the background worker's queue, with feed ingestion: a long import never holds up a send.
@app.task(name=IMPORT_SUBSCRIBERS, queue="ingest", bind=True, acks_late=True)
def import_subscribers(self, job_id: int) -> str:
    return run_import_job(runtime_of(self.app), job_id)
