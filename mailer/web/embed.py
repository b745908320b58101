"""The sign-up form other sites embed: POST /signup (a form or JSON), its ALTCHA challenge (GET
/signup/challenge) and the widget's script, vendored (GET /static/altcha/...).

It needs no page of ours first, so it has no CSRF token: a solved proof-of-work challenge, accepted
once, and a honeypot field stand in for it. The same per-client limit, the same limits on mails, the
same wait and the same answer for every address as our sign-up page (mailer.web.signup). Script on
the origins in MAILER_SIGNUP_ORIGINS may call it (CORS), on these routes only.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from mailer import templates_dir
from mailer.langs import EDITIONS
from mailer.web import challenge, page, ratelimit, signup
from mailer.web.deps import settings_of
from mailer.web.i18n import texts
from mailer.web.public import subscribe_form_page
from subscribers import tokens
from subscribers.emails import InvalidEmail, normalize

router = APIRouter()

SIGNUP_PATH = "/signup"
CHALLENGE_PATH = "/signup/challenge"
CORS_PATHS = frozenset({SIGNUP_PATH, CHALLENGE_PATH})
HONEYPOT = "website"  # hidden from people; a bot filling every field fills it
# The widget's browser bundle, pinned: templates/web/static/altcha/README.md says where it came from.
WIDGET_VERSION = "3.2.2"
WIDGET_DIR = templates_dir() / "web" / "static" / "altcha"
WIDGET_SCRIPTS = frozenset({f"altcha-{WIDGET_VERSION}.min.js", f"altcha-{WIDGET_VERSION}-ko.js"})
# A page load fetches one challenge; the widget fetches another when one expires.
CHALLENGES_PER_IP = ratelimit.Limit(burst=30, per_hour=300)
FIELD_MAX_CHARS = 4096


class SignupCors:
    """CORS for the embeddable form's routes only, for exactly the configured origins: a preflight is
    answered here; any other answer on those routes (a 413 or a 429 included) names the origin."""

    def __init__(self, app, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=("Content-Type",),
            expose_headers=("Retry-After",),
            max_age=600,
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in CORS_PATHS:
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


def widget_script_urls(base: str, lang: str) -> list[str]:
    """The widget's scripts a page in `lang` loads: the widget (English built in), then Korean."""
    urls = [f"{base}/static/altcha/altcha-{WIDGET_VERSION}.min.js"]
    if lang == "ko":
        urls.append(f"{base}/static/altcha/altcha-{WIDGET_VERSION}-ko.js")
    return urls


