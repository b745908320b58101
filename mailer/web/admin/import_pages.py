"""The desk's CSV import: the upload is streamed to a file and counted as it arrives (refused past
MAILER_UPLOAD_MAX_BYTES, never held in memory whole), an import job row describes it, and the import
runs as a task (subscribers.import_jobs), never on the web process's event loop; the job's page shows
its progress and outcome in the page's language."""

from __future__ import annotations

import logging
import os
import shutil
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from mailer.coded import decode
from mailer.runtime import Runtime
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentAdmin, page, page_lang
from mailer.web.admin.subscriber_pages import list_page, upload_limit
from mailer.web.deps import DbSession, get_runtime
from mailer.web.i18n import texts
from mailer.web.labels import N_
from subscribers import csv_import, csv_source, import_jobs
from subscribers.import_jobs import ImportJob, JobStatus

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin")

COPY_CHUNK = 1024 * 1024

# BadRow.code, as subscribers.csv_import names it -> the sentence; %(value)s is the value at fault
BAD_ROW_REASONS = {
    csv_import.BAD_EMAIL_EMPTY: N_("The email address is empty."),
    csv_import.BAD_EMAIL: N_("Not a valid email address."),
    csv_import.BAD_LANG: N_("lang %(value)s is not one of ko, en, both."),
    csv_import.BAD_STATUS: N_("status %(value)s is not allowed; the values are: %(statuses)s"),
    csv_import.BAD_CREATED_AT: N_("created_at %(value)s is not an ISO 8601 date."),
}
# Why a whole file stopped (CsvError.code, or the job's own codes) -> the sentence
FILE_ERRORS = {
    csv_source.EMPTY: N_("The file is empty: its first row must name the email and lang columns."),
    csv_source.HEADER: N_("The first row has no %(missing)s column (found: %(found)s)."),
    csv_source.LINE_TOO_LONG: N_(
        "Line %(line)s is longer than %(limit)s characters: this is not a subscriber list."
    ),
    csv_source.RECORD_TOO_LONG: N_(
        "Line %(line)s: a row runs past %(limit)s characters (is a quote left open?)."
    ),
    csv_source.NUL: N_("Line %(line)s holds NUL bytes: this is not a CSV text file."),
    csv_source.ENCODING: N_("Line %(line)s is not %(encoding)s text. Save the file as UTF-8 CSV."),
    csv_source.UNREADABLE: N_("Line %(line)s could not be read as CSV."),
    import_jobs.QUEUE_DOWN: N_(
        "The task queue could not be reached, so the import did not start. Try again shortly."
    ),
    import_jobs.FILE_GONE: N_(
        "The worker did not find the uploaded file (do the web and worker processes share "
        "MAILER_UPLOAD_DIR?)."
    ),
}
JOB_STATES = {
    JobStatus.QUEUED: N_("Waiting for a worker"),
    JobStatus.RUNNING: N_("Importing"),
    JobStatus.DONE: N_("Done"),
    JobStatus.FAILED: N_("Stopped"),
}


def bad_row_reason(bad: csv_import.BadRow, lang: str) -> str:
    """Why the CSV reader skipped a row, in the page's language."""
    message = BAD_ROW_REASONS.get(bad.code)
    if message is None:
        return bad.reason
    value = repr(bad.params.get("value", ""))  # quoted: an empty or spaced value stays visible
    return texts(lang)._(message, value=value, statuses=", ".join(csv_import.STATUSES))


def file_error(stored: str | None, lang: str) -> str | None:
    """Why a job's file stopped, in the page's language."""
    coded = decode(stored)
    if coded is None:
        return None
    message = FILE_ERRORS.get(coded.code)
    t = texts(lang)
    if message is None:
        return t._("The import stopped on an unexpected error; the log has the details.")
    return t._(message, **{k: str(v) for k, v in coded.params.items()})


class TooLarge(Exception):
    pass


async def _capped(request: Request, limit: int):
    """The body as it arrives, stopped as soon as it passes `limit` bytes."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        yield chunk


async def _form(request: Request, limit: int) -> FormData:
    """The posted form, its file spooled to disk by Starlette's parser (a megabyte at most in memory)
    and counted: a declared length is believed only when it says too much."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return FormData()
    parser = MultiPartParser(request.headers, _capped(request, limit), max_files=1, max_fields=5)
    return await parser.parse()


TEMPLATE_CSV = ",".join((*csv_import.REQUIRED, *csv_import.OPTIONAL)) + "\r\n"


def import_options(mode: str, consent: str, t) -> csv_import.ImportOptions | str:
    """What the form asks the rows to become, or why it cannot (in the page's language)."""
    if mode not in csv_import.MODES:
        return t._("Choose what the imported readers become.")
    options = csv_import.ImportOptions(mode, consent)
    if mode == csv_import.CONFIRMED and not options.consent:
        return t._(
            "Say where these readers gave their consent: readers subscribed without it cannot be "
            "told apart from a bought list."
        )
    return options


