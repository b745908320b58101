"""SendGrid's signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header's bytes followed
by the raw body; the signature travels base64 (DER), the public key is base64 of its DER
SubjectPublicKeyInfo (what SendGrid's settings page shows)."""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def verify(payload: bytes | str, timestamp: str, signature: str, public_key: str) -> bool:
    """`public_key` is the base64 DER key. Any malformed input is simply 'not valid'."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(
            base64.b64decode(signature),
            _bytes(timestamp) + _bytes(payload),
            ec.ECDSA(hashes.SHA256()),
        )
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
