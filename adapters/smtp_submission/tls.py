"""The server's TLS context: the configured certificate, or a self-signed one kept in data_dir.

The self-signed pair is made once and reused, so clients that pin or trust it on first use
keep working across restarts. Both files are written to temporary names and renamed into
place, so a crash or a second process never leaves half a pair behind.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("sendtrail.smtp")

SELF_SIGNED_CERT = "smtp-tls-cert.pem"
SELF_SIGNED_KEY = "smtp-tls-key.pem"
_VALIDITY = datetime.timedelta(days=3650)


def server_context(
    cert: str | Path | None, key: str | Path | None, data_dir: Path, hostname: str
) -> ssl.SSLContext:
    """A server-side context for STARTTLS and implicit TLS."""
    if cert is None or key is None:
        cert, key = self_signed_pair(data_dir, hostname)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # Submission clients present no certificate; SES asks for none either.
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def self_signed_pair(data_dir: Path, hostname: str) -> tuple[Path, Path]:
    """``(cert, key)`` paths in ``data_dir``, generated on first use."""
    cert_path, key_path = data_dir / SELF_SIGNED_CERT, data_dir / SELF_SIGNED_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    data_dir.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = _generate(hostname)
    # The key first: a present certificate implies its key is already in place.
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, cert_pem, mode=0o644)
    log.info("generated a self-signed TLS certificate", extra={"path": str(cert_path)})
    return cert_path, key_path


def _generate(hostname: str) -> tuple[bytes, bytes]:
    # P-256 is quick to make and every TLS client in use accepts it.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    alternative_names: list[x509.GeneralName] = [
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
