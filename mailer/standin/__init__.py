"""A local SendGrid v3 stand-in (mail send + signed Event Webhook) for tests, benchmarks, the demo and compose."""

from mailer.standin.faults import Faults, parse_spec
from mailer.standin.server import StandIn
from mailer.standin.signing import public_key_b64, sign, verify
from mailer.standin.validate import check_limits, validate

__all__ = [
    "Faults",
    "StandIn",
    "check_limits",
    "parse_spec",
    "public_key_b64",
    "sign",
    "validate",
    "verify",
]
