"""`innsyn send CASE`: the released answer, by e-mail, to the address the request came from.

What is sent: the case's public answer (`out/public/<case>/svar.pdf`, the file the leak gate
passed when the case was released) as an attachment, and a short body in bokmål that names
the case number and nothing else. Only a case whose status is `released` and whose release
was recorded with its gate count is sent.

Once per release: the message's Message-ID is made from the case and its release event, the
send holds a lock on the case's internal folder, and a `sent` event (Message-ID, time, the
attachment's sha256) is recorded the moment the server accepts the message. A second
`innsyn send` of the same release finds the event and sends nothing. A new release of the
case (a re-render after a rescreening) may be sent again.

Failures: the SMTP conversation runs in a Prefect task that retries, with exponential
backoff, what may pass (a 4xx answer, a refused or dropped connection, a timeout); a 5xx
answer or a rejected login is permanent and is not retried. Either way the case is left as it
was, a `send_failed` event records the SMTP code, and the command exits 1 with one line.
Prefect sees the case id and counts, never the address or the document.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from innsyn import cases, clock
from innsyn.db import open_db, transaction
from innsyn.request import BadInput

SECURITY = ("starttls", "ssl", "none")
_ADDRESS = re.compile(r"[^\s@<>\"(),;:\\\[\]]{1,64}@[A-Za-z0-9.\-]{1,189}\.[A-Za-z]{2,63}")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class DeliveryFailed(Exception):
    """The answer was not sent; one line without personal data (the SMTP code, not its text)."""

    exit_code = 1


class SmtpError(Exception):
    """An SMTP failure as Prefect may see it: the code or the kind of error, never the server's
    text (which may quote the recipient's address). `code` is the SMTP code, if any."""

    def __init__(self, what: str, code: int | None = None):
        super().__init__(what)
        self.code = code


class TransientSmtpError(SmtpError):
    """Worth another try: a 4xx answer, a refused or dropped connection, a timeout."""


class PermanentSmtpError(SmtpError):
    """Not worth another try: a 5xx answer, a refused login, a TLS failure."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    ca_file: str | None
    timeout: float
    retries: int
    retry_delay: float

    @classmethod
    def from_env(cls) -> SmtpSettings:
        env = os.environ
        host = env.get("INNSYN_SMTP_HOST", "").strip()
        sender = env.get("INNSYN_SMTP_FROM", "").strip()
        if not host or not sender:
            raise BadInput("sending needs INNSYN_SMTP_HOST and INNSYN_SMTP_FROM (and INNSYN_SMTP_USER, "
                           "INNSYN_SMTP_PASSWORD for a server that requires login)")
        security = env.get("INNSYN_SMTP_SECURITY", "starttls").strip().lower()
        if security not in SECURITY:
            raise BadInput(f"INNSYN_SMTP_SECURITY: expected one of {', '.join(SECURITY)}")
        if security == "none" and host not in ("localhost", "127.0.0.1", "::1"):
            raise BadInput("INNSYN_SMTP_SECURITY=none is for a relay on this machine only (localhost); "
                           "use starttls or ssl")
        return cls(host=host, port=_int(env, "INNSYN_SMTP_PORT", DEFAULT_PORTS[security]), security=security,
                   user=env.get("INNSYN_SMTP_USER") or None, password=env.get("INNSYN_SMTP_PASSWORD") or None,
                   sender=sender, ca_file=env.get("INNSYN_SMTP_CA_FILE") or None,
                   timeout=float(_int(env, "INNSYN_SMTP_TIMEOUT", 30)),
                   retries=_int(env, "INNSYN_SMTP_RETRIES", 3),
                   retry_delay=float(_int(env, "INNSYN_SMTP_RETRY_DELAY", 10)))


def _int(env, name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise BadInput(f"{name}: expected a whole number")
    return int(text)


@dataclass(frozen=True)
class Release:
    case_id: str
    release_event_id: int
    public_pdf: Path
    recipient: str


def send_case(case_id: str, *, db: Path, out: Path) -> dict:
    """Send the case's released answer once; the case's JSON with `sent` (Message-ID, time)."""
    settings = SmtpSettings.from_env()
    release = _release(db, case_id)
    lock = out / "internal" / case_id / ".send.lock"
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # a second send of this case waits, then finds it sent
        earlier = sent_event(db, case_id, release.release_event_id)
        if earlier is not None:
            return {"case_id": case_id, "sent": earlier, "already_sent": True}
        return _send(settings, release, db)


def _send(settings: SmtpSettings, release: Release, db: Path) -> dict:
    """Run the send-answer flow (ids only); record `sent` or `send_failed`."""
    from innsyn.delivery.flow import send_answer

    actor = cases.current_user()
    try:
        sent = send_answer(release.case_id, str(db))
    except SmtpError as error:
        with open_db(db) as con, transaction(con):
            cases.record_event(con, release.case_id, "send_failed", actor, clock.now(),
                               detail={"release_event_id": release.release_event_id, "smtp_code": error.code,
                                       "error": str(error)})
        kind = "permanent" if isinstance(error, PermanentSmtpError) else "still failing after retries"
        raise DeliveryFailed(f"case {release.case_id} was not sent ({kind}: {error}); "
                             "the case is unchanged, run `innsyn send` again") from None
    with open_db(db) as con, transaction(con):
        cases.record_event(con, release.case_id, "sent", actor, clock.now(), detail=sent)
    return {"case_id": release.case_id, "sent": sent, "already_sent": False}


def message_for_case(case_id: str, db: Path, settings: SmtpSettings) -> tuple[EmailMessage, dict]:
    """The e-mail of the case's current release, and what the `sent` event records of it."""
    release = _release(db, case_id)
    message, sha256 = build_message(settings, release)
    return message, {"message_id": message["Message-ID"], "sent_at": clock.now().isoformat(),
                     "release_event_id": release.release_event_id, "attachment_sha256": sha256}


def _release(db: Path, case_id: str) -> Release:
    with open_db(db, read_only=True) as con:
        row = con.execute("SELECT status, public_pdf, requester_email FROM cases WHERE case_id = ?",
                          [case_id]).fetchone()
        if row is None:
            raise BadInput(f"no case {case_id!r}")
        status, public_pdf, email = row
        if status != "released":
            raise BadInput(f"case {case_id} is {status}, not released: only a released answer is sent")
        gated = con.execute(
            "SELECT event_id, detail FROM case_events WHERE case_id = ? AND event = 'released' "
            "ORDER BY event_id DESC LIMIT 1", [case_id]).fetchone()
    if gated is None or "leak_gate_values_checked" not in json.loads(gated[1] or "{}"):
        raise BadInput(f"case {case_id} has no release that passed the leak gate")
    if not email:
        raise BadInput(f"case {case_id}: the requester gave no e-mail address")
    if not _ADDRESS.fullmatch(email):  # a line break would be a header injection; say so without the value
        raise BadInput(f"case {case_id}: the requester's e-mail address is not one we can send to")
    pdf = Path(public_pdf or "")
    if not pdf.is_file():
        raise BadInput(f"case {case_id}: the released answer is missing ({pdf})")
    return Release(case_id, gated[0], pdf, email)


def sent_event(db: Path, case_id: str, release_event_id: int) -> dict | None:
    with open_db(db, read_only=True) as con:
        rows = con.execute("SELECT detail FROM case_events WHERE case_id = ? AND event = 'sent' ORDER BY event_id",
                           [case_id]).fetchall()
    for (detail,) in rows:
        data = json.loads(detail)
        if data.get("release_event_id") == release_event_id:
            return data
    return None


def build_message(settings: SmtpSettings, release: Release) -> tuple[EmailMessage, str]:
    """The e-mail: a short bokmål body, the answer attached. Deterministic per release."""
    data = release.public_pdf.read_bytes()
    domain = settings.sender.rpartition("@")[2].strip("> ") or "innsyn.invalid"
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = release.recipient
    message["Subject"] = f"Svar på innsynskrav – sak {release.case_id}"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = f"<innsyn.{release.case_id}.{release.release_event_id}@{domain}>"
    message.set_content(
        f"Hei,\n\nvedlagt følger svaret på innsynskravet ditt (vår referanse {release.case_id}).\n"
        "Svaret og begrunnelsen står i vedlagte brev, sammen med klageadgangen.\n\n"
        "Med vennlig hilsen\nOslo kommune\n\n"
        "Denne e-posten er sendt automatisk. Svar gjerne på den om du har spørsmål.\n")
    message.add_attachment(data, maintype="application", subtype="pdf", filename=f"svar-{release.case_id}.pdf")
    return message, hashlib.sha256(data).hexdigest()


def deliver(message: EmailMessage, settings: SmtpSettings) -> None:
    """One SMTP conversation. TransientSmtpError for what may pass on another try,
    PermanentSmtpError for what will not; neither carries the server's text."""
    try:
        _converse(message, settings)
    except smtplib.SMTPResponseException as error:
        kind = TransientSmtpError if 400 <= error.smtp_code < 500 else PermanentSmtpError
        raise kind(f"SMTP {error.smtp_code}", error.smtp_code) from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()] or [550]
        kind = TransientSmtpError if all(400 <= code < 500 for code in codes) else PermanentSmtpError
        raise kind(f"SMTP {max(codes)} for the recipient", max(codes)) from None
    except ssl.SSLError as error:
        raise PermanentSmtpError(f"TLS failed ({type(error).__name__})") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout,
            TimeoutError) as error:
        raise TransientSmtpError(f"connection failed ({type(error).__name__})") from None
    except (smtplib.SMTPException, OSError) as error:
        raise PermanentSmtpError(f"SMTP failed ({type(error).__name__})") from None


def _converse(message: EmailMessage, settings: SmtpSettings) -> None:
    context = ssl.create_default_context(cafile=settings.ca_file) if settings.security != "none" else None
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)  # refuses to go on in the clear: smtplib raises
        if settings.user:
            client.login(settings.user, settings.password or "")
        client.send_message(message)


def send_on_release(result: dict, *, db: Path, out: Path) -> dict:
    """With INNSYN_SEND_ON_RELEASE=1, a command that leaves a case released sends it (once per
    release, as `innsyn send` does). A failed send does not undo the release: the command's
    JSON says why under `send_error`, a warning goes to stderr, and `innsyn send` retries."""
    if os.environ.get("INNSYN_SEND_ON_RELEASE") != "1" or result.get("status") != "released":
        return result
    try:
        sent = send_case(result["case_id"], db=db, out=out)
    except (DeliveryFailed, BadInput) as failed:
        import sys

        print(f"innsyn: warning: {failed}", file=sys.stderr)
        return {**result, "sent": None, "send_error": str(failed)}
    return {**result, "sent": sent["sent"]}
