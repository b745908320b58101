"""Accounts and roles on the desk and on the command line."""

import html

from click.testing import CliRunner
from sqlalchemy import select

from mailer.issues.models import Editor, EditorSession

from .conftest import PASSWORD, csrf_of, log_in


def _post(client, **data):
    token = csrf_of(client.get("/admin/editors").text)
    return client.post("/admin/editors?lang=ko", data={"csrf_token": token, **data})


def test_an_admin_lists_adds_resets_and_ends_sessions(admin, session, anonymous):
    page = admin.get("/admin/editors?lang=ko").text
    assert "mina" in page and "관리자" in page
    assert (
        _post(admin, action="add", name="jun", password=PASSWORD, role="editor").status_code == 303
    )
    jun = session.scalar(select(Editor).where(Editor.name == "jun"))
    assert jun.role == "editor" and not jun.is_admin
    dup = _post(admin, action="add", name="jun", password=PASSWORD, role="editor")
    assert dup.status_code == 400 and "같은 이름의 계정이 이미 있습니다." in dup.text
    weak = _post(admin, action="add", name="kim", password="short", role="admin")
    assert weak.status_code == 400 and "비밀번호가 너무 약합니다" in weak.text

    from fastapi.testclient import TestClient

    other = TestClient(admin.app, base_url="https://testserver", follow_redirects=False)
    assert log_in(other, "jun").status_code == 303
    assert session.scalar(select(EditorSession).where(EditorSession.editor_id == jun.id))
    r = _post(admin, action="logout", name="jun")
    assert r.status_code == 303 and "ended=1" in r.headers["location"]
    assert other.get("/admin").status_code == 303  # sent to the login page
    assert (
        _post(admin, action="password", name="jun", password="a new long password").status_code
        == 303
    )
    assert log_in(other, "jun", "a new long password").status_code == 303


def test_an_editor_curates_but_is_kept_out_of_accounts(anonymous, session):
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    log_in(anonymous, "jun")
    dash = anonymous.get("/admin").text
    assert "/admin/editors" not in dash and "/admin/subscribers" not in dash
    r = anonymous.get("/admin/editors?lang=en")
    assert r.status_code == 403 and "Only an admin can do that." in html.unescape(r.text)
    token = csrf_of(dash)
    assert (
        anonymous.post(
            "/admin/editors",
            data={
                "csrf_token": token,
                "action": "add",
                "name": "x",
                "password": PASSWORD,
                "role": "admin",
            },
        ).status_code
        == 403
    )


def test_the_first_account_is_an_admin_and_create_user_takes_a_role(session, monkeypatch):
    from mailer.cli.base import main
    from mailer.web.admin.accounts import create_user

    assert create_user(session, "first", PASSWORD).role == "admin"
    assert create_user(session, "second", PASSWORD).role == "editor"
    session.commit()
    result = CliRunner().invoke(
        main, ["admin", "create-user", "boss", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0 and "created admin boss" in result.output
    result = CliRunner().invoke(main, ["admin", "create-user", "x", "--role", "owner"])
    assert result.exit_code != 0


def test_the_migration_makes_every_existing_account_an_admin(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from mailer.db import alembic_config

    url = f"sqlite:///{tmp_path / 'roles.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0012")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO editors (name, password_hash, created_at) VALUES ('old', 'x', '2026-01-01')"
            )
        )
    command.upgrade(config, "0013")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT role FROM editors")).scalar() == "admin"
        conn.execute(
            text(
                "INSERT INTO editors (name, password_hash, created_at) VALUES ('new', 'x', '2026-01-02')"
            )
        )
        assert (
            conn.execute(text("SELECT role FROM editors WHERE name = 'new'")).scalar() == "editor"
        )
