"""deploy/tls/make-certs.sh: a CA, and certificates that verify and work.

The script runs into a temporary directory; every certificate is checked with
`openssl verify` against the CA it made, its names and uses are read back, and
a real TLS handshake on 127.0.0.1 shows that a client trusting only that CA
accepts the broker as "kafka" and refuses it under any other name, and that
the broker's certificate-only listener knows the admin by its certificate.
"""

import hashlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "tls" / "make-certs.sh"
LOCAL = ["localhost"], [ipaddress.ip_address("127.0.0.1")]
# name -> (CN, DNS names, IP addresses, extended key usages)
EXPECTED = {
    "kafka": ("kafka-broker", ["kafka", *LOCAL[0]], LOCAL[1],
              {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}),
    "kafka-admin": ("kafka-admin", [], [], {ExtendedKeyUsageOID.CLIENT_AUTH}),
    "mongo": ("mongo", ["mongo", *LOCAL[0]], LOCAL[1],
              {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}),
}

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="deploy/tls/make-certs.sh needs the openssl command")


def make_certs(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["sh", str(SCRIPT), *args, str(out)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls") / "out"
    make_certs(directory)
    return directory


def certificate(out: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((out / f"{name}.crt").read_bytes())


def digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_every_certificate_verifies_against_the_ca(out: Path) -> None:
    for name in EXPECTED:
        result = subprocess.run(["openssl", "verify", "-CAfile", str(out / "ca.crt"),
                                 str(out / f"{name}.crt")],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith(": OK")
    ca = certificate(out, "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_names_and_uses(out: Path) -> None:
    for name, (cn, dns, ips, uses) in EXPECTED.items():
        cert = certificate(out, name)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        if dns or ips:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert san.get_values_for_type(x509.DNSName) == dns, name
            assert san.get_values_for_type(x509.IPAddress) == ips, name
        else:
            with pytest.raises(x509.ExtensionNotFound):
                cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == uses
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_private_keys_are_for_the_owner_only(out: Path) -> None:
    for path in out.iterdir():
        mode = path.stat().st_mode & 0o777
        if path.suffix in (".key", ".pem"):
            assert mode == 0o600, path.name
        else:
            assert path.suffix == ".crt", path.name
            assert mode == 0o644, path.name


def test_a_pem_is_its_certificate_then_its_unencrypted_pkcs8_key(out: Path) -> None:
    """What Kafka's PEM keystore (ssl.keystore.type=PEM, no ssl.key.password)
    and mongod's --tlsCertificateKeyFile read."""
    for name in EXPECTED:
        pem = (out / f"{name}.pem").read_text()
        assert pem == (out / f"{name}.crt").read_text() + (out / f"{name}.key").read_text()
        assert pem.count("-----BEGIN PRIVATE KEY-----") == 1, name


def test_running_again_keeps_every_key(out: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = digests(copy)
    make_certs(copy)
    assert digests(copy) == before
    # Renewal: a certificate that is gone is issued again for the same key.
    (copy / "mongo.crt").unlink()
    make_certs(copy)
    assert digests(copy)["mongo.key"] == before["mongo.key"]
    assert digests(copy)["mongo.crt"] != before["mongo.crt"]
    # --force makes everything again, the CA included.
    make_certs(copy, "--force")
    after = digests(copy)
    assert all(after[name] != before[name] for name in before if name.endswith((".key", ".crt")))


def test_without_the_ca_key_nothing_is_overwritten(out: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "ca.key").unlink()
    before = digests(copy)
    result = subprocess.run(["sh", str(SCRIPT), str(copy)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "--force" in result.stderr
    assert digests(copy) == before


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> dict[str, object]:
    """A TLS connection on 127.0.0.1 and one byte over it; the client certificate
    the server saw, if any. Raises what the client raises."""
    seen: list[dict[str, object]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(10)
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    seen.append(tls.getpeercert() or {})
                    tls.sendall(b"k")
            except (ssl.SSLError, OSError):
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (socket.create_connection(listener.getsockname(), timeout=10) as raw,
                  client.wrap_socket(raw, server_hostname=hostname) as tls):
                assert tls.recv(1) == b"k"
        finally:
            thread.join(10)
    return seen[0]


def server_context(out: Path, name: str, *, client_ca: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(out / f"{name}.crt", out / f"{name}.key")
    if client_ca:  # like Kafka's listeners with ssl.client.auth=required
        context.load_verify_locations(out / "ca.crt")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(out: Path, certificate_of: str | None = None) -> ssl.SSLContext:
    """Trusts the generated CA and nothing else."""
    context = ssl.create_default_context(cafile=out / "ca.crt")
    if certificate_of:
        context.load_cert_chain(out / f"{certificate_of}.crt", out / f"{certificate_of}.key")
    return context


def test_a_client_trusting_only_the_ca_accepts_kafka_by_its_name(out: Path) -> None:
    assert len(client_context(out).get_ca_certs()) == 1
    for hostname in ("kafka", "localhost", "127.0.0.1"):
        handshake(server_context(out, "kafka"), client_context(out), hostname)
    handshake(server_context(out, "mongo"), client_context(out), "mongo")


def test_under_another_name_the_handshake_fails(out: Path) -> None:
    for hostname in ("mongo", "kafka.example.org"):
        with pytest.raises(ssl.SSLCertVerificationError, match=r"match|mismatch"):
            handshake(server_context(out, "kafka"), client_context(out), hostname)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server_context(out, "mongo"), client_context(out), "kafka")


def test_a_client_without_the_ca_refuses_the_broker(out: Path) -> None:
    stranger = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError, match=r"self.signed|unable to get local"):
        handshake(server_context(out, "kafka"), stranger, "kafka")


def test_the_certificate_only_listener_knows_the_admin_and_refuses_the_anonymous(
        out: Path) -> None:
    seen = handshake(server_context(out, "kafka", client_ca=True),
                     client_context(out, "kafka-admin"), "kafka")
    assert (("commonName", "kafka-admin"),) in seen["subject"]  # type: ignore[operator]
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(server_context(out, "kafka", client_ca=True), client_context(out), "kafka")
