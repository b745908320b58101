"""What every public page shares: its language, the switch to the other one, the publication's name.

The page language is the reader's: `?lang=` (the switch) sets it and a cookie remembers it; without
either the browser's Accept-Language decides, then Korean. A subscriber's edition never does.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_time, get_timezone_name
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from mailer.web import language
from mailer.web.deps import settings_of


def page_lang(request: Request) -> str:
    return language.choose(
        request.query_params.get("lang"),
        request.cookies.get(language.COOKIE),
        request.headers.get("accept-language"),
    )


def remember(request: Request, response: Response) -> None:
    """A switch the reader pressed (?lang=) is kept for a year, for every page of the site."""
    asked = request.query_params.get("lang")
    if asked in language.PAGE_LANGS and request.cookies.get(language.COOKIE) != asked:
        response.set_cookie(
            language.COOKIE,
            asked,
            max_age=language.COOKIE_MAX_AGE,
            path="/",
            samesite="lax",
            httponly=True,
            secure=settings_of(request).public_url.startswith("https://"),
        )


def context(request: Request, lang: str) -> dict:
    """The template values base.html needs on every public page."""
    other = language.other(lang)
    return {
        "lang": lang,
        "other_lang": other,
        "switch_url": language.switch_url(
            request.url.path, request.query_params.multi_items(), other
        ),
        "publication": settings_of(request).from_name(lang),
    }


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    lang: str | None = None,
    headers: dict[str, str] | None = None,
    **values,
) -> HTMLResponse:
    """templates/web/<name>.html in the reader's page language, remembering a switch."""
    lang = lang or page_lang(request)
    response = request.app.state.templates.TemplateResponse(
        request,
        f"{name}.html",
        {**context(request, lang), **values},
        status_code=status_code,
        headers=headers,
    )
    remember(request, response)
    return response


def say_when(when: datetime, lang: str) -> str:
    """A moment as a reader reads it: the full date, the time and its zone's name, in the page's language."""
    return " ".join(
        (
            format_date(when, "full", locale=lang),
            format_time(when, "short", locale=lang),
            get_timezone_name(when, "long", locale=lang),
        )
    )
