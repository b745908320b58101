"""The editor's desk over HTTP: who may in, and what editors do there."""

import re

from sqlalchemy import func, select

from mailer.db import utcnow
from mailer.issues.service import draft_issue

from .conftest import PASSWORD, csrf_of, log_in


def _routes(routes, prefix=""):
    """Every route, through included routers (FastAPI may keep them as router objects)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix)
        elif hasattr(route, "methods"):
            yield route.methods, prefix + route.path


def _admin_routes(app):
    for methods, path in _routes(app.routes):
        route = type("R", (), {"methods": methods})
        # the login page, and the stylesheet it needs (public, nothing secret in it)
        if path.startswith("/admin") and path not in ("/admin/login", "/admin/desk.css"):
            for method in route.methods - {"HEAD"}:
                path = re.sub(r"\{\w+:(issue_number|int)\}", "1", path)
                yield method, path.replace("{lang}", "ko")


def test_every_admin_route_refuses_an_anonymous_request(anonymous, drafted):
    routes = list(_admin_routes(anonymous.app))
    assert len(routes) >= 12
    for method, path in routes:
        response = anonymous.request(method, path, data={"csrf_token": "x", "action": "send"})
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith(
                "/admin/login"
            ), path
        else:
            assert response.status_code == 401, (method, path)
    assert drafted.status == "draft"


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(anonymous, editor):
    assert log_in(anonymous, password="wrong password").status_code == 401
    response = log_in(anonymous)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"].lower()
    assert (
        "httponly" in cookie
        and "samesite=lax" in cookie
        and "secure" in cookie
        and "path=/admin" in cookie
    )
    page = anonymous.get("/admin")
    assert page.status_code == 200 and "mina" in page.text
    anonymous.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
    anonymous.cookies.clear()  # what the browser does with the expired cookie
    assert anonymous.get("/admin").status_code == 303


def test_a_forged_or_missing_csrf_token_is_refused(admin, drafted):
    assert admin.post("/admin/issues/1/action", data={"action": "cancel"}).status_code == 403
    assert (
        admin.post(
            "/admin/issues/1/action", data={"action": "cancel", "csrf_token": "forged"}
        ).status_code
        == 403
    )
    # a token from another login is no good either
    other = admin.get("/admin")
    token = csrf_of(other.text)
    admin.cookies.clear()
    log_in(admin)
    assert (
        admin.post(
            "/admin/issues/1/action", data={"action": "cancel", "csrf_token": token}
        ).status_code
        == 403
    )


def test_a_tampered_session_cookie_is_anonymous(anonymous, editor):
    log_in(anonymous)
    value = anonymous.cookies.get("mailer_admin")
    anonymous.cookies.clear()
    anonymous.cookies.set("mailer_admin", value[:-3] + "xyz", domain="testserver", path="/admin")
    assert anonymous.get("/admin").status_code == 303


def test_the_dashboard_shows_next_issue_empty_weeks_sends_and_subscribers(
    admin, session, drafted, settings
):
    draft_issue(session, utcnow(), settings)  # an empty week
    session.commit()
    page = admin.get("/admin?lang=en").text
    assert 'href="/admin/issues/1"' in page and "No new stories, so no issue was drafted" in page
    assert "Korean edition" in page and re.search(
        r"<td[^>]*>4</td>", page
    )  # 4 active Korean subscribers
    ko = admin.get("/admin?lang=ko").text
    assert "새 기사가 없어 초안을 만들지 않았습니다" in ko and 'lang="ko"' in ko


def test_edit_stories_and_editions_then_preview(admin, session, drafted):
    page = admin.get("/admin/issues/1")
    token = csrf_of(page.text)
    first, second = [
        int(a) for a in re.findall(r'class="story" data-article="(\d+)"', page.text)[:2]
    ]
    r = admin.post(
        "/admin/issues/1/stories", data={"action": "pin", "article_id": second, "csrf_token": token}
    )
    assert r.status_code == 303
    page = admin.get("/admin/issues/1").text
    assert re.findall(r'data-article="(\d+)"', page)[:2] == [str(second), str(first)]
    fields = {
        "csrf_token": token,
        "subject_ko": "이번 주 소식",
        "preheader_ko": "",
        "note_ko": "편집자 메모입니다",
        "subject_en": "This week",
        "preheader_en": "",
        "note_en": "",
        "subject_both": "",
        "preheader_both": "",
        "note_both": "",
    }
    assert admin.post("/admin/issues/1/editions", data=fields).status_code == 303
    preview = admin.get("/admin/issues/1/preview/ko")
    assert "편집자 메모입니다" in preview.text and "<title>이번 주 소식</title>" in preview.text
    assert "%unsubscribe_url%" not in preview.text
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    page = admin.get("/admin/issues/1").text
    # one frame an edition, loaded by the page's script when its tab opens: at 600 px, 375 px or dark
    assert (
        'data-src="/admin/issues/1/preview/ko?fit=1"' in page
        and " src=" not in page.split("<iframe")[1].split(">")[0]
    )
    assert 'data-width="600"' in page and 'data-width="375"' in page
    assert 'data-src="/admin/issues/1/preview/ko/dark?fit=1"' in page


def test_previews_are_sandboxed_in_their_frames_and_on_their_own(admin, drafted):
    """The mail's HTML comes from feeds and editors: in the desk's frames and opened alone it runs no
    script of its own and submits no form, from an origin of its own (not the desk's, with its cookie).
    Framed, the one script allowed is ours, by its nonce: it tells the page the mail's height."""
    from mailer.web.admin.preview_pages import FRAME_SANDBOX, SANDBOX

    page = admin.get("/admin/issues/1").text
    frames = re.findall(r"<iframe [^>]*>", page)
    assert len(frames) == 3 and all(f'sandbox="{FRAME_SANDBOX}"' in f for f in frames), frames
    assert "allow-scripts" not in SANDBOX and "allow-same-origin" not in FRAME_SANDBOX
    assert "allow-forms" not in FRAME_SANDBOX
    fitted = admin.get("/admin/issues/1/preview/ko?fit=1")
    policy = [p.strip() for p in fitted.headers["content-security-policy"].split(";")]
    nonce = re.search(r"script-src 'nonce-([^']+)'", fitted.headers["content-security-policy"])
    assert f"sandbox {FRAME_SANDBOX}" in policy and "default-src 'none'" in policy and nonce
    scripts = re.findall(r"<script[^>]*>", fitted.text)
    assert scripts == [f'<script nonce="{nonce.group(1)}">'], scripts  # ours alone
    assert "mailHeight" in fitted.text
    for path in ("/admin/issues/1/preview/ko", "/admin/issues/1/preview/en/dark"):
        preview = admin.get(path)
        policy = [p.strip() for p in preview.headers["content-security-policy"].split(";")]
        assert preview.status_code == 200 and f"sandbox {SANDBOX}" in policy
        assert "<title>" in preview.text and "default-src 'none'" in policy


def test_a_template_error_shows_on_save_and_nothing_is_kept(admin, session, drafted, monkeypatch):
    from mailer.issues import editing
    from mailer.rendering.render import RenderError

    def broken(*_a, **_k):
        raise RenderError("template ko/digest/body.mjml.j2, line 3: unexpected '}'")

    monkeypatch.setattr(editing, "render_issue", broken)
    token = csrf_of(admin.get("/admin/issues/1").text)
    r = admin.post(
        "/admin/issues/1/editions", data={"csrf_token": token, "subject_ko": "바뀐 제목"}
    )
    assert r.status_code == 422 and "line 3: unexpected" in r.text
    session.expire_all()
    assert "바뀐 제목" not in [e.subject for e in drafted.editions]


def test_schedule_test_send_and_actions(admin, session, drafted, settings):
    from pathlib import Path

    from mailer.delivery.models import Delivery

    token = csrf_of(admin.get("/admin/issues/1").text)
    r = admin.post(
        "/admin/issues/1/schedule",
        data={
            "csrf_token": token,
            "lang": "en",
            "date": "2099-01-05",
            "time": "07:00",
            "timezone": "America/New_York",
        },
    )
    assert r.status_code == 303
    page = admin.get("/admin/issues/1?lang=en").text
    assert (
        "2099-01-05 07:00 (New York Time)" in page and "Scheduled" in page
    )  # in the zone it was chosen in
    r = admin.post(
        "/admin/issues/1/test",
        data={"csrf_token": token, "lang": "ko", "to": "ed@news.example.com"},
    )
    assert r.status_code == 303 and list((Path(settings.outbox_dir) / "test" / "ko").glob("*.eml"))
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    bad = admin.post("/admin/issues/1/test", data={"csrf_token": token, "lang": "ko", "to": "nope"})
    assert bad.status_code == 422
    assert (
        admin.post(
            "/admin/issues/1/action", data={"csrf_token": token, "action": "pause"}
        ).status_code
        == 409
    )
    assert (
        admin.post(
            "/admin/issues/1/action", data={"csrf_token": token, "action": "send", "confirm": "yes"}
        ).status_code
        == 303
    )
    session.expire_all()
    assert (
        drafted.status == "sent" and session.scalar(select(func.count()).select_from(Delivery)) == 9
    )
    assert "Sent" in admin.get("/admin/issues/1?lang=en").text


def test_subscriber_search_import_and_export(admin, session, subscribers_by_lang):
    page = admin.get("/admin/subscribers?q=ko1").text
    assert "ko1@example.com" in page and "ko2@example.com" not in page
    token = csrf_of(admin.get("/admin/subscribers").text)
    csv_body = b"email,lang\nnew1@example.com,ko\nnot-an-address,en\nko1@example.com,en\n"
    r = admin.post(
        "/admin/subscribers/import?ui=en",
        data={"csrf_token": token, "mode": "confirmed", "consent": "the book fair sheet"},
        files={"file": ("subs.csv", csv_body, "text/csv")},
    )
    assert r.status_code == 303  # to the import's page, which shows how it went
    report = admin.get(r.headers["location"]).text
    assert "1 added" in report and "1 already on file" in report and "1 bad" in report
    export = admin.get("/admin/subscribers/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert "new1@example.com" in export.text and export.text.splitlines()[0].startswith("email")


def test_password_hashes_are_salted_and_checked_in_constant_time():
    from mailer.web.admin.passwords import hash_password, verify_password

    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b and verify_password(PASSWORD, a) and not verify_password("wrong", a)
    assert not verify_password(PASSWORD, "garbage")
