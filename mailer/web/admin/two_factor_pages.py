"""The desk's two-factor page, for one's own account: turn it on (scan the QR code, confirm with a
code, keep the recovery codes shown once), make new recovery codes, or turn it off. The last two ask
for a current code or the password, throttled as logins are."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.db import utcnow
from mailer.issues.models import Editor
from mailer.web.admin import two_factor
from mailer.web.admin.auth import ENROLMENT, check_csrf
from mailer.web.admin.pages import CurrentEditor, FormField, back, page, page_lang
from mailer.web.admin.totp import enrolment_secret
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
from mailer.web.ratelimit import client_key

router = APIRouter(prefix="/admin")


def _page(
    request: Request,
    session,
    editor: Editor,
    status_code: int = 200,
    secret: str | None = None,
    **extra,
) -> HTMLResponse:
    settings = settings_of(request)
    enrol = None if editor.has_2fa else two_factor.enrolment(settings, editor, secret)
    response = page(
        request,
        "two_factor",
        status_code,
        editor=editor,
        enrol=enrol,
        key=" ".join(enrol.secret[i : i + 4] for i in range(0, len(enrol.secret), 4))
        if enrol
        else "",
        left=two_factor.recovery_left(session, editor) if editor.has_2fa else 0,
        required=settings.require_2fa and editor.is_admin,
        notice=request.query_params.get("n"),
        **extra,
    )
    response.headers["Cache-Control"] = "no-store"  # a secret or recovery codes: kept by no cache
    return response


@router.get("/two-factor", response_class=HTMLResponse)
def two_factor_page(request: Request, session: DbSession, editor: CurrentEditor):
    return _page(request, session, editor)


@router.post("/two-factor", response_class=HTMLResponse)
def two_factor_change(
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    action: FormField = "",
    token: FormField = "",
    code: FormField = "",
    proof: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    t = texts(page_lang(request))
    settings = settings_of(request)
    now = utcnow()
    if action == "enable" and not editor.has_2fa:
        try:
            codes = two_factor.enable(session, settings, editor, token, code, now)
        except ValueError:
            error = t._("The setup took too long. Scan the new code and try again.")
            return _page(request, session, editor, 400, error=error)
        if codes is None:
            error = t._(
                "That code is not right. Check that your phone's clock is right and try again."
            )
            secret = enrolment_secret(settings, token, editor.id)
            return _page(request, session, editor, 400, secret=secret, error=error)
        session.commit()
        return _page(request, session, editor, codes=codes)
    if action not in ("disable", "codes") or not editor.has_2fa:
        return back(ENROLMENT)  # a stale form (turned on or off in another tab): the page as it is
    throttle = request.app.state.login_throttle
    client = client_key(request.client.host if request.client else None)
    if wait := throttle.retry_after(editor.name, client):
        error = t.ngettext(
            "Too many failed tries. Try again in %(num)s second.",
            "Too many failed tries. Try again in %(num)s seconds.",
            wait,
        )
        response = _page(request, session, editor, 429, error=error)
        response.headers["Retry-After"] = str(wait)
        return response
    if action == "disable" and settings.require_2fa and editor.is_admin:
        error = t._("Admins must keep two-factor login on.")
        return _page(request, session, editor, 400, error=error)
    if not two_factor.check_proof(session, settings, editor, proof, now):
        throttle.failed(editor.name, client)
        error = t._("That code or password is not right.")
        return _page(request, session, editor, 400, error=error)
    throttle.succeeded(editor.name, client)
    if action == "codes":
        codes = two_factor.new_recovery_codes(session, settings, editor)
        session.commit()
        return _page(request, session, editor, codes=codes)
    two_factor.disable(session, editor)
    session.commit()
    return back(ENROLMENT, n="2fa_off")
