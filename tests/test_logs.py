import json
import logging

from mailer.config import Settings
from mailer.logs import JsonFormatter, TaskContext, TextFormatter, configure, mask


def _record(msg="batch %s failed", *args, **extra):
    record = logging.LogRecord("mailer.delivery", logging.WARNING, __file__, 1, msg, args or (7,), None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_ids():
    line = json.loads(JsonFormatter().format(_record(issue=3, batch=7, task_id="abc")))
    assert line["message"] == "batch 7 failed" and line["level"] == "warning"
    assert (line["issue"], line["batch"], line["task_id"]) == (3, 7, "abc")


def test_text_format_shows_context():
    text = TextFormatter("%(levelname)s %(message)s").format(_record(issue=3))
    assert text == "WARNING batch 7 failed [issue=3]"


def test_addresses_are_masked():
    assert mask("minji.kim@example.com") == "mi***@example.com"
    assert mask(None) == "***"


def test_production_logs_json(capsys):
    configure(Settings(_env_file=None, env="production", secret_key="x" * 32))
    try:
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, TaskContext) for f in handler.filters)
    finally:
        configure(Settings(_env_file=None))
