"""`python -m innsyn.service.daemon --db PATH`: the background service for one database.

Started by the CLI (innsyn.service.client) when a command finds none: detached from the
terminal, its output in a log beside its socket. It makes sure of a Prefect API (the one in
PREFECT_API_URL, else the user's Prefect server, innsyn.service.prefect_server), warms
Prefect, the flows, the templates and WeasyPrint's fonts while that server starts, then
starts its front ends and writes its state file (what `innsyn status` reads). It stops after
INNSYN_SERVICE_IDLE_SECONDS without a command, on `innsyn stop`, on SIGTERM, and when a
command comes from newer code; its socket goes first, its state file last.

Front ends are what the service offers: today the warm worker (the CLI's commands over the
Unix socket). A later one (a web desk, an ASGI app) is started beside it in `FRONT_ENDS`
and stopped with it; the warm worker's idle clock is the service's.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from innsyn.service import paths


def _start_warm_worker(db: Path, idle: float):
    from innsyn.warm_worker import WarmWorker

    return WarmWorker(db, kind="background", idle_timeout=idle).start()


#: What the service runs, in order; each returns something with stop(). The first is the one
#: whose idle clock and stop decide the service's life.
FRONT_ENDS = {"warm-worker": _start_warm_worker}


def _state(db: Path, api_url: str, idle: float, **more) -> dict:
    return {"pid": os.getpid(), "db": str(db), "socket": str(paths.socket_path(db)), "api_url": api_url,
            "idle_timeout_seconds": idle, "log": str(paths.log_path(db)), **more}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="innsyn-service")
    parser.add_argument("--db", type=Path, required=True)
    db = parser.parse_args(argv).db.resolve()

    from innsyn.private import owner_only_by_default, private_prefect_home

    owner_only_by_default()
    private_prefect_home()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # nor from Prefect's client (cli.py)
    idle = paths.idle_seconds()
    state_file = paths.state_path(db)
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        from innsyn.service import prefect_server

        server = prefect_server.ensure_running(
            lambda server: paths.write_state(state_file, _state(db, server["api_url"], idle, starting=True)))
        api_url = server["api_url"]
        os.environ["PREFECT_API_URL"] = api_url
    try:
        return _serve(db, api_url, idle, state_file)
    finally:
        state = paths.read_state(state_file)
        if state and state.get("pid") == os.getpid():
            state_file.unlink(missing_ok=True)


def _serve(db: Path, api_url: str, idle: float, state_file: Path) -> int:
    from innsyn.warm_worker import warm_up

    warm_up()  # while the Prefect server starts, if it does
    from innsyn.service.prefect_server import wait_until_healthy

    wait_until_healthy(api_url, timeout=float(os.environ.get("INNSYN_SERVICE_START_TIMEOUT") or 300))
    front_ends = {}
    try:
        for name, start in FRONT_ENDS.items():
            front_ends[name] = start(db, idle)
    except RuntimeError as error:  # another service or `innsyn serve` answers for the database
        print(f"innsyn: the service does not start: {error}", flush=True)
        for front_end in front_ends.values():
            front_end.stop()
        return 0
    worker = front_ends["warm-worker"]
    signal.signal(signal.SIGTERM, lambda signum, frame: worker.stop_soon("SIGTERM"))
    paths.write_state(state_file, {**_state(db, api_url, idle), **worker.status(),
                                   "front_ends": list(front_ends)})
    print(f"innsyn: the innsyn service answers for {db} at {worker.path}, Prefect API {api_url}; "
          f"it stops after {idle:g} s without a command", flush=True)
    while not worker.stopped(1.0):
        pass
    for front_end in reversed(list(front_ends.values())):
        front_end.stop()
    print("innsyn: the service stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
