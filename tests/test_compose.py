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
    assert set(services) >= REQUIRED
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
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
    # secrets are never written into the file, only read from the environment
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"MAILER_SECRET_KEY: \$\{MAILER_SECRET_KEY", text)


# --- logs, images and volumes ---------------------------------------------------------------------


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_every_service_rotates_its_log():
    for name, svc in _compose()["services"].items():
        logging = svc.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), name


def test_images_are_pinned_to_a_minor_version_or_a_digest():
    pinned = re.compile(r"^[\w./-]+(:\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
    for name, svc in _compose()["services"].items():
        if "build" in svc:  # the project's own image, built from the Dockerfile
            continue
        image = svc["image"]
        assert pinned.match(image) and (":" in image.split("@")[0] or "@sha256:" in image), (
            f"{name}: {image}"
        )
    [base] = re.findall(r"^FROM (\S+)", _dockerfile(), re.MULTILINE)
    assert re.search(r":\d+\.\d+", base) or "@sha256:" in base, base


def test_the_volume_folders_under_the_users_home_are_made_by_the_dockerfile_for_that_user():
    dockerfile = _dockerfile()
    user = re.search(r"^USER (\S+)", dockerfile, re.MULTILINE).group(1)
    run = " ".join(
        re.findall(r"^RUN (.+?)(?<!\\)$", dockerfile.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    )
    mounts = [
        volume.split(":")[1]
        for svc in _compose()["services"].values()
        if "build" in svc
        for volume in svc.get("volumes", [])
    ]
    assert "/home/mailer/standin" in mounts
    for path in mounts:
        assert f"mkdir -p {path}" in run and re.search(
            rf"chown {user}(:{user})? {re.escape(path)}", run
        ), path
    # ... and before the USER line, while the build still runs as root
    assert dockerfile.index("chown") < dockerfile.index(f"USER {user}")


def test_no_password_on_a_command_line_and_no_command_needs_flowers_settings():
    text = (ROOT / "docker-compose.yml").read_text()
    for name, svc in _compose()["services"].items():
        assert not re.search(
            r"password|basic.auth|PASSWORD", " ".join(svc.get("command") or []), re.IGNORECASE
        ), name
    # `${VAR:?...}` fails every compose command (ps, logs, down) when VAR is unset: not for Flower's settings
    required = set(re.findall(r"\$\{(\w+):?\?", text))
    assert not required & {"FLOWER_USER", "FLOWER_PASSWORD"}
    flower = _compose()["services"]["flower"]
    assert flower["environment"]["FLOWER_USER"] == "${FLOWER_USER:-}"
    conf = next(a.split("=", 1)[1] for a in flower["command"] if a.startswith("--conf="))
    assert conf == "/app/" + (ROOT / "deploy/flower/flowerconfig.py").relative_to(ROOT).as_posix()
    assert "COPY deploy/flower ./deploy/flower" in _dockerfile()


def test_flower_takes_its_password_from_the_environment_and_refuses_to_start_without(monkeypatch):
    import runpy

    import pytest

    path = str(ROOT / "deploy" / "flower" / "flowerconfig.py")
    monkeypatch.setenv("FLOWER_USER", "ops")
    monkeypatch.setenv("FLOWER_PASSWORD", "s3cret-enough")
    assert runpy.run_path(path)["basic_auth"] == ["ops:s3cret-enough"]
    monkeypatch.setenv("FLOWER_PASSWORD", "")
    with pytest.raises(SystemExit, match="FLOWER_PASSWORD"):
        runpy.run_path(path)