@router.get("/static/altcha/{name}")
def widget_script(name: str):
    """The vendored widget, from the package: never a CDN. Other sites' pages load it."""
    if name not in WIDGET_SCRIPTS:
        return Response(status_code=404)
    return FileResponse(
        WIDGET_DIR / name,
        media_type="text/javascript",
        headers={
            "Cache-Control": "public, max-age=86400",  # the version is in the name
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.get(CHALLENGE_PATH)
def new_challenge(request: Request):
    limited = request.app.state.rate_limiter.hit(
        "challenge-ip", ratelimit.client_key(signup.client_ip(request)), CHALLENGES_PER_IP
    )
    if not limited.allowed:
        return _json_refusal(page.page_lang(request), "rate_limited", limited)
    issued = challenge.issue(
        settings_of(request), time.time(), request.app.state.challenge_difficulty
    )
    return JSONResponse(issued, headers={"Cache-Control": "no-store"})


def _wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == (
        "application/json"
    )


async def _fields(request: Request, as_json: bool) -> dict[str, str] | None:
    """The posted fields as strings (anything else counts as empty); None for a body not to be read."""
    try:
        raw: Any = await request.json() if as_json else dict(await request.form())
    except (ValueError, HTTPException):  # broken JSON or multipart: a clear refusal, not a 500
        return None
    if not isinstance(raw, dict):
        return None
    return {str(k): v[:FIELD_MAX_CHARS] if isinstance(v, str) else "" for k, v in raw.items()}


def _message(lang: str, problem: str, decision: ratelimit.Decision | None = None) -> str:
    t = texts(lang)
    if problem == "rate_limited":
        minutes = signup.minutes_to_wait(decision) if decision else 1
        return t.ngettext(
            "Too many sign-ups came from this network. Please try again in about %(num)s minute.",
            "Too many sign-ups came from this network. Please try again in about %(num)s minutes.",
            minutes,
        )
    return {
        "body": lambda: t._("We could not read the form. Please submit it once more."),
        "challenge": lambda: t._(
            "The check that you are not a robot was not finished, or it expired. Please check "
            "the box again and submit the form once more."
        ),
        "lang": lambda: t._("Please choose a language."),
        "email": lambda: t._("Please enter a valid email address."),
    }[problem]()


def _json_refusal(
    lang: str, problem: str, decision: ratelimit.Decision | None = None
) -> JSONResponse:
    status = 429 if problem == "rate_limited" else 400
    headers = {"Cache-Control": "no-store"}
    if decision is not None:
        headers["Retry-After"] = str(decision.retry_after)
    body = {"ok": False, "error": problem, "message": _message(lang, problem, decision)}
    return JSONResponse(body, status_code=status, headers=headers)


def _refusal(request: Request, lang: str, as_json: bool, problem: str, fields: dict[str, str]):
    """What a refused post gets: JSON for JSON; for a form, our own sign-up page saying what to
    fix, with our own form (and token), so the reader can finish here."""
    if as_json:
        return _json_refusal(lang, problem)
    return subscribe_form_page(
        request,
        lang,
        status_code=400,
        error=_message(lang, problem),
        email=fields.get("email", "").strip(),
        chosen=fields.get("lang"),
    )


def _sent(request: Request, lang: str, as_json: bool, email: str, edition: str):
    """The one answer every valid sign-up gets, whatever the address: the page's own words."""
    if as_json:
        message = texts(lang).ngettext(
            "We sent a link to confirm your subscription to %(email)s. It is valid for %(num)s "
            "day, and nothing is sent until you open it and press Confirm. If you cannot see it, "
            "look in your spam folder.",
            "We sent a link to confirm your subscription to %(email)s. It is valid for %(num)s "
            "days, and nothing is sent until you open it and press Confirm. If you cannot see it, "
            "look in your spam folder.",
            tokens.CONFIRM_MAX_AGE_DAYS,
            email=email,
        )
        return JSONResponse({"ok": True, "message": message}, headers={"Cache-Control": "no-store"})
    return subscribe_form_page(
        request,
        lang,
        name="subscribe_sent",
        email=email,
        chosen=edition,
        days=tokens.CONFIRM_MAX_AGE_DAYS,
    )


_FIELDS = {"type": "string", "maxLength": FIELD_MAX_CHARS}
_BODY = {
    "type": "object",
    "required": ["email", "lang", "altcha"],
    "properties": {"email": _FIELDS, "lang": {"enum": list(EDITIONS)}, "altcha": _FIELDS},
}
# Read by hand (a form or JSON alike); the schema says what the route takes, for clients and fuzzing.
SIGNUP_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _BODY},
            "application/x-www-form-urlencoded": {"schema": _BODY},
        },
    }
}


@router.post(SIGNUP_PATH, openapi_extra=SIGNUP_OPENAPI)
async def embedded_signup(request: Request, background: BackgroundTasks):
    """Fields as the sign-up page's: `email`, `lang` (the edition), plus `altcha` (the widget's
    solution) and the empty honeypot. The answer's language is the page's (?lang=, else the browser's).

    A post without a solved challenge, or with one used, altered or expired, is refused and changes
    nothing. A filled honeypot gets the usual answer, at the usual time, and nothing is done."""
    arrived = time.monotonic()
    lang = page.page_lang(request)
    as_json = _wants_json(request)
    limited = await signup.client_limited(request)
    if not limited.allowed:
        if as_json:
            return _json_refusal(lang, "rate_limited", limited)
        return signup.rate_limited_page(request, lang, limited)
    fields = await _fields(request, as_json)
    if fields is None:
        return _refusal(request, lang, as_json, "body", {})
    settings = settings_of(request)
    checked = await run_in_threadpool(challenge.check, settings, fields.get("altcha"))
    if checked.verdict is not challenge.Verdict.SOLVED:
        return _refusal(request, lang, as_json, "challenge", fields)
    edition, email = fields.get("lang", ""), fields.get("email", "").strip()
    if edition not in EDITIONS:
        return _refusal(request, lang, as_json, "lang", fields)
    try:
        address = normalize(email)
    except InvalidEmail:
        return _refusal(request, lang, as_json, "email", fields)
    # Spent only now: a reader who mistyped the address resubmits with the same solution.
    spent = request.app.state.spent_challenges
    if not await run_in_threadpool(challenge.spend, spent, checked, time.time()):
        return _refusal(request, lang, as_json, "challenge", fields)
    if fields.get(HONEYPOT, "").strip():
        await signup.wait_out(request, arrived)
    else:
        await signup.sign_up(request, background, address, edition, arrived)
    return _sent(request, lang, as_json, email, edition)
