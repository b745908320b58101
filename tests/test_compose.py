"""No Docker engine runs here: check that docker-compose.yml runs only commands the project has."""

import importlib
import re
from pathlib import Path

import click
import yaml

from mailer.cli import main

ROOT = Path(__file__).resolve().parents[1]

REQUIRED = {"postgres", "redis", "migrate", "web", "worker", "beat", "flower"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _parses_as_mailer_command(args: list[str]) -> bool:
    """The words name a `mailer` command (not just a group) and its options parse."""
    command: click.Command = main
    while isinstance(command, click.Group):
        found = command.get_command(click.Context(command), args[0]) if args else None
        if found is None:
            return False
        command, args = found, args[1:]
    command.make_context(command.name, list(args))  # raises on an unknown option or bad value
    return True


def test_every_service_is_there_with_a_healthcheck():
    services = _compose()["services"]
    assert REQUIRED <= set(services)
    for name, svc in services.items():
        if name != "migrate":  # one-shot: it exits when done
            assert "test" in svc.get("healthcheck", {}), name


def test_every_service_command_is_a_real_mailer_command_or_project_module():
    for name, svc in _compose()["services"].items():
        command = svc.get("command")
        if "image" in svc and svc["image"].split(":")[0] in ("postgres", "redis"):
            continue
        assert isinstance(command, list), name
        if command[0] == "mailer":
            assert _parses_as_mailer_command(command[1:]), f"{name}: {command}"
        elif command[0] == "celery":
            module = command[command.index("-A") + 1]
            assert hasattr(importlib.import_module(module), "app"), name
        else:
            raise AssertionError(f"{name} runs {command[0]!r}, not the project")


def test_mailer_services_share_one_configuration_and_wait_for_migrations():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["MAILER_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["MAILER_BROKER_URL"].startswith("redis://")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # secrets are never written into the file, only read from the environment
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"MAILER_SECRET_KEY: \$\{MAILER_SECRET_KEY", text)
