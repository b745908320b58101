"""The desk's CSV import: the upload is capped as it arrives, the import runs off the event loop as a
task with a job page, and a hostile file stops with a sentence in the page's language."""

from __future__ import annotations

import html
import io
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailer.web.app import create_app
from subscribers import csv_import
from subscribers.import_jobs import ImportJob, JobStatus, run_import_job
from subscribers.models import Subscriber

from .conftest import csrf_of, log_in

CAP = 4096


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _rows(n: int, start: int = 0) -> bytes:
    return b"email,lang\n" + b"".join(f"r{i}@example.com,ko\n".encode() for i in range(start, n))


def _post(client, body: bytes, name: str = "list.csv", lang: str = "ko"):
    token = csrf_of(client.get("/admin/subscribers").text)
    return client.post(
        f"/admin/subscribers/import?ui={lang}",
        data={"csrf_token": token, "mode": "confirmed", "consent": "the book fair sheet"},
        files={"file": (name, body, "text/csv")},
    )


@pytest.fixture
def capped(make_runtime, editor):
    client = TestClient(
        create_app(make_runtime(upload_max_bytes=CAP)),
        base_url="https://testserver",
        follow_redirects=False,
    )
    assert log_in(client).status_code == 303
    return client


def test_an_upload_past_the_cap_is_refused_and_nothing_is_imported(capped, session, settings):
    refused = _post(capped, _rows(400))  # ~8 KB, with a Content-Length that says so
    assert refused.status_code == 413
    assert "파일이 0.00391 MiB보다 커서 아무것도 가져오지 않았습니다." in html.unescape(
        refused.text
    )
    # A body without a length (chunked) is counted as it arrives and stopped at the cap too.
    token = csrf_of(capped.get("/admin/subscribers").text)
    boundary = "capboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="l.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + _rows(400) + f"\r\n--{boundary}--\r\n".encode()
    sent = []

    def chunks():
        for i in range(0, len(body), 512):
            sent.append(i)
            yield body[i : i + 512]

    streamed = capped.post(
        "/admin/subscribers/import?ui=en",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413 and "larger than" in streamed.text
    assert _count(session, Subscriber) == 0 and _count(session, ImportJob) == 0
    uploads = Path(settings.upload_dir)
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_upload_under_the_cap_is_imported_and_its_file_removed(capped, session, settings):
    posted = _post(capped, _rows(50))
    assert posted.status_code == 303
    page = html.unescape(capped.get(posted.headers["location"]).text)
    assert "50명 추가" in page and "완료" in page
    listed = capped.get("/admin/subscribers").text  # the list links to its recent imports
    assert f'href="{posted.headers["location"].split("?")[0]}">list.csv</a>' in listed
    assert _count(session, Subscriber) == 50
    assert list(Path(settings.upload_dir).iterdir()) == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"\0" * 100_000, "1행이 65536자보다 깁니다"),
        (b"em\0ail,lang\nx@example.com,ko\n", "1행에 NUL 바이트가 있습니다"),
        (b"email,lang\n" + b"a" * 70_000 + b"\n", "2행이 65536자보다 깁니다"),
        (bytes(range(256)) * 10, "1행이 UTF-8 텍스트가 아닙니다"),
        (b"name,phone\n", "첫 행에 email, lang 열이 없습니다"),
    ],
)
def test_a_hostile_file_stops_with_a_sentence_and_imports_nothing(admin, session, body, said):
    posted = _post(admin, body)
    assert posted.status_code == 303
    r = admin.get(posted.headers["location"])
    page = html.unescape(r.text)
    assert r.status_code == 200 and said in page and "아무것도 가져오지 않았습니다." in page
    assert "중단됨" in page and _count(session, Subscriber) == 0


def test_a_running_job_page_reloads_itself_and_shows_its_progress(admin, session):
    job = ImportJob(
        path="/nowhere.csv",
        filename="big.csv",
        requested_by="mina",
        status=JobStatus.RUNNING,
        bytes_total=200,
        bytes_done=50,
        rows=1000,
        added=990,
    )
    session.add(job)
    session.commit()
    page = admin.get(f"/admin/subscribers/imports/{job.id}?lang=en").text
    assert '<meta http-equiv="refresh" content="2">' in page and 'value="25"' in page
    assert "Importing" in page and "990 added" in page
    assert admin.get("/admin/subscribers/imports/999?lang=en").status_code == 404


def test_a_job_is_run_once(runtime, session, settings, tmp_path):
    path = tmp_path / "once.csv"
    path.write_bytes(_rows(3))
    job = ImportJob(path=str(path), filename="once.csv", requested_by="mina", bytes_total=10)
    session.add(job)
    session.commit()
    assert run_import_job(runtime, job.id) == "done"
    assert run_import_job(runtime, job.id) == "skipped"  # a second delivery of the task
    session.expire_all()
    assert (job.status, job.added, job.bad_rows) == ("done", 3, []) and not path.exists()


