"""Dates as each locale writes them ("2024년 5월 29일 수요일", "Wednesday, May 29, 2024")."""

from datetime import date

from babel.dates import format_date

LOCALES = {"ko": "ko_KR", "en": "en_US"}


def long_date(day: date, lang: str) -> str:
    if lang == "both":
        return f"{long_date(day, 'ko')} · {long_date(day, 'en')}"
    return format_date(day, format="full", locale=LOCALES[lang])
