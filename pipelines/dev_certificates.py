"""Throwaway TLS material for a local broker: a CA, a server certificate and client certificates.

Everything is PEM, as both the broker (``ssl.keystore.type=PEM``, ``ssl.truststore.type=PEM``) and
librdkafka (``ssl.ca.location``, ``ssl.certificate.location``, ``ssl.key.location``) read it, and is made
with the ``cryptography`` package (already installed with Apache Beam), so no ``openssl`` or ``keytool``
run is needed.

Decisions:

- Private keys are unencrypted PKCS#8 (``BEGIN PRIVATE KEY``): Kafka's PEM key store reads PKCS#8 only
  (not the ``BEGIN RSA PRIVATE KEY`` form), needs no ``ssl.key.password`` for an unencrypted key, and
  refuses a key store password with PEM. The files live in the broker's temporary directory, mode 0600.
- The server certificate names ``IP:127.0.0.1`` and ``DNS:localhost``: librdkafka checks the broker's
  host name by default (``ssl.endpoint.identification.algorithm=https``) against the address in
  ``bootstrap.servers``, here an IP address, which only an IP subject alternative name matches.
- A client certificate's subject is only ``CN=<name>``, so the broker's principal mapping rule
  ``RULE:^CN=(...)$/$1/`` makes it ``User:<name>``.
- Certificates are valid from one hour back (clock skew) for two days: long enough for any test session.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import pathlib
from typing import Mapping, Sequence, Tuple

_VALID_DAYS = 2


@dataclasses.dataclass(frozen=True)
class Certificates:
    """Paths of the PEM files :func:`make_certificates` wrote.

    Attributes:
      ca_location: The CA certificate, for ``ssl.ca.location`` (clients) and the broker's trust store.
      server_keystore: The broker's unencrypted PKCS#8 key followed by its certificate (the broker's
        ``ssl.keystore.location`` with ``ssl.keystore.type=PEM``).
      clients: Each client name's ``(certificate, key)`` paths, for ``ssl.certificate.location`` and
        ``ssl.key.location``.
    """

    ca_location: str
    server_keystore: str
    clients: Mapping[str, Tuple[str, str]]


def make_certificates(directory: pathlib.Path, clients: Sequence[str] = ()) -> Certificates:
    """Writes a new CA, a server certificate for 127.0.0.1/localhost and one certificate per client.

    Args:
      directory: Where the files go (created if missing).
      clients: Names of client certificates to make, each with subject ``CN=<name>``.

    Returns:
      The paths written.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def issue(subject, public_key, issuer, signing_key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("beamconnect local test CA")
    ca = issue(ca_name, ca_key.public_key(), ca_name, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       encipher_only=False, decipher_only=False), True)])
    ca_location = directory / "ca.pem"
    _write(ca_location, _pem_certificate(ca))

    def leaf(common_name, usage, names=None):
        key = ec.generate_private_key(ec.SECP256R1())
        extensions = [(x509.BasicConstraints(ca=False, path_length=None), True),
                      (x509.ExtendedKeyUsage([usage]), False)]
        if names:
            extensions.append((x509.SubjectAlternativeName(names), False))
        return key, issue(name(common_name), key.public_key(), ca_name, ca_key, extensions)

    server_key, server = leaf("localhost", ExtendedKeyUsageOID.SERVER_AUTH,
                              [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    server_keystore = directory / "broker-keystore.pem"
    _write(server_keystore, _pem_key(server_key) + _pem_certificate(server))

    made = {}
    for client in clients:
        key, certificate = leaf(client, ExtendedKeyUsageOID.CLIENT_AUTH)
        cert_path, key_path = directory / ("%s.pem" % client), directory / ("%s.key" % client)
        _write(cert_path, _pem_certificate(certificate))
        _write(key_path, _pem_key(key))
        made[client] = (str(cert_path), str(key_path))
    return Certificates(str(ca_location), str(server_keystore), made)


def _pem_certificate(certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: pathlib.Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