def test_healthz_answers_while_a_desk_import_runs(runtime, editor, session, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = csv_import.import_rows

    def held(*args, **kwargs):
        started.set()
        release.wait(30)  # the import is "running" until the test has its /healthz answer
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "import_rows", held)
    # One client, one event loop for every request, as a server has.
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as client:
        assert log_in(client).status_code == 303
        answers = []
        posting = threading.Thread(target=lambda: answers.append(_post(client, _rows(100))))
        posting.start()
        try:
            assert started.wait(30)
            begun = time.monotonic()
            health = client.get("/healthz")
            took = time.monotonic() - begun
            still_running = posting.is_alive()
        finally:
            release.set()
            posting.join(60)
    assert health.status_code == 200 and took < 5 and still_running
    assert answers[0].status_code == 303 and _count(session, Subscriber) == 100


@pytest.mark.parametrize("broker", ["up", "down"])
def test_with_a_broker_the_import_is_a_task_on_the_ingest_queue(
    make_runtime, editor, session, monkeypatch, broker
):
    from kombu.exceptions import OperationalError

    from mailer.mail.imports import IMPORT_SUBSCRIBERS

    runtime = make_runtime(broker_url="redis://127.0.0.1:1/0")
    published = []

    def send_task(name, args=(), queue=None, **_kw):
        if broker == "down":
            raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        published.append((name, args, queue))

    monkeypatch.setattr(runtime.tasks.celery, "send_task", send_task)
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(client).status_code == 303
    posted = _post(client, _rows(5))
    page = html.unescape(client.get(posted.headers["location"]).text)
    job = session.scalars(select(ImportJob)).one()
    if broker == "up":  # a worker will run it; meanwhile the page waits and reloads
        assert published == [(IMPORT_SUBSCRIBERS, (job.id,), "ingest")]
        assert "워커를 기다리는 중" in page and 'http-equiv="refresh"' in page
        assert Path(job.path).exists()
    else:  # said at once, not left waiting for ever
        assert "작업 대기열에 연결할 수 없어" in page and "중단됨" in page
        assert 'http-equiv="refresh"' not in page and not Path(job.path).exists()
    assert _count(session, Subscriber) == 0


def test_an_upload_folder_that_cannot_be_written_is_a_page_not_a_500(
    make_runtime, editor, session, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    client = TestClient(
        create_app(make_runtime(upload_dir=str(blocker))),
        base_url="https://testserver",
        follow_redirects=False,
    )
    assert log_in(client).status_code == 303
    r = _post(client, _rows(3), lang="en")
    assert r.status_code == 503 and "MAILER_UPLOAD_DIR" in r.text
    assert _count(session, ImportJob) == 0 and _count(session, Subscriber) == 0


def _post_choosing(client, body: bytes, lang: str = "ko", **fields):
    token = csrf_of(client.get("/admin/subscribers").text)
    return client.post(
        f"/admin/subscribers/import?ui={lang}",
        data={"csrf_token": token, **fields},
        files={"file": ("list.csv", body, "text/csv")},
    )


def test_the_editor_chooses_what_imported_rows_become(admin, session):
    unchosen = _post_choosing(admin, _rows(2))
    assert unchosen.status_code == 400
    assert "가져온 독자를 어떻게 등록할지 고르세요." in html.unescape(unchosen.text)
    nameless = _post_choosing(admin, _rows(2), mode="confirmed", consent="   ")
    assert nameless.status_code == 400 and "동의를 받은 곳" in html.unescape(nameless.text)
    assert 'value="confirmed" required checked' in nameless.text  # the choice is kept
    assert _count(session, Subscriber) == 0 and _count(session, ImportJob) == 0

    named = _post_choosing(admin, _rows(2), mode="confirmed", consent="Book fair sheet, 2026")
    assert named.status_code == 303
    page = html.unescape(admin.get(named.headers["location"]).text)
    assert (
        "새 독자는 바로 구독됩니다." in page
        and '<q translate="no">Book fair sheet, 2026</q>' in page
    )
    session.expire_all()
    reader = session.scalar(select(Subscriber).where(Subscriber.email == "r0@example.com"))
    assert (reader.status, reader.consent_detail) == ("active", "Book fair sheet, 2026")
    shown = html.unescape(admin.get(f"/admin/subscribers/{reader.id}").text)
    assert "Book fair sheet, 2026" in shown

    mailed = _post_choosing(admin, _rows(4, start=2), lang="en", mode="confirm_by_mail")
    page = admin.get(mailed.headers["location"] + "&lang=en").text
    assert "Each new reader is sent a confirmation mail" in page
    session.expire_all()
    assert session.scalar(
        select(Subscriber.status).where(Subscriber.email == "r3@example.com")
    ) == ("pending")


def test_the_import_form_explains_its_columns_and_offers_a_template(admin):
    page = html.unescape(admin.get("/admin/subscribers?ui=ko").text)
    assert "열 안내" in page and "필수. 받을 판입니다" in page and "서식 내려받기" in page
    template = admin.get("/admin/subscribers/import/template.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    assert "attachment" in template.headers["content-disposition"]
    assert template.text == "email,lang,status,created_at\r\n"
    # the template as it comes is a file the import takes (a header, no rows)
    assert csv_import.read_rows(io.StringIO(template.text)) is not None


def test_the_template_is_for_the_desk_only(anonymous):
    assert anonymous.get("/admin/subscribers/import/template.csv").status_code in (
        302,
        303,
        401,
        403,
    )
