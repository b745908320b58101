"""The desk's page for the sign-up form other sites embed: the snippet an editor copies, one per page
language, pointing at this server (MAILER_PUBLIC_URL), and the origins MAILER_SIGNUP_ORIGINS allows."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.web import embed
from mailer.web.admin.pages import CurrentEditor, page
from mailer.web.deps import settings_of

router = APIRouter(prefix="/admin")
PATH = "/admin/signup-form"
SNIPPET_LANGS = ("ko", "en")  # the news site's pages are in Korean or English


@dataclass(frozen=True)
class Snippet:
    lang: str
    html: str

    @property
    def rows(self) -> int:
        return self.html.count("\n") + 2


def snippet(request: Request, lang: str) -> str:
    """The form and its script tags, in `lang`, for a page of the news site."""
    base = settings_of(request).public_base
    template = request.app.state.templates.get_template("embed_snippet.html")
    return template.render(
        lang=lang,
        base=base,
        honeypot=embed.HONEYPOT,
        scripts=embed.widget_script_urls(base, lang),
    ).strip()


@router.get("/signup-form", response_class=HTMLResponse)
def signup_form(request: Request, editor: CurrentEditor):
    settings = settings_of(request)
    return page(
        request,
        "signup_form",
        editor=editor,
        snippets=[Snippet(lang, snippet(request, lang)) for lang in SNIPPET_LANGS],
        origins=settings.signup_origin_list,
        base=settings.public_base,
    )
