"""When a reader's next issue comes: the next scheduled edition in their language, else the digest's
weekly slot (MAILER_DIGEST_WEEKDAY and MAILER_DIGEST_HOUR in MAILER_DIGEST_TIMEZONE)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.models import Edition


def weekly_slot(settings: Settings, now: datetime) -> datetime:
    """The first digest slot after `now`, in the digest's zone."""
    zone = ZoneInfo(settings.digest_timezone)
    local = now.astimezone(zone)
    days = (settings.digest_weekday - local.weekday()) % 7
    slot = datetime.combine(
        local.date() + timedelta(days=days), datetime.min.time().replace(hour=settings.digest_hour)
    ).replace(tzinfo=zone)
    return slot if slot > local else slot + timedelta(days=7)


def next_issue(
    session: Session, settings: Settings, lang: str, now: datetime
) -> tuple[datetime, str]:
    """(when, the zone to say it in) of the reader's next issue."""
    scheduled = session.execute(
        select(Edition.send_at, Edition.send_tz)
        .where(Edition.lang == lang, Edition.started_at.is_(None), Edition.send_at > now)
        .order_by(Edition.send_at)
        .limit(1)
    ).first()
    if scheduled is not None:
        zone = scheduled.send_tz or settings.digest_timezone
        return scheduled.send_at.astimezone(ZoneInfo(zone)), zone
    return weekly_slot(settings, now), settings.digest_timezone
