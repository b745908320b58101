import json
import logging

from mailer.config import Settings
from mailer.logs import JsonFormatter, TaskContext, TextFormatter, configure


def _record(msg="batch %s failed", *args, **extra):
    record = logging.LogRecord(
        "mailer.delivery", logging.WARNING, __file__, 1, msg, args or (7,), None
    )
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_ids():
    line = json.loads(JsonFormatter().format(_record(issue=3, batch=7, task_id="abc")))
    assert line["message"] == "batch 7 failed" and line["level"] == "warning"
    assert (line["issue"], line["batch"], line["task_id"]) == (3, 7, "abc")


def test_text_format_shows_context():
    text = TextFormatter("%(levelname)s %(message)s").format(_record(issue=3))
    assert text == "WARNING batch 7 failed [issue=3]"


def test_production_logs_json(capsys):
    configure(
        Settings(_env_file=None, env="production", secret_key="x" * 32, metrics_token="m" * 16)
    )
    try:
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, TaskContext) for f in handler.filters)
    finally:
        configure(Settings(_env_file=None))


def _json_handler(stream):
    handler = logging.StreamHandler(stream)
    handler.addFilter(TaskContext())
    handler.setFormatter(JsonFormatter())
    return handler


def test_a_send_task_s_lines_carry_its_batch_id(monkeypatch, runtime):
    import io

    from mailer.celery_app import app
    from mailer.delivery import tasks

    def send(rt, batch_id, lease=None):
        logging.getLogger("mailer.delivery.batches").warning("provider slow")  # no ids given
        return "accepted"

    monkeypatch.setattr(tasks, "run_send_batch", send)
    monkeypatch.setattr(
        app, "mailer_runtime", runtime, raising=False
    )  # as a worker's start sets it
    stream, logger = io.StringIO(), logging.getLogger("mailer.delivery.batches")
    handler = _json_handler(stream)
    logger.addHandler(handler)
    try:
        tasks.send_batch.apply(args=(42,)).get()
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[0])
    assert (
        line["message"] == "provider slow"
        and line["batch"] == 42
        and line["task"] == "mailer.send_batch"
    )


def test_a_failed_enqueue_is_one_json_line_not_a_traceback(
    session, issue, subscribers_by_lang, monkeypatch, capsys, make_runtime
):
    """The broker down when an editor sends: the batches wait in the database (beat's sweep queues them) and
    the log says so in a JSON line per block of the ledger, with the batch id."""
    from kombu.exceptions import OperationalError
    from sqlalchemy import select

    from mailer.delivery import facade
    from mailer.delivery.models import Batch

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    runtime = make_runtime(broker_url="redis://127.0.0.1:1/0", log_format="json")
    monkeypatch.setattr(runtime.tasks.celery, "send_task", down)
    configure(runtime.settings)
    try:
        batch_ids = facade.send_now(runtime, issue.number)
        err = capsys.readouterr().err
    finally:
        configure(Settings(_env_file=None))
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON
    warnings = [line for line in lines if line["level"] == "warning"]
    assert warnings and all(
        "not queued" in w["message"] and w["batch"] in batch_ids for w in warnings
    )
    assert "Traceback" not in err and not any("exception" in line for line in lines)
    assert set(session.scalars(select(Batch.status))) == {"pending"}  # for beat's sweep


def test_celery_prints_no_banner_where_logs_are_json():
    from mailer.celery_app import quiet

    assert quiet(Settings(_env_file=None, log_format="json")) == ["--quiet"]
    assert quiet(Settings(_env_file=None)) == []
