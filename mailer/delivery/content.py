"""What a batch's run reads of its issue and edition, and the one request it makes of them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.delivery.models import Batch
from mailer.issues.models import Edition
from mailer.mail.message import OutgoingBatch, Recipient
from mailer.rendering.placeholders import Tags, tags

CATEGORY = "digest"


class Sending(NamedTuple):
    """What a batch's run reads of its issue, fresh each time: columns, not the entity, which only a
    pause (an AUTH refusal) loads."""

    id: int
    number: int
    status: str
    started_at: datetime | None


class Content(NamedTuple):
    lang: str
    subject: str
    html: str
    text: str
    link_tag: str | None  # the key of its subscriber-link tags

    @property
    def links_at(self) -> Tags:
        return tags(self.link_tag)


CONTENTS: dict[tuple[int, datetime], Content] = {}


def content(session: Session, edition_id: int, started_at: datetime) -> Content:
    """The edition as it goes out: read once per worker, not per batch (40-60 KB each time). An edition
    is frozen from its start (issues.editing refuses changes, and it is dated before its first batch),
    and its start time tells it from another row that later took the same id."""
    key = (edition_id, started_at)
    if key not in CONTENTS:
        if len(CONTENTS) >= 16:  # a worker sends a few editions at a time
            CONTENTS.clear()
        CONTENTS[key] = Content._make(
            session.execute(
                select(
                    Edition.lang, Edition.subject, Edition.html, Edition.text, Edition.link_tag
                ).where(Edition.id == edition_id)
            ).one()
        )
    return CONTENTS[key]


def outgoing(
    batch: Batch, issue: Sending, edition: Content, recipients: list[Recipient], settings: Settings
) -> OutgoingBatch:
    return OutgoingBatch.compose(
        settings,
        edition.lang,
        batch_id=batch.id,
        issue_number=issue.number,
        subject=edition.subject,
        html=edition.html,
        text=edition.text,
        recipients=recipients,
        categories=(CATEGORY, f"issue-{issue.number}", f"lang-{edition.lang}"),
        # RFC 8058: the one-click POST goes to each reader's own List-Unsubscribe link
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        custom_args={
            "issue_id": str(batch.issue_id),
            "edition_id": str(batch.edition_id),
            "batch_id": str(batch.id),
        },
    )
