"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can be told to
answer the next recipients with a temporary (4xx) or permanent (5xx) refusal."""

from __future__ import annotations

import datetime
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Inbox:
    received: list[bytes] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # answers for the next RCPTs, e.g. "451 4.3.0 later"
    attempts: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        if self.refusals:
            return self.refusals.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content or envelope.content)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def messages(self):
        return [message_from_bytes(raw, policy=default_policy) for raw in self.received]


class SmtpServer:
    def __init__(self, *, tls_folder: Path | None = None):
        self.inbox = Inbox()
        self.port = free_port()
        kwargs = {}
        self.ca_file = None
        if tls_folder is not None:
            cert, key = self_signed_certificate(tls_folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs = {"tls_context": context, "require_starttls": True}
            self.ca_file = str(cert)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self, security: str = "none") -> dict[str, str]:
        env = {"INNSYN_SMTP_HOST": "localhost" if security != "none" else "127.0.0.1",
               "INNSYN_SMTP_PORT": str(self.port), "INNSYN_SMTP_SECURITY": security,
               "INNSYN_SMTP_FROM": "Postmottak Sagene skole <postmottak@skole.example>",
               "INNSYN_SMTP_RETRIES": "3", "INNSYN_SMTP_RETRY_DELAY": "0", "INNSYN_SMTP_TIMEOUT": "10"}
        if self.ca_file:
            env["INNSYN_SMTP_CA_FILE"] = self.ca_file
        return env


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost, made here (cryptography): the client trusts it as its CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
