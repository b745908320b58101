"""The pages' words: gettext catalogs in mailer/locale, read by Babel, one language per request.

The message ids are the English text (the gettext convention), so English needs no catalog: an
untranslated id is already the English page, plurals included (gettext's fallback picks the singular
for 1 and the plural otherwise). Every other language has mailer/locale/<lang>/LC_MESSAGES/messages.po,
compiled in memory at first use, so no binary .mo is committed or built. A third language needs only
its catalog (and its templates), no code. docs/catalogs.md says how to extract and update them.

Templates call `_()`, `ngettext()` and `pgettext()` (jinja2.ext.i18n, newstyle: the text is
autoescaped, then formatted with its `%(name)s` placeholders), which resolve in the template's `lang`;
`label(kind, value)` names a stored value (an issue status, a language) from labels.py. Python code
that builds a sentence asks `texts(lang)` for the same catalog with the same formatting rules.
"""

from __future__ import annotations

import functools
import gettext
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from mailer.web import labels

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
# pybabel extract's keywords beyond its defaults (_, gettext, ngettext, pgettext, N_, ...): the
# labels' context marker and the bilingual pages' line in their other language
KEYWORDS = ("NP_:1c,2", "other_gettext", "other_ngettext:1,2")


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The language's catalog, compiled once per process; English (the source text) has none."""
    path = catalog_path(lang)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Texts:
    """One language's words for Python code, formatted as the templates' newstyle gettext does:
    `%(name)s` placeholders from keyword arguments, `num` defaulting to the count of ngettext."""

    def __init__(self, lang: str):
        self.lang = lang
        self.catalog = translations(lang)

    def _(self, message: str, **variables: Any) -> str:
        return self.catalog.gettext(message) % variables

    def ngettext(self, singular: str, plural: str, n: int, /, **variables: Any) -> str:
        variables.setdefault("num", n)
        return self.catalog.ngettext(singular, plural, n) % variables

    def pgettext(self, context: str, message: str, **variables: Any) -> str:
        return self.catalog.pgettext(context, message) % variables

    def label(self, kind: str, value: str, default: str | None = None) -> str:
        """A stored value's name (labels.LABELS[kind]); an unknown value shows `default`, else itself."""
        message = labels.LABELS[kind].get(value)
        if message is None:
            return value if default is None else default
        if isinstance(message, tuple):
            return self.catalog.pgettext(*message)
        return self.catalog.gettext(message)


@functools.cache
def texts(lang: str) -> Texts:
    return Texts(lang)


def language_name(lang: str) -> str:
    """A language's name in itself (한국어, English): the link that switches a page to it."""
    return Locale.parse(lang).display_name or lang


def _lang(context: Context) -> str:
    return context.get("lang") or "en"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(_lang(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int) -> str:
    return translations(_lang(context)).ngettext(singular, plural, num)


@pass_context
def _pgettext(context: Context, ctx: str, message: str) -> str:
    return translations(_lang(context)).pgettext(ctx, message)


@pass_context
def _npgettext(context: Context, ctx: str, singular: str, plural: str, num: int) -> str:
    return translations(_lang(context)).npgettext(ctx, singular, plural, num)


def _newstyle(context: Context, text: str, variables: dict[str, Any]) -> str:
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


@pass_context
def _other_gettext(context: Context, message: str, **variables: Any) -> str:
    """The same sentence in the page's other language (`other_lang`), for a bilingual page's second
    line; newstyle like `_()`."""
    return _newstyle(context, translations(context["other_lang"]).gettext(message), variables)


@pass_context
def _other_ngettext(
    context: Context, singular: str, plural: str, num: int, **variables: Any
) -> str:
    variables.setdefault("num", num)
    text = translations(context["other_lang"]).ngettext(singular, plural, num)
    return _newstyle(context, text, variables)


@pass_context
def _label(context: Context, kind: str, value: str, default: str | None = None) -> str:
    return texts(_lang(context)).label(kind, value, default)


def install(env: Environment) -> None:
    """gettext in the page's language on a Jinja environment (jinja2.ext.i18n, newstyle)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    env.globals["other_gettext"] = _other_gettext
    env.globals["other_ngettext"] = _other_ngettext
    env.globals["label"] = _label
    env.globals["language_name"] = language_name
