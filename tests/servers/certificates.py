"""Certificates made in the test: a CA, a server certificate it signs, and an unrelated CA.

With the ``cryptography`` package when it is installed, else with the ``openssl`` program
(Debian's postgresql-15 pulls it in). EC P-256 keys: quick to make, and PostgreSQL serves them.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Certificates:
    """PEM files in one folder.

    Attributes:
        ca: the CA that signed the server certificate (the right ``sslrootcert``).
        wrong_ca: a CA that signed nothing of this server's.
        server_cert: the server's certificate, valid for ``host`` only (a DNS name).
        server_key: its private key.
        host: the one name the server certificate is valid for.
    """

    ca: Path
    wrong_ca: Path
    server_cert: Path
    server_key: Path
    host: str


def make_certificates(folder: Path, host: str = "localhost", *, tool: str = "auto") -> Certificates:
    """Write a CA, a server certificate for ``host`` signed by it, and another CA.

    Args:
        folder: where the PEM files go.
        host: the DNS name the server certificate names (subject CN and its only SAN).
        tool: ``cryptography``, ``openssl`` or ``auto`` (the package when installed).
    """
    if tool == "auto":
        try:
            import cryptography  # noqa: F401
        except ImportError:
            tool = "openssl"
        else:
            tool = "cryptography"
    folder.mkdir(parents=True, exist_ok=True)
    files = Certificates(
        ca=folder / "ca.pem",
        wrong_ca=folder / "wrong-ca.pem",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        host=host,
    )
    if tool == "cryptography":
        _with_cryptography(files)
    elif tool == "openssl":
        _with_openssl(files, folder)
    else:
        raise ValueError(f"tool must be cryptography, openssl or auto, not {tool!r}")
    return files


def _with_cryptography(files: Certificates) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def usage(*, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=not ca,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    def builder(subject: str, issuer: str, public_key: ec.EllipticCurvePublicKey) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            builder(common_name, common_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(ca=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_key, ca_cert = make_ca("chatkit-pg test CA")
    _, wrong_cert = make_ca("chatkit-pg unrelated CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        builder(files.host, "chatkit-pg test CA", server_key.public_key())
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(files.host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.ca.write_bytes(pem(ca_cert))
    files.wrong_ca.write_bytes(pem(wrong_cert))
    files.server_cert.write_bytes(pem(server_cert))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.server_key.chmod(0o600)


def _with_openssl(files: Certificates, folder: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor the openssl program is here")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder, timeout=60)

    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for pem, common_name in ((files.ca, "chatkit-pg test CA"), (files.wrong_ca, "unrelated")):
        run(
            "req", "-x509", *new_key, "-keyout", f"{pem.stem}.key", "-out", str(pem),
            "-days", "2", "-subj", f"/CN={common_name}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign",
        )  # fmt: skip
    run(
        "req", "-new", *new_key, "-keyout", str(files.server_key), "-out", "server.csr",
        "-subj", f"/CN={files.host}",
    )  # fmt: skip
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyAgreement\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=DNS:{files.host}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    run(
        "x509", "-req", "-in", "server.csr", "-CA", str(files.ca), "-CAkey", "ca.key",
        "-CAcreateserial", "-out", str(files.server_cert), "-days", "2",
        "-extfile", str(extensions),
    )  # fmt: skip
    files.server_key.chmod(0o600)
