"""Per-recipient values: rendered into an edition as tags, filled at send time (SendGrid substitutions)."""

UNSUBSCRIBE_URL = "%unsubscribe_url%"
PREFERENCES_URL = "%preferences_url%"


def fill(text: str, values: dict[str, str]) -> str:
    """What SendGrid does with `substitutions`, for the backends that send without it."""
    for tag, value in values.items():
        text = text.replace(tag, value)
    return text
