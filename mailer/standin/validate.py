"""The v3 /mail/send request rules the stand-in enforces, as a pure function returning SendGrid-shaped errors.

Messages follow SendGrid's documented wording where it has one (twilio.com/docs/sendgrid/api-reference/
mail-send/errors); fields are dotted paths such as `personalizations.1.to.0.email`.
`check_limits` is the cheap subset that runs on every request (benchmarks sample full validation)."""

from __future__ import annotations

import json

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
_ADDRESS_FIELDS = ("to", "cc", "bcc")


def error(message: str, field: str | None = None, help_anchor: str | None = None) -> dict:
    """One SendGrid error object; the help link points at the docs section for the field, as SendGrid's do."""
    if help_anchor is None and field:
        parts = [p for p in field.split(".") if not p.isdigit()]
        help_anchor = ".".join(parts[:2])
    return {"message": message, "field": field, "help": HELP + help_anchor if help_anchor else None}


def is_email(value) -> bool:
    """Deliberately simple: one @, something before it, a dotted domain after it, no whitespace anywhere."""
    if not isinstance(value, str) or value.count("@") != 1 or value.split() != [value]:
        return False
    local, domain = value.split("@")
    return (
        bool(local)
        and "." in domain
        and not domain.startswith(".")
        and not domain.endswith(".")
        and ".." not in domain
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_limits(payload) -> list[dict]:
    """Shape, counts and uniqueness of recipients: what must hold for a request to be recorded at all."""
    if not isinstance(payload, dict):
        return [error("The request body must be a JSON object.", None)]
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return [error("You must have at least one personalization.", "personalizations")]
    errors = []
    if len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(
            error(
                f"The personalization block is limited to {MAX_PERSONALIZATIONS} personalizations per API request. "
                f"You have provided {len(personalizations)} personalizations. Please consider splitting this into "
                "multiple requests and resending your request.",
                "personalizations",
            )
        )
    seen: set[str] = set()
    total = 0
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            errors.append(error("Invalid type. Expected: object.", f"personalizations.{i}"))
            continue
        to = p.get("to")
        if not isinstance(to, list) or not to:
            errors.append(
                error(
                    "The to array is required for all personalization objects, and must have at least one email "
                    "object with a valid email address.",
                    f"personalizations.{i}.to",
                )
            )
        for kind in _ADDRESS_FIELDS:
            entries = p.get(kind)
            if entries is None or (kind == "to" and not isinstance(entries, list)):
                continue
            if not isinstance(entries, list):
                errors.append(
                    error(
                        f"The {kind} array, when used, must be an array of email objects.",
                        f"personalizations.{i}.{kind}",
                    )
                )
                continue
            for j, entry in enumerate(entries):
                email = entry.get("email") if isinstance(entry, dict) else None
                if not isinstance(email, str):
                    errors.append(
                        error(
                            f"Each {kind} object must at least have an email address.",
                            f"personalizations.{i}.{kind}.{j}.email",
                        )
                    )
                    continue
                total += 1
                key = email.lower()  # mailboxes compare case-insensitively in practice
                if key in seen:
                    errors.append(
                        error(
                            "Each email address in the personalization block should be unique between to, cc, and "
                            f"bcc. We found the first duplicate instance of [{email}] in the "
                            f"personalizations.{i}.{kind} field.",
                            f"personalizations.{i}",
                            "personalizations",
                        )
                    )
                seen.add(key)
    if total > MAX_RECIPIENTS:
        errors.append(
            error(
                f"There is a limit of {MAX_RECIPIENTS} total recipients (to + cc + bcc) per request.",
                "personalizations",
            )
        )
    return errors


def _string_map(value, field: str, what: str) -> list[dict]:
    if not isinstance(value, dict):
        return [error(f"Invalid type. The {what} must be an object.", field)]
    return [
        error(f"The {what} values must be strings.", f"{field}.{k}", field.split(".")[-1])
        for k, v in value.items()
        if not isinstance(v, str)
    ]


def _headers(value, field: str) -> list[dict]:
    if not isinstance(value, dict):
        return [error("Invalid type. The headers must be an object.", field)]
    errors = []
    for name, v in value.items():
        if name.lower() in RESERVED_HEADERS:
            errors.append(
                error(
                    f"The header '{name}' is reserved and cannot be set in headers.",
                    f"{field}.{name}",
                    "headers",
                )
            )
        elif not isinstance(v, str):
            errors.append(error("The header values must be strings.", f"{field}.{name}", "headers"))
    return errors


def _custom_args_size(args: dict) -> int:
    return len(json.dumps(args, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _address(value, field: str, required: bool, label: str) -> list[dict]:
    if value is None and not required:
        return []
    if not isinstance(value, dict) or "email" not in value:
        return [
            error(f"The {label} object must be provided and requires the email parameter.", field)
        ]
    if not is_email(value["email"]):
        return [
            error(f"The {label} email does not contain a valid address.", f"{field}.email", field)
        ]
    if "name" in value and not isinstance(value["name"], str):
        return [error(f"The {label} name must be a string.", f"{field}.name", field)]
    return []


def validate(payload) -> list[dict]:
    """Every rule; an empty list means SendGrid would accept the request."""
    errors = check_limits(payload)
    if not isinstance(payload, dict):
        return errors
    personalizations = payload.get("personalizations")
    personalizations = personalizations if isinstance(personalizations, list) else []
    top_args = payload.get("custom_args")
    top_args_ok = True

    # top level: sender, reply-to, subject, content
    errors += _address(payload.get("from"), "from", True, "from")
    errors += _address(payload.get("reply_to"), "reply_to", False, "reply_to")
    templated = bool(payload.get("template_id"))  # a template may carry its own subject and content
    subject = payload.get("subject")
    if subject is not None and not isinstance(subject, str):
        errors.append(error("The subject must be a string.", "subject"))
    every_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and isinstance(p.get("subject"), str) and p["subject"]
        for p in personalizations
    )
    if not templated and not every_has_subject and not (isinstance(subject, str) and subject):
        errors.append(
            error(
                "The subject is required. You can get around this requirement if you use a template with a subject "
                "defined or if every personalization has a subject defined.",
                "subject",
            )
        )
    errors += _content(payload.get("content"), templated)

    # top-level extras
    categories = payload.get("categories")
    if categories is not None:
        if not isinstance(categories, list):
            errors.append(error("The categories must be an array of strings.", "categories"))
        else:
            if len(categories) > MAX_CATEGORIES:
                errors.append(
                    error(
                        f"Too many categories: a message may have at most {MAX_CATEGORIES}.",
                        "categories",
                    )
                )
            for i, c in enumerate(categories):
                if not isinstance(c, str) or not c:
                    errors.append(
                        error("A category must be a non-empty string.", f"categories.{i}")
                    )
                elif not c.isascii():
                    errors.append(error("Categories must be US-ASCII (7-bit).", f"categories.{i}"))
                elif len(c) > MAX_CATEGORY_LENGTH:
                    errors.append(
                        error(
                            f"A category cannot exceed {MAX_CATEGORY_LENGTH} characters.",
                            f"categories.{i}",
                        )
                    )
    if top_args is not None:
        found = _string_map(top_args, "custom_args", "custom_args")
        if not found and _custom_args_size(top_args) > MAX_CUSTOM_ARGS_BYTES:
            found = [
                error(
                    f"The custom_args may not exceed {MAX_CUSTOM_ARGS_BYTES} bytes.", "custom_args"
                )
            ]
        errors += found
        top_args_ok = not found
    if payload.get("headers") is not None:
        errors += _headers(payload["headers"], "headers")
    if "send_at" in payload and not _is_int(payload["send_at"]):
        errors.append(error("The send_at must be an integer (unix timestamp).", "send_at"))
    mail_settings = payload.get("mail_settings")
    if mail_settings is not None:
        sandbox = mail_settings.get("sandbox_mode") if isinstance(mail_settings, dict) else None
        if not isinstance(mail_settings, dict):
            errors.append(error("The mail_settings must be an object.", "mail_settings"))
        elif sandbox is not None and (
            not isinstance(sandbox, dict) or not isinstance(sandbox.get("enable", False), bool)
        ):
            errors.append(
                error(
                    "The sandbox_mode enable parameter must be a boolean.",
                    "mail_settings.sandbox_mode.enable",
                )
            )

    # per personalization (check_limits already covered to/cc/bcc shape and uniqueness)
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            continue
        f = f"personalizations.{i}"
        for kind in _ADDRESS_FIELDS:
            entries = p.get(kind)
            for j, entry in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(entry, dict) and isinstance(entry.get("email"), str):
                    if not is_email(entry["email"]):
                        errors.append(
                            error("Does not contain a valid address.", f"{f}.{kind}.{j}.email")
                        )
                    elif "name" in entry and not isinstance(entry["name"], str):
                        errors.append(error("The name must be a string.", f"{f}.{kind}.{j}.name"))
        if "subject" in p and not isinstance(p["subject"], str):
            errors.append(error("The subject must be a string.", f"{f}.subject"))
        if p.get("substitutions") is not None:
            errors += _string_map(p["substitutions"], f"{f}.substitutions", "substitutions")
        if p.get("headers") is not None:
            errors += _headers(p["headers"], f"{f}.headers")
        if p.get("custom_args") is not None:
            found = _string_map(p["custom_args"], f"{f}.custom_args", "custom_args")
            merged = (
                {
                    **(top_args if top_args_ok and isinstance(top_args, dict) else {}),
                    **p["custom_args"],
                }
                if not found
                else {}
            )
            if merged and _custom_args_size(merged) > MAX_CUSTOM_ARGS_BYTES:
                found = [
                    error(
                        f"The custom_args may not exceed {MAX_CUSTOM_ARGS_BYTES} bytes.",
                        f"{f}.custom_args",
                    )
                ]
            errors += found
        if "send_at" in p and not _is_int(p["send_at"]):
            errors.append(error("The send_at must be an integer (unix timestamp).", f"{f}.send_at"))
    return errors


def _content(content, templated: bool) -> list[dict]:
    if content is None and templated:
        return []
    if not isinstance(content, list) or not content:
        return [
            error(
                "Unless a valid template_id is provided, the content parameter is required. There must be at "
                "least one defined content block.",
                "content",
            )
        ]
    errors, types = [], []
    for i, block in enumerate(content):
        if (
            not isinstance(block, dict)
            or not isinstance(block.get("type"), str)
            or not block["type"]
        ):
            errors.append(
                error(
                    "The content type must be a string at least one character in length.",
                    f"content.{i}.type",
                )
            )
            continue
        types.append(block["type"].lower())
        if not isinstance(block.get("value"), str) or not block["value"]:
            errors.append(
                error(
                    "The content value must be a string at least one character in length.",
                    f"content.{i}.value",
                )
            )
    if len(set(types)) != len(types):
        errors.append(error("Each content type may only be provided once.", "content"))
    # SendGrid builds multipart/alternative in this order, so it insists on it
    expected = [t for t in ("text/plain", "text/html") if t in types]
    if types[: len(expected)] != expected:
        errors.append(
            error(
                "If present, text/plain must be first, followed by text/html, followed by any other "
                "content.",
                "content",
            )
        )
    return errors
