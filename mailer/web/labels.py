"""The names pages show for stored values (an issue's status, a subscriber's language, an event's
type), as English message ids marked for extraction; i18n translates them in the page's language.

A value is a key of its kind's table; an id that English uses for two meanings carries a context
(NP_), so Korean can say each its own way.
"""

from __future__ import annotations

Message = str | tuple[str, str]  # an id, or (context, id)


def N_(message: str) -> str:
    """Marks an id for extraction; translated where it is shown."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:
    """Marks an id with its context for extraction (pybabel extract -k NP_:1c,2)."""
    return (context, message)


LABELS: dict[str, dict[str, Message]] = {
    # the public pages: a subscriber's language, in the form and in a sentence
    "lang": {
        "ko": N_("Korean"),
        "en": N_("English"),
        "both": N_("Korean and English (bilingual edition)"),
    },
    "lang_name": {"ko": N_("Korean"), "en": N_("English"), "both": N_("Korean and English")},
    "saved": {  # the preferences page after a change
        "lang": N_("Your language is saved."),
        "unsubscribe": N_("You are unsubscribed."),
        "resubscribe": N_("You are subscribed again, from the next issue on."),
        "resume": N_("You keep receiving the weekly digest, from the next issue on."),
    },
    # the desk
    "edition": {
        "ko": N_("Korean edition"),
        "en": N_("English edition"),
        "both": N_("Bilingual edition"),
    },
    "status": {
        "draft": NP_("issue status", "Draft"),
        "scheduled": NP_("issue status", "Scheduled"),
        "sending": NP_("issue status", "Sending"),
        "paused": NP_("issue status", "Paused"),
        "sent": NP_("issue status", "Sent"),
        "cancelled": NP_("issue status", "Cancelled"),
        "failed": NP_("issue status", "Failed"),
    },
    "act": {  # "... so you cannot <act> it now"
        "send": N_("send"),
        "pause": N_("pause"),
        "resume": N_("resume"),
        "cancel": N_("cancel"),
        "resend": N_("resend"),
    },
    "send_action": {
        "send": N_("Send now"),
        "pause": N_("Pause"),
        "resume": N_("Resume"),
        "cancel": N_("Cancel the send"),
        "resend": N_("Resend failed batches"),
    },
    "story_action": {
        "up": N_("Up"),
        "down": N_("Down"),
        "pin": N_("Pin"),
        "unpin": N_("Unpin"),
        "remove": N_("Remove"),
    },
    "state": {  # a send's state that no issue status names (delivery.figures)
        "starting": N_("Starting"),
        "stalled": N_("Stalled"),
    },
    "stall": {  # why a send is stalled (delivery.figures.STALL_REASONS)
        "paused_by_system": N_("paused by the system"),
        "broker_down": N_("the broker (Redis) is down"),
        "database_errors": N_("database errors"),
        "no_worker": N_("no worker is taking the send queue"),
        "rate_limit": N_("held by the send rate limit"),
        "provider_errors": N_("SendGrid refuses for now (retrying)"),
        "queue_lost": N_("the queue was lost (the sweep queues it again)"),
        "unknown": N_("reason unknown"),
    },
    "notice": {  # ?n= after a desk form
        "saved": N_("Saved."),
        "done": N_("Done."),
        "send_started": N_("Sending started."),
        "resumed": N_("Sending resumed."),
        "paused": N_("Paused."),
        "cancelled": N_("The send is cancelled."),
        "resent": N_("The failed batches are being sent again."),
        "erased": N_("Erased."),
        "editor_added": N_("Account created."),
        "approved": N_("Approved: the schedule stands."),
        "awaiting": N_("Scheduled. It goes out once an admin approves it."),
    },
    "out": {  # the live progress bar's outcomes
        "sent": N_("sent"),
        "cancelled": N_("cancelled"),
        "failed": N_("failed"),
        "suppressed": N_("suppressed"),
        "waiting": N_("waiting"),
    },
    "rate": {
        "delivered": N_("Delivered"),
        "bounced": N_("Bounce rate"),
        "complained": N_("Complaint rate"),
        "opened": N_("Open rate"),
        "clicked": N_("Click rate"),
    },
    "sub": {
        "pending": N_("Pending"),
        "active": N_("Active"),
        "unsubscribed": N_("Unsubscribed"),
        "bounced": N_("Bounced"),
        "complained": N_("Complained"),
        "paused": NP_("subscriber status", "Paused"),
    },
    "subscriber_action": {
        "unsubscribe": NP_("subscriber action", "Unsubscribe"),
        "resubscribe": N_("Resubscribe"),
        "reenable": N_("Re-enable"),
        "erase": N_("Erase personal data"),
    },
    "hist": {
        "added": N_("added"),
        "sign-up requested": N_("sign-up requested"),
        "confirmed": N_("confirmed"),
        "unsubscribed": NP_("history", "unsubscribed"),
        "resubscribed": N_("resubscribed"),
        "language changed": N_("language changed"),
        "bounced": N_("bounced"),
        "complained": N_("complained"),
        "asked to stay": N_("asked whether they still want it"),
        "paused": NP_("history", "paused for not reading"),
        "came back": N_("came back"),
        "still reading": N_("said they still want it"),
        "re-enabled": N_("re-enabled after soft bounces"),
        "rejoined": N_("signed up again after a bounce"),
    },
    "src": {
        "web": N_("web"),
        "link": N_("mail link"),
        "one-click": N_("one-click"),
        "cli": N_("command line"),
        "import": N_("CSV import"),
        "webhook": N_("SendGrid webhook"),
        "preferences": N_("preferences"),
        "edition-link": N_("edition switch in a mail"),
        "sunset": N_("rule for readers who stopped reading"),
        "stay-link": N_('"still want this?" mail'),
        "desk": N_("editor's desk"),
        "demo": N_("demo"),
    },
    "dlv": {
        "queued": N_("queued"),
        "sent": N_("sent"),
        "invalid": N_("address refused"),
        "failed": N_("failed"),
        "cancelled": N_("cancelled"),
        "suppressed": N_("suppressed"),
        "deferred": N_("deferred"),
        "delivered": N_("delivered"),
        "opened": N_("opened"),
        "machine_opened": N_("opened by a machine"),
        "clicked": N_("clicked"),
        "unsubscribed": N_("unsubscribed"),
        "dropped": N_("dropped"),
        "bounced": N_("bounced"),
        "complained": N_("complained"),
    },
    "ev": {
        "processed": N_("processed"),
        "delivered": N_("delivered"),
        "open": N_("opened"),
        "machine_open": N_("opened by a machine"),
        "click": N_("clicked"),
        "bounce": N_("bounced"),
        "dropped": N_("dropped"),
        "deferred": N_("deferred"),
        "spamreport": N_("spam report"),
        "unsubscribe": N_("unsubscribed"),
        "group_unsubscribe": N_("group unsubscribe"),
        "group_resubscribe": N_("group resubscribe"),
    },
    "role": {"editor": N_("Editor"), "admin": N_("Admin")},
    # an issue's bounces and complaints (mailer.events.bounce_list)
    "bounce_kind": {
        "hard": N_("Hard bounce"),
        "soft": N_("Soft bounce"),
        "complaint": N_("Complaint"),
        "dropped": N_("Not sent by SendGrid"),
    },
    "bounce_reason": {
        "invalid_address": N_("The address does not exist"),
        "mailbox_unavailable": N_("The mailbox is unavailable or full"),
        "technical": N_("A temporary or technical refusal"),
        "content": N_("Refused for its content"),
        "reputation": N_("Refused for the sender's reputation"),
        "volume": N_("Refused for too much mail at once"),
        "unclassified": N_("Reason not given"),
        "spam_report": N_("The reader marked it as spam"),
        "known_bounce": N_("The address bounced before"),
        "known_complaint": N_("The reader reported spam before"),
        "known_unsubscribe": N_("The reader unsubscribed before"),
    },
}
