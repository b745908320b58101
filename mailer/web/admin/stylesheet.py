"""The desk's one stylesheet (templates/web/admin/static/desk.css), served at a URL carrying a hash of its
content: a browser keeps it for a year and asks again only when it changes. Public, as the login page
needs it and it holds nothing secret."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jinja2 import Environment

from mailer import templates_dir

router = APIRouter(prefix="/admin")
PATH = templates_dir() / "web" / "admin" / "static" / "desk.css"
URL = "/admin/desk.css"
FOREVER = "public, max-age=31536000, immutable"


def _read(path: Path) -> tuple[bytes, str]:
    body = path.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


class Sheet:
    """The file and its hash, read once; again on every request while developing (auto_reload)."""

    def __init__(self, path: Path, reload: bool):
        self.path, self.reload = path, reload
        self.body, self.version = _read(path)

    def current(self) -> tuple[bytes, str]:
        if self.reload:
            self.body, self.version = _read(self.path)
        return self.body, self.version

    def url(self) -> str:
        return f"{URL}?v={self.current()[1]}"


def install(env: Environment, reload: bool, path: Path = PATH) -> Sheet:
    """`desk_css()` in every template: the stylesheet's URL with its version. The app keeps the sheet
    (app.state.stylesheet) for the route."""
    sheet = Sheet(path, reload)
    env.globals["desk_css"] = sheet.url
    return sheet


@router.get("/desk.css")
def stylesheet(request: Request, v: str = "") -> Response:
    body, version = request.app.state.stylesheet.current()
    # an old or missing version is answered (a page cached before a deploy) but not kept for long
    cache = FOREVER if v == version else "no-cache"
    return Response(
        body,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": cache, "ETag": f'"{version}"'},
    )
