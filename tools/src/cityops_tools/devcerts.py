"""A development certificate authority and one certificate per service, for
gRPC mutual TLS (svckit.grpc.tls).

    python -m cityops_tools.devcerts DIR [--days 30] [--namespace cityops]
                                         [--service NAME ...] [--san NAME ...]

Writes `ca.crt`/`ca.key` (kept if present, so re-running re-issues service
certificates under the same CA) and `<service>.crt`/`<service>.key` per
service; keys are mode 0600. A service certificate names its service twice:
the subject common name and the URI SAN `spiffe://cityops/<service>` (what
svckit.grpc.identity.peer_service reads). Its DNS SANs cover the Kubernetes
Service names (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
`<svc>.<ns>.svc.cluster.local`) and loopback (`localhost`, 127.0.0.1, ::1),
and it is valid for client and server authentication.

Production uses the organisation's CA or cert-manager with the same names;
this CA is for development and tests, and its validity is short on purpose.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from svckit.grpc.identity import SERVICE_URI_PREFIX

SERVICES = ("detection", "intake", "dispatch", "workorders", "audit", "console")
# Skew allowance: a peer whose clock is a little behind still accepts a fresh certificate.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CityOps development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_ca(name: str = "CityOps development CA", *, days: float = 365) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def service_sans(service: str, namespace: str, extra: Sequence[str] = ()) -> list[x509.GeneralName]:
    dns = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
        *extra,
    ]
    return [
        x509.UniformResourceIdentifier(f"{SERVICE_URI_PREFIX}{service}"),
        *(x509.DNSName(name) for name in dict.fromkeys(dns)),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]


def issue(
    ca: Issued,
    service: str,
    *,
    namespace: str = "cityops",
    days: float = 30,
    not_before: datetime | None = None,
    extra_sans: Sequence[str] = (),
) -> Issued:
    """A certificate for `service`, signed by `ca`; `not_before` in the past with
    a short `days` makes an expired one (for tests)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(service))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(service_sans(service, namespace, extra_sans)),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(mode)


def write(directory: Path, name: str, issued: Issued) -> tuple[Path, Path]:
    """`<name>.crt` (0644) and `<name>.key` (0600); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _write(key, issued.key_pem(), 0o600)
    _write(cert, issued.cert_pem(), 0o644)
    return cert, key


def load_or_create_ca(directory: Path, *, days: float = 365) -> Issued:
    cert, key = directory / "ca.crt", directory / "ca.key"
    if cert.exists() and key.exists():
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key} is not an EC key made by this tool")
        return Issued(x509.load_pem_x509_certificate(cert.read_bytes()), loaded)
    ca = create_ca(days=days)
    write(directory, "ca", ca)
    return ca


def generate(
    directory: Path,
    services: Sequence[str] = SERVICES,
    *,
    days: float = 30,
    namespace: str = "cityops",
    extra_sans: Sequence[str] = (),
) -> None:
    ca = load_or_create_ca(directory)
    for service in services:
        write(
            directory,
            service,
            issue(ca, service, namespace=namespace, days=days, extra_sans=extra_sans),
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--days", type=float, default=30.0, help="service certificate validity")
    parser.add_argument("--namespace", default="cityops", help="Kubernetes namespace for DNS SANs")
    parser.add_argument(
        "--service", action="append", help="only these services (repeatable); default: all"
    )
    parser.add_argument("--san", action="append", default=[], help="an extra DNS SAN")
    args = parser.parse_args(argv)
    generate(
        args.directory,
        args.service or SERVICES,
        days=args.days,
        namespace=args.namespace,
        extra_sans=args.san,
    )
    print(f"wrote ca.crt and service certificates to {args.directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
