"""An import's task: readers asked to confirm by mail each get one confirmation mail, through the
outbox table and the `mail` queue, written with the chunk that added them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mailer.mail.imports import run_import
from mailer.mail.models import OutboxMail
from subscribers import import_jobs, service
from subscribers.csv_import import ImportOptions
from subscribers.import_jobs import ImportJob


def _job(session, tmp_path, text: str, options: ImportOptions) -> int:
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    job = import_jobs.create(
        session,
        path=str(path),
        filename="list.csv",
        size=path.stat().st_size,
        requested_by="admin",
        options=options,
    )
    session.commit()
    return job.id


def test_readers_asked_to_confirm_by_mail_each_get_one_mail(runtime, session, settings, tmp_path):
    service.add(session, "known@example.com", "ko", confirmed=True)
    session.commit()
    text = "email,lang\na@example.com,ko\nb@example.com,en\nknown@example.com,ko\n"
    job_id = _job(session, tmp_path, text, ImportOptions("confirm_by_mail"))
    assert run_import(runtime, job_id) == "done"
    session.expire_all()
    assert service.get_by_email(session, "a@example.com").status == "pending"
    mails = session.scalars(select(OutboxMail)).all()
    assert sorted((m.kind, m.lang, m.status) for m in mails) == [
        ("confirmation", "en", "sent"),
        ("confirmation", "ko", "sent"),
    ]
    sent = list(Path(settings.outbox_dir).rglob("*.eml"))
    assert len(sent) == 2 and any(b"a@example.com" in p.read_bytes() for p in sent)
    job = session.get(ImportJob, job_id)
    assert (job.mode, job.added, job.existing) == ("confirm_by_mail", 2, 1)
    # importing the file again adds nobody and mails nobody
    assert run_import(runtime, _job(session, tmp_path, text, ImportOptions("confirm_by_mail")))
    session.expire_all()
    assert len(session.scalars(select(OutboxMail)).all()) == 2


def test_readers_subscribed_on_a_named_consent_get_no_confirmation(
    runtime, session, settings, tmp_path
):
    text = "email,lang,status\na@example.com,ko,\np@example.com,ko,pending\n"
    job_id = _job(session, tmp_path, text, ImportOptions("confirmed", "the fair's sheet"))
    assert run_import(runtime, job_id) == "done"
    session.expire_all()
    assert session.scalars(select(OutboxMail)).all() == []
    reader = service.get_by_email(session, "a@example.com")
    assert (reader.status, reader.consent_detail) == ("active", "the fair's sheet")
