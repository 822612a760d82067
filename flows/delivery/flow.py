"""The send-answer flow: one coarse task, retried with exponential backoff while the failure
may pass (innsyn.delivery.send.TransientSmtpError), never for a permanent one.

Prefect is given the case id and the database path; the task builds the message from the
case itself, and reads the SMTP settings (the password too) from the environment, so no
address, document or secret is a parameter, a result or a log line. Its result is what the
`sent` event records: the Message-ID, the time, the release and the attachment's sha256.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from innsyn.config import FLOW_OPTIONS, TASK_OPTIONS
from innsyn.delivery.send import SmtpSettings, TransientSmtpError, deliver, message_for_case


def _transient(task, task_run, state) -> bool:
    """Retry only what may pass: Prefect asks this after every failed try."""
    error = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(error, TransientSmtpError)


@task(**TASK_OPTIONS)
def deliver_answer(case_id: str, db: str) -> dict:
    settings = SmtpSettings.from_env()
    message, sent = message_for_case(case_id, Path(db), settings)
    deliver(message, settings)
    get_run_logger().info("case %s: the answer was accepted by the SMTP server", case_id)
    return sent


@flow(name="send-answer", **FLOW_OPTIONS)
def send_answer(case_id: str, db: str) -> dict:
    settings = SmtpSettings.from_env()
    retrying = deliver_answer.with_options(
        retries=settings.retries, retry_delay_seconds=exponential_backoff(backoff_factor=settings.retry_delay),
        retry_jitter_factor=0.5, retry_condition_fn=_transient)
    return retrying(case_id, db)
