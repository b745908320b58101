"""Address validation and normalization (no DNS lookups: deliverability is SendGrid's to judge)."""

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    pass


def normalize(address: str) -> str:
    """The form stored and compared: validated, IDNA/Unicode normalized, lower-cased."""
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{address!r} is not a valid email address: {exc}") from exc
    return result.normalized.lower()
