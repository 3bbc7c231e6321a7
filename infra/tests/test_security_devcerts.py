"""The development CA (cityops_tools.devcerts): keys private, service names
where svckit reads them, the names clients dial, a short configurable life."""

from __future__ import annotations

import ipaddress
import stat
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cityops_tools import devcerts
from svckit.grpc.identity import SERVICE_URI_PREFIX


def test_the_cli_writes_a_ca_and_a_certificate_per_service(tmp_path: Path) -> None:
    assert devcerts.main([str(tmp_path), "--days", "2", "--namespace", "city-a"]) == 0
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    for service in devcerts.SERVICES:
        cert = x509.load_pem_x509_certificate((tmp_path / f"{service}.crt").read_bytes())
        assert stat.S_IMODE((tmp_path / f"{service}.key").stat().st_mode) == 0o600
        cert.verify_directly_issued_by(ca)
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert common == service
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
            f"{SERVICE_URI_PREFIX}{service}"
        ]
        dns = set(sans.get_values_for_type(x509.DNSName))
        assert {service, f"{service}.city-a.svc.cluster.local", "localhost"} <= dns
        assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
        life = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert life == timedelta(days=2)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_a_rerun_reissues_under_the_same_ca(tmp_path: Path) -> None:
    devcerts.generate(tmp_path, ["intake"])
    first_ca = (tmp_path / "ca.crt").read_bytes()
    first = (tmp_path / "intake.crt").read_bytes()
    devcerts.generate(tmp_path, ["intake"])
    assert (tmp_path / "ca.crt").read_bytes() == first_ca
    assert (tmp_path / "intake.crt").read_bytes() != first
