"""What a send hands to a Sender: one rendered edition plus per-recipient values, and its MIME form."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import TYPE_CHECKING, NamedTuple

from mailer.config import Settings
from mailer.rendering.placeholders import fill

if TYPE_CHECKING:
    from mailer.rendering.render import Rendered

# The subject is folded here, whole, within 78 columns (RFC 5322's SHOULD), "Subject: " included: a
# non-ASCII one as RFC 2047 encoded-words, an ASCII one at its spaces. Parsers get it back unchanged;
# the default policy's own refolding can drop or double a space (CPython gh-92081 on Python 3.11).
# Other headers are left unfolded (up to RFC 5322's 998), so List-Unsubscribe reads back exactly as written.
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=998)
MAX_LINE = 78


class Recipient(NamedTuple):  # a tuple, not a frozen dataclass: a send makes a million of them
    delivery_id: int
    email: str
    substitutions: dict[str, str]  # placeholder tag -> this recipient's value
    headers: dict[str, str]  # List-Unsubscribe and List-Unsubscribe-Post
    custom_args: dict[str, str]


@dataclass(frozen=True)
class OutgoingBatch:
    """One rendered message and the recipients it goes to in one request: a digest batch, a proof, or
    one person's transactional mail. Build it with compose(), which fills in the sender identity."""

    lang: str  # the edition: ko, en or both
    from_email: str
    from_name: str
    subject: str
    html: str
    text: str
    recipients: list[Recipient]
    batch_id: int | None = None  # the ledger's batch: a digest send only
    issue_number: int | None = None
    reply_to: str = ""
    categories: tuple[str, ...] = field(default=())
    folder: str = ""  # where the outbox files it, instead of issue-N/ (proofs: "test", transactional: "confirm")
    # The same for every recipient: sent once per request (SendGrid applies them to each personalization).
    headers: dict[str, str] = field(default_factory=dict)
    custom_args: dict[str, str] = field(default_factory=dict)
    # To an address the provider lists as bounced, which has since proved it works (a reader signing up
    # again after a hard bounce): SendGrid delivers it past its bounce list (spam reports still apply).
    bypass_bounces: bool = False

    @classmethod
    def compose(
        cls, settings: Settings, lang: str, headers: dict[str, str] | None = None, **fields
    ) -> OutgoingBatch:
        """A message in `lang` from the newsroom: the one place that sets From, Reply-To and the headers every
        message carries: List-Id, and Feedback-ID (campaign:edition:sender) for Gmail's feedback loop."""
        campaign = fields.get("folder") or f"issue-{fields.get('issue_number')}"
        sender = settings.from_email.rpartition("@")[2]
        common = {"List-Id": settings.list_id_header, "Feedback-ID": f"{campaign}:{lang}:{sender}"}
        return cls(
            lang=lang,
            from_email=settings.from_email,
            from_name=settings.from_name(lang),
            reply_to=settings.reply_to,
            headers={**common, **(headers or {})},
            **fields,
        )


def to_one_reader(
    settings: Settings,
    lang: str,
    rendered: Rendered,
    *,
    kind: str,
    folder: str,
    number: int,
    email: str,
    subscriber_id: int,
    reader_headers: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> OutgoingBatch:
    """A transactional mail (confirmation, welcome) to one subscriber. `number`, the outbox row's id,
    names the message: the outbox backend's file, a custom arg for SendGrid."""
    return OutgoingBatch.compose(
        settings,
        lang,
        headers=headers,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        recipients=[
            Recipient(
                delivery_id=number,
                email=email,
                substitutions={},
                headers=reader_headers or {},
                custom_args={
                    "kind": kind,
                    "subscriber_id": str(subscriber_id),
                    "outbox_mail": str(number),
                },
            )
        ],
        categories=(folder, f"lang-{lang}"),
        folder=folder,
    )


def _subject(value: str) -> str:
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name="Subject").encode(linesep="\r\n", maxlinelen=MAX_LINE)


def address(value: str, name: str = "") -> str:
    """An address header's value ("Name <addr>", or an addr-spec with `name` apart): the display name as an
    RFC 2047 encoded-word, the addr-spec as it is. Set as a plain header, a non-ASCII address became one
    encoded-word, which no mail program reads as an address. An IDN domain goes as its ASCII form (the
    message stays 7-bit) when the local part is ASCII; a non-ASCII local part has no ASCII form and is
    written in UTF-8 as RFC 6532 (SMTPUTF8) has it."""
    if not name:
        name, parsed = parseaddr(value)
        value = parsed or value
    local, at, domain = value.rpartition("@")
    if at and local.isascii() and not domain.isascii():
        with suppress(UnicodeError):  # no A-label: left in UTF-8 like a non-ASCII local part
            value = f"{local}@{domain.encode('idna').decode('ascii')}"
    if value.isascii():
        return formataddr((name, value), charset="utf-8")
    # the name as formataddr writes it (quoted, or an encoded-word): it takes no non-ASCII address itself
    shown = formataddr((name, "x@x"), charset="utf-8").removesuffix(" <x@x>") + f" <{value}>"
    # compat32 writes a header's surrogate-escaped bytes as they are (anything else non-ASCII becomes an
    # encoded-word)
    return (shown if name else value).encode("utf-8").decode("ascii", "surrogateescape")


def to_mime(batch: OutgoingBatch, rcpt: Recipient) -> bytes:
    """One recipient's message: multipart/alternative, text first, UTF-8, substitutions filled."""
    msg = MIMEMultipart("alternative")
    msg["Subject"] = _subject(batch.subject)
    msg["From"] = address(batch.from_email, batch.from_name)
    msg["To"] = address(rcpt.email)
    if batch.reply_to:
        msg["Reply-To"] = address(batch.reply_to)
    msg["Date"] = format_datetime(
        datetime.now(UTC)
    )  # +0000: a real zone, not -0000 (RFC 5322 "unknown")
    msg["Message-ID"] = make_msgid(
        idstring=f"d{rcpt.delivery_id}", domain=batch.from_email.rpartition("@")[2]
    )
    for name, value in {**batch.headers, **rcpt.headers}.items():
        msg[name] = value
    msg.attach(MIMEText(fill(batch.text, rcpt.substitutions), "plain", "utf-8"))
    msg.attach(MIMEText(fill(batch.html, rcpt.substitutions), "html", "utf-8"))
    return msg.as_bytes(policy=_WIRE)
