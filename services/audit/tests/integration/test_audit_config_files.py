"""Configuration files the service starts from: the published policies and
the tree-head signing key."""

from __future__ import annotations

import base64
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.adapters.policy_files import PolicyFileError, load_formula, load_verification_policy
from audit.adapters.signing import (
    DEV_KEY_FILE,
    TrustedKeys,
    dev_public_key,
    load_signer,
    parse_public_keys,
)
from audit.domain.tree_head import sign_tree_head
from svckit.clock import utcnow
from svckit.reference import default_config_dir


def test_the_published_policy_files_load(tmp_path: Path) -> None:
    config = default_config_dir() / "audit"
    policy = load_verification_policy(config / "verification.yaml")
    assert policy.for_category("E0101").machine_verification
    assert not policy.for_category("E0403").machine_verification  # gas leak: a person checks
    assert not policy.for_category("C0101").machine_may_fail
    assert policy.for_category("E0505").radius_m == 20
    formula = load_formula(config / "evaluation.yaml")
    assert formula.version == "2026.1"
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nversion: x\ncategories:\n  E0101: {window_hours: -1}\n")
    with pytest.raises(PolicyFileError, match="window_hours"):
        load_verification_policy(bad)
    bad.write_text(
        "schema_version: 1\nversion: x\nformulas:\n  department: [{indicator: nope, weight: 1}]\n"
        "  district: [{indicator: closing_rate, weight: 1}]\n"
    )
    with pytest.raises(PolicyFileError, match="unknown: nope"):
        load_formula(bad)


def test_the_signing_key_comes_from_a_pem_file_or_a_seed(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "sth.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    from_file = load_signer(pem, "", tmp_path)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    from_seed = load_signer(None, base64.b64encode(raw).decode(), tmp_path)
    assert from_file.key_id == from_seed.key_id
    assert not (tmp_path / DEV_KEY_FILE).exists()
    with pytest.raises(ValueError, match="32 bytes"):
        load_signer(None, base64.b64encode(b"short").decode(), tmp_path)


def test_without_configuration_a_dev_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_signer(None, "", tmp_path)
    path = tmp_path / DEV_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(None, "", tmp_path).key_id == first.key_id
    assert dev_public_key(tmp_path) == first.public_key


def test_trusted_keys_check_tree_heads(tmp_path: Path) -> None:
    signer, other = load_signer(None, "", tmp_path), load_signer(None, "", tmp_path / "x")
    head = sign_tree_head(signer, 3, b"\x01" * 32, utcnow())
    retired = base64.b64encode(other.public_key).decode()
    trusted = TrustedKeys([signer.public_key, *parse_public_keys(f" {retired} ,")])
    assert trusted(head) == "" and trusted.key_ids == sorted([signer.key_id, other.key_id])
    assert "not trusted" in TrustedKeys([other.public_key])(head)
    forged = replace(head, signature=sign_tree_head(other, 3, b"\x01" * 32, utcnow()).signature)
    assert "does not verify" in trusted(forged)
    with pytest.raises(ValueError, match="base64"):
        parse_public_keys("not base64!")
