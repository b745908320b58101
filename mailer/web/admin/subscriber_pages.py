"""The desk's subscriber pages: search, CSV import and export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from mailer.db import session_scope, utcnow
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentEditor, DbSession, back, page, page_lang
from mailer.web.admin.texts import TEXTS

router = APIRouter(prefix="/admin")


# --- subscribers ------------------------------------------------------------------------------

SEARCH_LIMIT = 100


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(request: Request, session: DbSession, editor: CurrentEditor, q: str = ""):
    from subscribers.service import search

    return page(request, "subscribers", editor=editor, q=q, rows=search(session, q, limit=SEARCH_LIMIT),
                 report=request.query_params.get("report"))


@router.post("/subscribers/import")
async def subscribers_import(request: Request, session: DbSession, editor: CurrentEditor):
    from subscribers.csv_import import CountedBytes, import_rows, read_rows, text_of

    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    upload = form.get("file")
    t = TEXTS[page_lang(request)]
    if not hasattr(upload, "file"):  # a form field, not an uploaded file
        return page(request, "subscribers", 400, editor=editor, q="", rows=[], error=t["error"])
    try:  # import_rows commits chunk by chunk, like the CLI
        report = import_rows(session, read_rows(text_of(CountedBytes(upload.file))), now=utcnow())
    except ValueError as exc:  # a bad header, a subscriber error, or a file that is not UTF-8
        session.rollback()
        return page(request, "subscribers", 400, editor=editor, q="", rows=[], error=f"{t['error']}: {exc}")
    summary = t["imported"].format(rows=report.rows, added=report.added, existing=report.existing,
                                   suppressed=report.suppressed, bad=report.bad)
    return back("/admin/subscribers", report=summary)


def _export_stream(status: str | None):
    from subscribers.csv_export import csv_lines

    with session_scope() as session:
        yield from csv_lines(session, status=status)


@router.get("/subscribers/export.csv")
def subscribers_export(session: DbSession, editor: CurrentEditor, status: str | None = None):
    """Streamed a page of rows at a time, as `mailer subscribers export` writes it: a large list is never
    held in memory. From a session of the stream's own: the request's (the login check) is closed here,
    not held open for the whole download."""
    session.close()
    return StreamingResponse(_export_stream(status or None), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="subscribers.csv"', "Cache-Control": "no-store"})
