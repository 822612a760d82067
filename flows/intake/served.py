"""The served mailbox: `innsyn serve --maildir DIR` polls the Maildir on a schedule.

Each run of the `intake-maildir` deployment handles what is in DIR/new then (as `innsyn
intake maildir DIR` does), with the service's database, output folder, policy and account;
a matched order is processed as a `process-request` subflow. The run takes no parameters:
the Maildir is the service's, fixed when it starts, like its intake folder. Runs do not
overlap (a lock on the Maildir), and a message is handled once whichever run sees it.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import Flow, flow, get_run_logger
from prefect.schedules import Interval

from innsyn.config import FLOW_OPTIONS
from innsyn.intake.maildir import check_maildir, handle_maildir
from innsyn.service_flows import ServiceSettings, check_policy

DEPLOYMENT = "poll-maildir"


def poll_seconds() -> int:
    text = os.environ.get("INNSYN_MAILDIR_POLL_SECONDS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 60


def poll(settings: ServiceSettings, maildir: Path) -> dict:
    """One poll: every message now in the Maildir's new/. Ids and counts only."""
    from innsyn.commands import check_request
    from innsyn.process_request import process_request

    check_policy(settings)
    # A case from the mailbox stops at awaiting_review rather than pausing inside the poll: a
    # paused subflow would hold the poll, and every message after it, until someone reviews.
    config = settings.run_config().model_copy(update={"pause_for_review": False})
    summary = handle_maildir(
        maildir, db=Path(settings.db), out=Path(settings.out),
        process=lambda file: process_request(str(file), config).model_dump(),
        check=lambda file: check_request(file, Path(settings.db)))
    get_run_logger().info("%d messages: %d cases, %d to triage", len(summary["messages"]),
                          len(summary["cases"]), summary["triaged"])
    # the sender and subject stay in the database: Prefect gets ids and counts
    return {"messages": len(summary["messages"]), "cases": summary["cases"], "triaged": summary["triaged"]}


def served_maildir_flow(settings: ServiceSettings, maildir: Path) -> Flow:
    maildir = maildir.resolve()

    @flow(name="intake-maildir", **FLOW_OPTIONS)
    def intake_maildir_in_service() -> dict:
        """Make a case or a triage entry of each new message in the service's Maildir."""
        return poll(settings, maildir)

    return intake_maildir_in_service


@flow(name="intake-maildir", **FLOW_OPTIONS)
def intake_maildir_in_service() -> dict:
    """The same, with a worker's settings: its environment names the Maildir (INNSYN_MAILDIR)."""
    maildir = os.environ.get("INNSYN_MAILDIR")
    if not maildir:
        raise ValueError("INNSYN_MAILDIR: name the Maildir this worker polls")
    return poll(ServiceSettings.from_environment(), Path(maildir).resolve())


def maildir_deployment(settings: ServiceSettings, maildir: Path):
    from prefect.types.entrypoint import EntrypointType

    check_maildir(maildir)
    # The runner starts each run in a process of its own from the deployment's entrypoint, the
    # module-level flow below, which reads the service's settings from the environment it
    # inherits: the Maildir is named there too.
    os.environ["INNSYN_MAILDIR"] = str(maildir.resolve())
    return served_maildir_flow(settings, maildir).to_deployment(
        name=DEPLOYMENT, schedules=[Interval(poll_seconds())],
        description=f"Reads new mail from the service's Maildir every {poll_seconds()} s: eInnsyn orders "
                    "become cases, other mail goes to triage (`innsyn intake list`)",
        tags=["innsyn"], entrypoint_type=EntrypointType.MODULE_PATH)
