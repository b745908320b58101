"""A desk upload's import, run as a task off the web process's event loop: the upload is saved to a file
and described by an ImportJob row, the task imports it chunk by chunk (as `mailer subscribers import`
does) and records its progress in the row, and the desk's job page reads the row.

A job is claimed with a compare-and-set from `queued`, so a second delivery of the task does nothing;
an import is idempotent anyway (only new addresses are inserted), so importing the file again is the
way to finish one a crashed worker left `running`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from mailer.coded import encode
from mailer.db import Base, UTCDateTime, one_of, utcnow
from subscribers import csv_import
from subscribers.csv_import import BadRow, CountedBytes, CsvError, read_rows, text_of

if TYPE_CHECKING:
    from mailer.runtime import Runtime

log = logging.getLogger(__name__)

KEPT_BAD_ROWS = 200  # bad rows kept on the job for its page; `bad` counts them all
QUEUE_DOWN = "queue_down"  # ImportJob.error's code when the task could not be handed to a worker
FILE_GONE = "file_gone"  # the upload is not where the web process saved it (no shared volume?)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (one_of("status", JobStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000))  # the saved upload, deleted when the job ends
    filename: Mapped[str] = mapped_column(String(255))  # as the editor's browser named it
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    bytes_total: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)  # rows committed so far
    added: Mapped[int] = mapped_column(Integer, default=0)
    existing: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    # What the rows become (csv_import.CONFIRMED or CONFIRM_BY_MAIL) and the consent the editor named
    mode: Mapped[str] = mapped_column(String(16), default="confirmed", server_default="confirmed")
    consent_detail: Mapped[str | None] = mapped_column(String(200))
    bad_rows: Mapped[list | None] = mapped_column(JSON)  # [[line, code, params], ...] first ones
    error: Mapped[str | None] = mapped_column(Text)  # mailer.coded JSON: why the file stopped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def live(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return min(99, self.bytes_done * 100 // self.bytes_total) if self.bytes_total else 0


def create(
    session,
    *,
    path: str,
    filename: str,
    size: int,
    requested_by: str,
    options: csv_import.ImportOptions | None = None,
) -> ImportJob:
    options = options or csv_import.ImportOptions()
    job = ImportJob(
        path=path,
        filename=filename[:255],
        bytes_total=size,
        requested_by=requested_by[:64],
        status=JobStatus.QUEUED,
        mode=options.mode,
        consent_detail=options.consent,
    )
    session.add(job)
    session.flush()
    return job


def recent(session, limit: int = 5) -> list[ImportJob]:
    """The newest jobs first, for the subscribers page to link to."""
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)))


def fail_unqueued(session, job_id: int) -> None:
    """The broker did not take the task: the job says so at once, rather than waiting forever, and its
    file (addresses) is not kept for nothing."""
    job = session.get(ImportJob, job_id)
    if job is not None:
        _remove(job.path)
    _finish(session, job_id, JobStatus.FAILED, error=encode(QUEUE_DOWN))


def _finish(session, job_id: int, status: JobStatus, **values) -> None:
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status=status, finished_at=utcnow(), **values)
    )


def _claim(rt: Runtime, job_id: int) -> tuple[str, csv_import.ImportOptions] | None:
    """The job's file and options, if this run won the job (queued -> running); None if another run
    has it."""
    with rt.session() as session:
        won = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, started_at=utcnow())
        )
        if not won.rowcount:  # type: ignore[attr-defined]  # DML gives a CursorResult
            return None
        job = session.get_one(ImportJob, job_id)
        return job.path, csv_import.ImportOptions(job.mode, job.consent_detail)


def run_import_job(
    rt: Runtime,
    job_id: int,
    on_added=lambda session, added: None,
    after_chunk=lambda: None,
) -> str:
    """The task body: import the job's file, recording progress per committed chunk; returns the
    job's final status ("skipped" when another run holds it). `on_added` runs in each chunk's
    transaction with the readers it added (the confirmation mails are written there), `after_chunk`
    after its commit (they are handed to the workers)."""
    claimed = _claim(rt, job_id)
    if claimed is None:
        return "skipped"
    path, options = claimed
    bad_rows: list = []
    counts: dict = {}

    def on_bad_row(bad: BadRow) -> None:
        if len(bad_rows) < KEPT_BAD_ROWS:
            bad_rows.append([bad.line, bad.code, bad.params])

    try:
        with open(path, "rb") as binary, rt.session() as session:
            counted = CountedBytes(binary)

            def on_chunk(report) -> None:
                counts.update(
                    rows=report.rows,
                    added=report.added,
                    existing=report.existing,
                    suppressed=report.suppressed,
                    bad=report.bad,
                )
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(bytes_done=counted.count, **counts)
                )
                session.commit()
                after_chunk()

            csv_import.import_rows(
                session,
                read_rows(text_of(counted)),
                now=utcnow(),
                options=options,
                on_bad_row=on_bad_row,
                # the mails are asked for by the job, not by a row's own `pending`
                on_added=on_added if options.mode == csv_import.CONFIRM_BY_MAIL else _nobody,
                on_chunk=on_chunk,
            )
        status, error = JobStatus.DONE, None
    except CsvError as exc:  # what was committed before it stays, and the page says how much
        status, error = JobStatus.FAILED, encode(exc.code, **_plain(exc.params))
    except FileNotFoundError:
        status, error = JobStatus.FAILED, encode(FILE_GONE)
    except Exception:
        log.exception("import job %s failed", job_id)
        status, error = JobStatus.FAILED, encode("crashed")
    finally:
        _remove(path)
    with rt.session() as session:
        _finish(session, job_id, status, bad_rows=bad_rows, error=error, **counts)
    return status.value


def _nobody(session, added) -> None:
    pass


def _plain(params: dict) -> dict:
    return {k: v if isinstance(v, int) else str(v) for k, v in params.items()}


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):  # already gone: nothing to clean
        os.remove(path)
