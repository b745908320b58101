"""The house rules the layout keeps: layers that follow the data (pyproject's import-linter contract)
and modules small enough to read in one sitting."""

import logging
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 450


def test_packages_import_only_the_layers_below_them(monkeypatch):
    # import-linter configures logging with dictConfig, which disables every logger that exists: each is
    # put back as it was afterwards, so the tests after this one still see their log lines.
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "disabled", logger.disabled)
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_module_outside_the_migrations_passes_max_lines():
    sources = [
        p
        for top in ("mailer", "subscribers")
        for p in (ROOT / top).rglob("*.py")
        if "migrations" not in p.parts
    ]
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert sources and long == {}


# A process's settings are read from the environment in one place, its entry point, and handed down
# from there (DESIGN.md, "Wiring").
ENTRY_POINTS = {
    "mailer/config.py",  # where get_settings is defined
    "mailer/wiring.py",  # `mailer serve`'s app factory; `celery -A mailer.wiring`
    "mailer/cli/base.py",  # the `mailer` command's group, for every command (worker, beat, demo too)
    "mailer/migrations/env.py",  # Alembic's own command line
}


def test_settings_are_read_from_the_environment_only_in_entry_points():
    calling = {
        str(p.relative_to(ROOT))
        for top in ("mailer", "subscribers")
        for p in (ROOT / top).rglob("*.py")
        if "get_settings" in p.read_text("utf-8")
    }
    assert calling - ENTRY_POINTS == set()


def test_no_desk_page_module_reaches_another_inside_a_function():
    """An import inside a function hides a cycle from the layer contract: the desk's page modules share
    what they share through modules of their own (issue_view, pages), imported at the top."""
    import ast

    hidden = []
    for path in (ROOT / "mailer" / "web").rglob("*.py"):
        for func in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_pages"):
                    hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert hidden == []
