"""Ed25519 signature checks for the audit log's signed tree heads."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def key_id(public_key: bytes) -> str:
    """Hex SHA-256 of the raw key: how audit names its keys."""
    return hashlib.sha256(public_key).hexdigest()


def ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
