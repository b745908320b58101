"""Flower's configuration in docker-compose (`--conf`): basic auth from FLOWER_USER and FLOWER_PASSWORD in the
environment, so the password is never on a command line (`ps`, `docker top`). Without both, Flower refuses to
start (it would be open to anyone) while every other service runs as usual."""

import os

_user, _password = os.environ.get("FLOWER_USER", ""), os.environ.get("FLOWER_PASSWORD", "")
if not _user or not _password:
    raise SystemExit(
        "flower: set FLOWER_USER and FLOWER_PASSWORD (in .env) to start Flower; it runs only behind basic auth"
    )
basic_auth = [f"{_user}:{_password}"]
port = 5555
