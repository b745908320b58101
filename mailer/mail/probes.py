"""The probe: one small message to the newsroom's own address (MAILER_PROBE_EMAIL), sent through the same
path as the digest, whose `processed` event shows that SendGrid's event stream has passed a moment.

Reconciliation sends it when a lost answer's grace period is over and no event stamped after the loss has
come (a send that ended leaves the stream quiet): then the batch's own missing events are decisive.
"""

from __future__ import annotations

import time

from mailer.config import Settings
from mailer.mail.message import OutgoingBatch, Recipient

FOLDER = CATEGORY = "probe"


def probe(settings: Settings, batch_id: int) -> OutgoingBatch:
    stamp = time.time_ns() // 1000  # unique per probe: the outbox names files by it
    text = (
        f"An automatic message from the newsletter mailer: batch {batch_id} lost SendGrid's answer, and this "
        "message's `processed` event shows that the event stream has passed that moment. Nothing to do."
    )
    return OutgoingBatch.compose(
        settings,
        "en",
        subject=f"Delivery probe for batch {batch_id}",
        html=f"<p>{text}</p>",
        text=text,
        recipients=[
            Recipient(
                delivery_id=stamp,
                email=settings.probe_email,
                substitutions={},
                headers={},
                custom_args={"probe": str(batch_id)},
            )
        ],
        categories=(CATEGORY,),
        folder=FOLDER,
    )
