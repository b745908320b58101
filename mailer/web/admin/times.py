"""Every time the desk shows, in one zone (MAILER_DESK_TIMEZONE, else the digest's) named in the page's
language ("2026-12-08 09:00 (서울 시간)", "... (Seoul Time)"): never a bare UTC time. A send time is shown
in the zone the editor chose for it, with the desk's reading beside it when the two differ."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, get_timezone_location
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal"})


@cache
def zone_name(tz: str, lang: str) -> str:
    """A zone as the page's language names it: its city in the locale's region form (서울 시간, Seoul
    Time); UTC by its long name (협정 세계시, Coordinated Universal Time)."""
    locale = Locale.parse(lang)
    if tz in UTC_NAMES:
        return locale.time_zones["Etc/UTC"]["long"]["standard"]
    city = get_timezone_location(tz, locale=locale, return_city=True)
    return locale.zone_formats["region"] % city


def _aware(when: datetime | str) -> datetime:
    """Stored times are UTC (a naive one too); the subscriber page's are ISO strings."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def in_zone(
    when: datetime | str | None, tz: str, lang: str, *, seconds: bool = False, day: bool = False
) -> str:
    """`when` in `tz`, written the same in both languages, the zone named in `lang`."""
    if when is None or when == "":
        return ""
    pattern = "yyyy-MM-dd" if day else "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm"
    text = format_datetime(_aware(when), pattern, tzinfo=ZoneInfo(tz), locale=lang)
    return f"{text} ({zone_name(tz, lang)})"


def install(env: Environment, desk_tz: str) -> None:
    """`when|desk_time` (seconds=, day=) and `zoned(when, send_tz)` in the page's language."""

    @pass_context
    def desk_time(context: Context, when, seconds: bool = False, day: bool = False) -> str:
        return in_zone(when, desk_tz, context.get("lang") or "en", seconds=seconds, day=day)

    @pass_context
    def zoned(context: Context, when, tz: str | None) -> str:
        lang = context.get("lang") or "en"
        if when is None:
            return ""
        shown = in_zone(when, tz or desk_tz, lang)
        if (tz or desk_tz) == desk_tz:
            return shown
        return f"{shown} · {in_zone(when, desk_tz, lang)}"

    env.filters["desk_time"] = desk_time
    env.globals["zoned"] = zoned
    env.globals["desk_tz"] = desk_tz
