"""SASL_SSL settings give every Kafka client a context that checks the broker.

With MASH_KAFKA_SSL_CAFILE the broker must be signed by that CA (production's
own, deploy/tls); without it the system's CAs are trusted (a managed Kafka with
a public certificate). A CA file that is not there is an error at once, not a
handshake failure later.
"""

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLScram512

from plumbing.service import kafka_security
from plumbing.settings import ServiceSettings


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test MASH CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def settings(protocol: str, **extra: object) -> ServiceSettings:
    return ServiceSettings.model_validate({"kafka_security_protocol": protocol,
                                           "kafka_sasl_username": "intake",
                                           "kafka_sasl_password": "pw", **extra})


def assert_checks_the_broker(context: object) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_sasl_ssl_with_a_ca_trusts_that_ca_alone(ca_file: Path) -> None:
    options = settings("SASL_SSL", kafka_ssl_cafile=ca_file).kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert_checks_the_broker(context)
    assert [dict(part[0] for part in ca["subject"])["commonName"]
            for ca in context.get_ca_certs()] == ["Test MASH CA"]


def test_the_service_broker_gets_the_same_context(ca_file: Path) -> None:
    security = kafka_security(settings("SASL_SSL", kafka_ssl_cafile=ca_file))
    assert isinstance(security, SASLScram512)
    assert security.use_ssl
    assert_checks_the_broker(security.ssl_context)
    assert security.ssl_context is not None
    assert len(security.ssl_context.get_ca_certs()) == 1


def test_the_ca_file_comes_from_the_environment(ca_file: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MASH_KAFKA_SSL_CAFILE", str(ca_file))
    assert ServiceSettings().kafka_ssl_cafile == ca_file


def test_sasl_ssl_without_a_ca_file_trusts_the_system_cas() -> None:
    context = settings("SASL_SSL").kafka_client_options()["ssl_context"]
    assert_checks_the_broker(context)


def test_a_ca_file_that_is_not_there_is_refused_at_once(tmp_path: Path) -> None:
    missing = settings("SASL_SSL", kafka_ssl_cafile=tmp_path / "nowhere.crt")
    with pytest.raises(ValueError, match="MASH_KAFKA_SSL_CAFILE"):
        missing.kafka_client_options()
    with pytest.raises(ValueError, match="MASH_KAFKA_SSL_CAFILE"):
        kafka_security(missing)


def test_without_ssl_there_is_no_context(ca_file: Path) -> None:
    options = settings("SASL_PLAINTEXT", kafka_ssl_cafile=ca_file).kafka_client_options()
    assert "ssl_context" not in options
    security = kafka_security(settings("SASL_PLAINTEXT"))
    assert security is not None
    assert not security.use_ssl
    assert security.ssl_context is None
    assert settings("PLAINTEXT").kafka_client_options() == {}
