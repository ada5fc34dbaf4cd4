"""TLS for every listener: the configured certificate, or a self-signed one made on first start.

The self-signed certificate (ECDSA P-256, valid ten years, the hostname and localhost as subject
alternative names) is written once to `tls/` in the data directory and reused afterwards, so
clients that pinned it on first use keep trusting it across restarts.

`channel_binding` is the RFC 5929 §4 tls-server-end-point data of that certificate, which
SCRAM-SHA-256-PLUS binds a login to: computed once here, since a server-side ssl object does not
give its own certificate back.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postoffice.config import Config

log = logging.getLogger(__name__)


def certificate_paths(config: Config) -> tuple[Path, Path]:
    """(cert, key) to serve, making the self-signed pair when none is configured and none exists."""
    if config.tls.cert:
        return Path(config.tls.cert), Path(config.tls.key)
    folder = config.data_path / "tls"
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists()):
        make_self_signed(config.server_name, cert, key)
        log.info("tls: made a self-signed certificate for %s in %s", config.server_name, folder)
    return cert, key


def make_self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def channel_binding(config: Config) -> bytes:
    """The tls-server-end-point channel binding data of the certificate every listener serves."""
    cert, _ = certificate_paths(config)
    return server_end_point(cert.read_bytes())


def server_end_point(cert_pem: bytes) -> bytes:
    """RFC 5929 §4.1: the hash of the (first, leaf) certificate in `cert_pem`, with the hash of its
    signature algorithm, except that MD5 and SHA-1 become SHA-256."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()  # None: Ed25519 and the like, which RFC 5929 predates
    return cert.fingerprint(algorithm)


def server_context(config: Config) -> ssl.SSLContext:
    cert, key = certificate_paths(config)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
