"""Ed25519 keys for signed tree heads, via `cryptography`.

The signing key comes from configuration: a PEM file (PKCS#8, unencrypted)
or a base64 32-byte seed. With neither, a development key is generated once
under the data directory and reused; its public key is logged so a tester
can pin it. Verification trusts the signing key's public key plus any
retired keys configured, so heads signed before a key rotation still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from audit.domain.tree_head import TreeHead
from svckit.logging import get_logger

log = get_logger(__name__)

DEV_KEY_FILE = "audit-signing-key.pem"


def key_id_of(public_key: bytes) -> str:
    """Hex SHA-256 of the raw 32-byte public key (as RFC 6962 names a log)."""
    return hashlib.sha256(public_key).hexdigest()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Ed25519Signer:
    """Signs tree heads; the private key never leaves this object."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = raw_public_key(private_key.public_key())
        self._key_id = key_id_of(self.public_key)

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class TrustedKeys:
    """The public keys a verifier accepts tree heads from, by key id."""

    def __init__(self, public_keys: Iterable[bytes]) -> None:
        self._raw = {key_id_of(raw): raw for raw in public_keys}
        self._keys = {
            kid: Ed25519PublicKey.from_public_bytes(raw) for kid, raw in self._raw.items()
        }

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def public_key(self, key_id: str) -> bytes | None:
        """The raw public key of a trusted key id."""
        return self._raw.get(key_id)

    def __call__(self, head: TreeHead) -> str:
        key = self._keys.get(head.key_id)
        if key is None:
            return f"signed by key {head.key_id[:16]}…, which is not trusted"
        try:
            key.verify(head.signature, head.signed_bytes)
        except InvalidSignature:
            return "its signature does not verify"
        return ""


def parse_public_keys(text: str) -> list[bytes]:
    """Comma-separated base64 raw 32-byte Ed25519 public keys."""
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        raw = _b64(item, "public key")
        Ed25519PublicKey.from_public_bytes(raw)  # refuse a malformed key now
        keys.append(raw)
    return keys


def load_signer(key_file: Path | None, seed: str, data_dir: Path) -> Ed25519Signer:
    """The configured key (file, else seed), else the development key under
    `data_dir`, generated on first use."""
    if key_file is not None:
        return Ed25519Signer(_from_pem(key_file.read_bytes(), str(key_file)))
    if seed:
        return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(_b64(seed, "seed")))
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        signer = Ed25519Signer(_from_pem(path.read_bytes(), str(path)))
    else:
        signer = Ed25519Signer(_generate(path))
    log.warning(
        "signing tree heads with the development key; configure "
        "CITYOPS_AUDIT_SIGNING_KEY_FILE or CITYOPS_AUDIT_SIGNING_KEY_SEED in production",
        key_file=str(path),
        key_id=signer.key_id,
        public_key=base64.b64encode(signer.public_key).decode(),
    )
    return signer


def dev_public_key(data_dir: Path) -> bytes | None:
    """The development key's public half, if one was generated (for the CLI)."""
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        return None
    return raw_public_key(_from_pem(path.read_bytes(), str(path)).public_key())


def _generate(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key


def _from_pem(data: bytes, where: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{where}: not an Ed25519 private key")
    return key


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{what} is not base64: {exc}") from exc
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 {what} is 32 bytes, got {len(raw)}")
    return raw
