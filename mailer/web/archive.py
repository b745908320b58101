"""The public archive: every sent issue, and each edition as a browser shows it ("view in browser").

The stored edition is served with its subscriber placeholders replaced by the sign-up page, so no
reader's unsubscribe or preference link ever appears here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.issues import archive
from mailer.langs import EDITIONS
from mailer.web import language
from mailer.web.deps import DbSession, settings_of

router = APIRouter()
# An edition shows its stories' pictures from the news site; it runs no script and may not be framed.
EDITION_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'"
)


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: DbSession):
    lang = language.choose(
        None, request.query_params.get("lang"), request.headers.get("accept-language")
    )
    other = language.other(lang)
    return request.app.state.templates.TemplateResponse(
        request,
        "archive.html",
        {
            "lang": lang,
            "other_lang": other,
            "switch_url": f"/archive?lang={other}",
            "issues": archive.public_issues(session),
        },
    )


@router.get("/archive/{number:issue_number}/{lang}", response_class=HTMLResponse)
def archive_edition(number: int, lang: str, request: Request, session: DbSession):
    edition = archive.public_edition(session, number, lang) if lang in EDITIONS else None
    if edition is None:
        page_lang = language.choose(
            None, request.query_params.get("lang"), request.headers.get("accept-language")
        )
        return request.app.state.templates.TemplateResponse(
            request,
            "archive_missing.html",
            {"lang": page_lang},
            status_code=404,
        )
    return HTMLResponse(
        archive.archive_html(edition, settings_of(request)),
        headers={"Content-Security-Policy": EDITION_POLICY, "Cache-Control": "public, max-age=300"},
    )
