"""Every package the code imports is declared in pyproject.toml, so nothing works only because
another package happens to pull it in (as `cryptography` once came only with sendgrid)."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"mailer", "subscribers"}
# Imported directly, but the foundation of a declared package that pins it and whose API exposes it:
# nothing else may be imported without being declared.
CARRIED_BY = {
    "starlette": "fastapi",
    "anyio": "fastapi",  # FastAPI is Starlette's app on anyio
    "pydantic": "pydantic-settings",
    "kombu": "celery",
    "markupsafe": "jinja2",  # Jinja's own Markup: what a server-drawn chart hands a template as safe HTML
    "python_http_client": "sendgrid",  # the errors sendgrid's client raises
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_modules() -> set[str]:
    names = set()
    for top in OURS:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - OURS - set(sys.stdlib_module_names)


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {
        _name(r) for extra in project.get("optional-dependencies", {}).values() for r in extra
    }
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(_imported_modules()):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared and CARRIED_BY.get(module) not in declared:
            missing[module] = sorted(names)
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"