def mode_text(job: ImportJob, t) -> str:
    if job.mode == csv_import.CONFIRM_BY_MAIL:
        return t._(
            "Each new reader is sent a confirmation mail and gets the newsletter once they confirm."
        )
    return t._("New readers are subscribed now.")


def _save(
    runtime: Runtime,
    upload: UploadFile,
    requested_by: str,
    options: csv_import.ImportOptions,
) -> int:
    """Copy the upload where the import task reads it (private to this user: it holds addresses), and
    describe it by a queued job; returns the job's id."""
    folder = os.path.abspath(runtime.settings.upload_dir)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"import-{uuid.uuid4().hex}.csv")
    upload.file.seek(0)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        shutil.copyfileobj(upload.file, out, COPY_CHUNK)
        size = out.tell()
    with runtime.session() as session:
        job = import_jobs.create(
            session,
            path=path,
            filename=upload.filename or "",
            size=size,
            requested_by=requested_by,
            options=options,
        )
        return job.id


@router.post("/subscribers/import")
async def subscribers_import(request: Request, session: DbSession, editor: CurrentAdmin):
    """Async only to read the body as it streams in; everything that blocks runs in a thread."""
    runtime = get_runtime(request)
    lang = page_lang(request)
    t = texts(lang)
    limit = runtime.settings.upload_max_bytes

    chosen: dict[str, str] = {}

    def refused(status: int, message: str):
        return run_in_threadpool(
            list_page,
            request,
            session,
            editor,
            status,
            error=message,
            import_mode=chosen.get("mode"),
            import_consent=chosen.get("consent"),
        )

    try:
        form = await _form(request, limit)
    except TooLarge:
        return await refused(
            413,
            t._(
                "The file is larger than %(size)s, so nothing was imported.",
                size=upload_limit(request),
            ),
        )
    except MultiPartException:
        return await refused(400, t._("Choose a CSV file to import."))
    try:
        check_csrf(request, str(form.get("csrf_token", "")))
        chosen.update(mode=str(form.get("mode", "")), consent=str(form.get("consent", "")))
        options = import_options(chosen["mode"], chosen["consent"], t)
        if isinstance(options, str):
            return await refused(400, options)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):  # a form field, not an uploaded file
            return await refused(400, t._("Choose a CSV file to import."))
        try:
            job_id = await run_in_threadpool(_save, runtime, upload, editor.name, options)
        except OSError:
            log.exception("desk upload not saved in %s", runtime.settings.upload_dir)
            return await refused(
                503,
                t._(
                    "The file could not be saved on the server, so nothing was imported. "
                    "The operator should check MAILER_UPLOAD_DIR."
                ),
            )
    finally:
        await form.close()
    # Run after the answer is sent, in a thread: with a broker this only queues the task; in process
    # the import runs there, and the job's page shows its progress meanwhile.
    return RedirectResponse(
        f"/admin/subscribers/imports/{job_id}?lang={lang}",
        status_code=303,
        background=BackgroundTask(runtime.tasks.import_subscribers, job_id),
    )


@router.get("/subscribers/import/template.csv")
def import_template(editor: CurrentAdmin) -> Response:
    """The columns an import reads, as a CSV header to fill in (no sample rows: they would be imported)."""
    return Response(
        TEMPLATE_CSV,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="subscribers-template.csv"'},
    )


@router.get("/subscribers/imports/{job_id:issue_number}", response_class=HTMLResponse)
def import_job_page(job_id: int, request: Request, session: DbSession, editor: CurrentAdmin):
    lang = page_lang(request)
    t = texts(lang)
    job = session.get(ImportJob, job_id)
    if job is None:
        return page(request, "refused", 404, editor=editor, error=t._("There is no such import."))
    bad_rows = [
        (line, bad_row_reason(csv_import.BadRow(line, code, params), lang))
        for line, code, params in job.bad_rows or []
    ]
    summary = t._(
        "%(rows)s rows: %(added)s added, %(existing)s already on file, %(suppressed)s suppressed, %(bad)s bad",
        rows=job.rows,
        added=job.added,
        existing=job.existing,
        suppressed=job.suppressed,
        bad=job.bad,
    )
    error = file_error(job.error, lang)
    kept = None
    if error:
        kept = (
            t._("The rows before it were imported: %(summary)s", summary=summary)
            if job.rows
            else t._("Nothing was imported.")
        )
    return page(
        request,
        "import_job",
        editor=editor,
        job=job,
        state=t._(JOB_STATES[JobStatus(job.status)]),
        mode=mode_text(job, t),
        summary=summary,
        error=error,
        kept=kept,
        bad_rows=bad_rows,
    )
