"""Render one email in one language: subject, HTML (Jinja2 then MJML) and text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import jinja2
import mjml

from mailer import templates_dir
from mailer.langs import EDITIONS, JOIN, marked


class RenderError(Exception):
    """A broken template or bad MJML: raised when an issue is drafted or previewed, never at send time."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@cache
def environment(lang: str, kind: str) -> jinja2.Environment:
    """One environment per language: its own folder first, then the shared layouts."""
    if lang not in EDITIONS:
        raise RenderError(f"no templates for language {lang!r}")
    root = templates_dir() / "email"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(root / lang), str(root)]),
        autoescape=kind == "html",  # the subject and text part are plain text, never HTML-escaped
        undefined=jinja2.StrictUndefined,  # a missing value is a template bug, not an empty string
        keep_trailing_newline=False,
    )
    env.filters["by_language"] = by_language
    return env


def by_language(text: str) -> list[tuple[str, str]]:
    """A text joined from pieces (a preheader of headlines), each piece with the language it is written in,
    so the bilingual edition can mark each in its own `lang`."""
    return marked(part for part in text.split(JOIN) if part.strip())


def _render(lang: str, kind: str, name: str, context: dict) -> str:
    try:
        return environment(lang, kind).get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"template {lang}/{exc.name or name}, line {exc.lineno}: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {lang}/{name}: {exc}") from exc


def render_subject(name: str, lang: str, context: dict) -> str:
    subject = " ".join(_render(lang, "text", f"{name}/subject.txt", context).split())
    if not subject:
        raise RenderError(f"{lang}/{name}: empty subject")
    return subject


def render_body(name: str, lang: str, context: dict) -> tuple[str, str]:
    """(html, text). The context's `subject` becomes the HTML title."""
    source = _render(lang, "html", f"{name}/body.mjml.j2", context)
    try:
        # fonts={}: no web-font imports; the layout names a system font stack (CJK included)
        html = mjml.mjml2html(source, fonts={})
    except ValueError as exc:
        raise RenderError(f"MJML of {lang}/{name}: {exc}") from exc
    return html, plain(_render(lang, "text", f"{name}/body.txt.j2", context))


def plain(text: str) -> str:
    """A text part's layout, whatever its template's whitespace: no trailing spaces, at most one blank line
    between blocks, one newline at the end."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render_email(name: str, lang: str, context: dict) -> Rendered:
    subject = render_subject(name, lang, context)
    html, text = render_body(name, lang, {**context, "subject": subject})
    return Rendered(subject=subject, html=html, text=text)
