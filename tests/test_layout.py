"""The house rules the layout keeps: layers that follow the data (pyproject's import-linter contract)
and modules small enough to read in one sitting."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 450


def test_packages_import_only_the_layers_below_them():
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_module_outside_the_migrations_passes_450_lines():
    sources = [p for top in ("mailer", "subscribers") for p in (ROOT / top).rglob("*.py")
               if "migrations" not in p.parts]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert sources and long == {}
