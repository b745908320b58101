"""Signed Event Webhook, as SendGrid does it: ECDSA P-256 with SHA-256 over the timestamp header's bytes
followed by the raw request body; the signature travels base64-encoded (DER), and users are given the
public key as base64 of its DER SubjectPublicKeyInfo (a PEM body without the armour lines)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The receiving side lives with the webhook; the stand-in signs what it verifies.
from mailer.events.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, _bytes, verify

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "generate_private_key",
    "load_or_create_private_key",
    "public_key_b64",
    "sign",
    "verify",
]


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    """What SendGrid shows under Mail Settings and what MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY holds."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def sign(payload: bytes | str, timestamp: str, private_key: ec.EllipticCurvePrivateKey) -> str:
    """Base64 DER ECDSA-SHA256 signature of timestamp + payload."""
    signature = private_key.sign(_bytes(timestamp) + _bytes(payload), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def load_or_create_private_key(path: str | os.PathLike) -> ec.EllipticCurvePrivateKey:
    """Keep the webhook key in a PEM file so the public key users configured survives restarts."""
    path = Path(path)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ValueError(f"{path} does not hold a P-256 private key")
        return key
    key = generate_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # a private key: owner-only
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key
