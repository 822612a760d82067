"""Tiny fixtures: a real DuckDB file, a register to fill by hand, and a fixed clock."""

from __future__ import annotations

import csv
import inspect
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pypdf
import pytest
from hypothesis import settings

from innsyn import db as innsyn_db
from innsyn.clock import OSLO
from innsyn.policy import Policy, load_policy
from innsyn.screening import screen_case

import prefect_test_server  # tests/, beside this file

FIXED_NOW = "2026-11-24T10:00:00+01:00"

# Property-based tests: a fast profile for every run, a long one for the nightly job
# (HYPOTHESIS_PROFILE=nightly). Screening takes ~0.2 s per example, hence no deadline.
# The default profile is derandomised: `make test` (and so CI) tries the same examples on
# every run, so a red run is about the change, never about the draw; the nightly profile
# draws new ones every time, to find what the fixed ones do not.
settings.register_profile("default", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("nightly", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# ----------------------------------------------------------------------------- scheduling
# `make test` runs the modules in two processes, a module at a time (xdist's --dist loadfile).
# xdist by default hands out the modules with the most tests first, so a long module of one
# test (the work pool, the faults) started last and ran on after the other process had ended.
# Here the modules are handed out longest first instead, by the seconds each took in a full
# run (module_seconds.json; a module not listed counts as a middling one): the two processes
# then end within a short module of each other. Refresh the file when a module's time changes
# much (sum `--durations=0`'s lines per module).
#
# Both processes share one Prefect server (prefect_test_server.py). The modules that register
# `innsyn serve`'s deployments with it register the same names ("process-request", the weekly
# report, the Maildir's poll), and a served run may be taken by whichever `innsyn serve` serves
# that name: those modules go to one process as one unit, one after the other, as they did
# when each process had a server of its own.
MODULE_SECONDS = json.loads((Path(__file__).parent / "module_seconds.json").read_text())
UNLISTED_MODULE_SECONDS = 20
SERVED_DEPLOYMENTS_MODULES = {"test_serve.py", "test_served_parameters.py", "test_intake.py"}


def _unit(module: str) -> str:
    """What xdist hands to one process at a time: a module, or the served deployments' modules."""
    return "served deployments" if module in SERVED_DEPLOYMENTS_MODULES else module


def _unit_seconds(unit: str) -> float:
    modules = SERVED_DEPLOYMENTS_MODULES if unit == "served deployments" else {unit}
    return sum(MODULE_SECONDS.get(module, UNLISTED_MODULE_SECONDS) for module in modules)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # xdist: the order below, not by test count
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # the order the controlling process hands units out
        items.sort(key=lambda item: (-_unit_seconds(_unit(item.path.name)), _unit(item.path.name)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the served deployments' modules as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileAndServedDeployments(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return _unit(Path(module).name) if Path(module).name in SERVED_DEPLOYMENTS_MODULES else module

    return LoadFileAndServedDeployments(config, log)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("INNSYN_NOW", FIXED_NOW)


# Every `innsyn` command of the session runs in its own process (INNSYN_USE_SERVICE=0), as it
# always could: deterministic, and no background service outlives a test. Set here, before any
# fixture runs (module- and session-scoped fixtures run commands too, before the autouse ones).
# Services the tests of the service start live in the session's own folder (short: a socket's
# path must stay under 108 bytes), never the user's, and are stopped when the session ends.
SERVICE_DIR = Path(tempfile.mkdtemp(prefix="isv-"))
os.environ["INNSYN_USE_SERVICE"] = "0"
os.environ["INNSYN_SERVICE_DIR"] = str(SERVICE_DIR)


@pytest.fixture(scope="session", autouse=True)
def service_dir():
    """The session's service folder; whatever a test started there is stopped at the end."""
    import shutil

    yield SERVICE_DIR
    from innsyn.service import client

    os.environ["INNSYN_SERVICE_DIR"] = str(SERVICE_DIR)
    client.stop()
    shutil.rmtree(SERVICE_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def commands_run_alone(monkeypatch, service_dir):
    """As set above, again for each test: a test that switches the service on (test_service.py,
    test_warm_worker.py, test_serve.py, the service's faults) does so for itself only."""
    monkeypatch.setenv("INNSYN_USE_SERVICE", "0")
    monkeypatch.setenv("INNSYN_SERVICE_DIR", str(service_dir))


@pytest.fixture
def con(tmp_path: Path):
    connection = innsyn_db.connect(tmp_path / "innsyn.duckdb")
    innsyn_db.init_schema(connection)
    yield connection
    connection.close()


@dataclass
class Register:
    """Builds a school register row by row; every value not given gets a plain default.

    Guardians share everything unless told otherwise, so a test states only what matters.
    """

    con: duckdb.DuckDBPyConnection
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def school(self, school_id: str = "S001", name: str = "Sagene skole", *, special_school: bool = False) -> str:
        self.con.execute("INSERT INTO schools VALUES (?, ?, ?)", [school_id, name, special_school])
        return school_id

    def klass(self, name: str = "5B", *, school_id: str = "S001", grade: int = 5, special_group: bool = False) -> str:
        class_id = f"{school_id}-{name}"
        self.con.execute("INSERT INTO classes VALUES (?, ?, ?, ?, ?)", [class_id, school_id, name, grade, special_group])
        return class_id

    def pupil(self, first: str, last: str, *, class_id: str = "S001-5B", protection: str = "ugradert",
              guardians: list[dict] | None = None) -> str:
        student_id = f"E{next(self._ids):04d}"
        self.con.execute("INSERT INTO students VALUES (?, ?, ?, ?, ?)", [student_id, class_id, first, last, protection])
        for guardian in guardians if guardians is not None else [{}]:
            self.guardian(student_id, **guardian)
        return student_id

    def guardian(self, student_id: str, *, guardian_id: str | None = None, first: str = "Kari",
                 last: str | None = None, email: str | None = None, phone: str | None = None,
                 phone_unlisted: bool = False, street: str | None = None, postal_code: str = "0477",
                 protection: str = "ugradert", names: bool = True, share_email: bool = True,
                 share_phone: bool = True, share_address: bool = True) -> str:
        """A guardian of the pupil. Not given, the last name, e-mail, phone and address are the
        guardian's own: people share them only when a test says so (a shared address, e-mail or
        phone is a co-resident; a shared name, a namesake)."""
        guardian_id = guardian_id or f"F{next(self._ids):04d}"
        number = int("".join(ch for ch in guardian_id if ch.isdigit()) or 0)
        last = last or f"Nordmann-{guardian_id}"
        email = email or f"{guardian_id.lower()}@example.no"
        digits = f"{number:07d}"
        phone = phone or f"4{digits[:2]} {digits[2:4]} {digits[4:]}"
        street = street or f"Sandakerveien {number}"
        self.con.execute(
            "INSERT INTO guardians VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'OSLO', ?, ?, ?, ?, ?)",
            [guardian_id, student_id, first, last, email, phone, phone_unlisted, street, postal_code,
             protection, names, share_email, share_phone, share_address],
        )
        return guardian_id

    def institution(self, street: str, postal_code: str, *, name: str = "Solsikken barnevernsinstitusjon") -> None:
        institution_id = f"I{next(self._ids):03d}"
        self.con.execute("INSERT INTO institutions VALUES (?, ?, ?, ?, 'barnevernsinstitusjon')",
                         [institution_id, name, street, postal_code])


@pytest.fixture
def register(con) -> Register:
    reg = Register(con)
    reg.school()
    reg.klass()
    return reg


@dataclass(frozen=True)
class Decision:
    decision: str
    rule: str | None
    consent_state: str
    no_trace: bool


def screen(con: duckdb.DuckDBPyConnection, class_ids: list[str] | None = None,
           policy: Policy | None = None, case_id: str = "T-1") -> dict[str, Decision]:
    """Screen the given classes as one case; the decisions by item id."""
    class_ids = class_ids or ["S001-5B"]
    con.execute("DELETE FROM case_classes WHERE case_id = ?", [case_id])
    for class_id in class_ids:
        con.execute(
            """INSERT INTO case_classes SELECT ?, c.class_id, c.school_id, s.name, c.name, c.grade
               FROM classes c JOIN schools s USING (school_id) WHERE class_id = ?""",
            [case_id, class_id],
        )
    screen_case(con, case_id, policy or load_policy(), datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    rows = con.execute(
        "SELECT item_id, decision, rule, consent_state, no_trace FROM case_items WHERE case_id = ?", [case_id]
    ).fetchall()
    return {item_id: Decision(*rest) for item_id, *rest in rows}


def write_request(path: Path, **overrides) -> Path:
    request = {
        "request_id": "2026/1234",
        "received_at": "2026-11-23T09:15:00+01:00",
        "requester": {"name": "Kari Nordmann", "email": "kari@avis.example", "kind": "journalist",
                      "organisation": "Avisa Oslo"},
        "scope": {"school_id": "S001", "classes": ["5B"]},
    }
    request.update(overrides)
    path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    return path


def open_case(con: duckdb.DuckDBPyConnection, folder: Path, classes: list[str] | str = ("5B",),
              school_id: str = "S001", request_id: str = "2026/1234") -> str:
    """Register a request for the classes as a real case (as `innsyn process` does); its id.

    Screen it with `screen_case` and read it with `case_documents.build_answer`.
    """
    from innsyn.cases import register_case
    from innsyn.request import parse_request

    path = write_request(folder / f"request-{request_id.replace('/', '-')}.json", request_id=request_id,
                         scope={"school_id": school_id, "classes": classes if classes == "all" else list(classes)})
    case_id, _ = register_case(con, parse_request(path), path.read_bytes(), registered_by="saksbehandler",
                               now=datetime.fromisoformat(FIXED_NOW))
    return case_id


@pytest.fixture(scope="session")
def prefect_server(request):
    """One real (temporary) Prefect server for every in-process flow test of the session.

    Under pytest-xdist with --dist loadfile (`make test`) the test processes share one
    (prefect_test_server.py).
    """
    shared = getattr(request.config, "workerinput", {}).get(SHARED_SERVER_FOLDER)
    if shared is None:
        yield from _own_prefect_server()
    else:
        yield from _shared_prefect_server(Path(shared))


def _own_prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    # the server's own telemetry off, as `innsyn` does for the servers it starts: it would
    # write to the server's SQLite (and fail, locked, while tests write) and call out. Set for
    # the server's process only: test_service checks that the product sets it itself.
    before = os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        harness = prefect_test_harness(server_startup_timeout=120)
        harness.__enter__()
    finally:
        if before is None:
            del os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"]
        else:
            os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = before
    try:
        yield
    finally:
        harness.__exit__(None, None, None)


def _shared_prefect_server(folder: Path):
    """The session's shared server as this process's Prefect API, as the test harness sets its
    own; its logs and events sent before this process ends (the server stays up for the others)."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    server = prefect_test_server.shared_server(folder)
    with temporary_settings(updates={PREFECT_API_URL: server["api_url"],
                                     PREFECT_SERVER_DATABASE_CONNECTION_URL: server["database_url"]}):
        with _temporary_global_settings_context(get_settings_context()):
            yield
            run_coro_as_sync(_drain_prefect_workers())


async def _drain_prefect_workers():
    """What Prefect's test harness does before it stops its server: logs and events sent."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        drained = APILogWorker.instance().drain()
        if inspect.isawaitable(drained):
            await drained
    except RuntimeError:  # no log was ever sent
        pass
    drained = EventsWorker.drain_all()
    if inspect.isawaitable(drained):
        await drained


SHARED_SERVER_FOLDER = "innsyn_prefect_server_folder"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """(xdist's controlling process) Every test process gets the folder of the shared server.

    Only under --dist loadfile, where the modules of `innsyn serve` run one after another
    (pytest_xdist_make_scheduler); other ways of spreading tests keep a server per process."""
    config = node.config
    if config.getvalue("dist") != "loadfile":
        return
    if not hasattr(config, "_innsyn_server_folder"):
        config._innsyn_server_folder = Path(tempfile.mkdtemp(prefix="innsyn-prefect-"))
    node.workerinput[SHARED_SERVER_FOLDER] = str(config._innsyn_server_folder)


def pytest_unconfigure(config):
    """(xdist's controlling process) Every test process has ended: the shared server stops."""
    folder = getattr(config, "_innsyn_server_folder", None)
    if folder is not None:
        prefect_test_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server) -> str:
    """The session's Prefect server, for `innsyn` subprocesses: no ephemeral start per command."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


# ----------------------------------------------------------------------------- the real CLI
# A tiny export with canary values in every place the policy withholds, and the installed
# `innsyn` command run as a case handler runs it. Shared by every test that goes through the CLI.

INNSYN = str(Path(sys.executable).with_name("innsyn"))

CANARIES = {
    "fortrolig pupil": "Kanarifortrolig",
    "fortrolig guardian email": "kanari.fortrolig@example.no",
    "strengt fortrolig pupil": "Kanaristrengt",
    "strengt fortrolig address": "Kanarihemmeligveien 66",
    "institution address": "Thereses gt. 12b",
    "institution in a parent's place": "maret.somby@example.no",
    "special group pupil": "Kanarispesial",
}
RELEASED = ["Åse Sæther", "Ánte Somby", "Mohammed Ali", "solveig.haugen@example.no", "Sandakerveien 7", "912 34 567"]


def write_csv(path: Path, header: str, rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def canary_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "schools.csv", "school_id,name,special_school", [["S001", "Sagene skole", "false"]])
    write_csv(folder / "classes.csv", "class_id,school_id,name,grade,special_group",
               [["S001-5B", "S001", "5B", "5", "false"], ["S001-FA", "S001", "Forsterket avdeling", "5", "true"]])
    write_csv(folder / "students.csv", "student_id,class_id,first_name,last_name,address_protection", [
        ["E1", "S001-5B", "Åse", "Sæther", ""],
        ["E2", "S001-5B", "Ánte", "Somby", "ugradert"],
        ["E3", "S001-5B", "Mohammed", "Ali", "ugradert"],
        ["E4", "S001-5B", "Kari", CANARIES["fortrolig pupil"], "fortrolig"],
        ["E5", "S001-5B", "Per", CANARIES["strengt fortrolig pupil"], "strengt_fortrolig"],
        ["E6", "S001-FA", "Ola", CANARIES["special group pupil"], "ugradert"],
    ])
    header = ("guardian_id,student_id,first_name,last_name,email,phone,phone_unlisted,street_address,"
              "postal_code,postal_city,address_protection,share_names,share_email,share_phone,share_address")
    everything = ["true", "true", "true", "true"]
    write_csv(folder / "guardians.csv", header, [
        ["F1", "E1", "Solveig", "Haugen", "solveig.haugen@example.no", "912 34 567", "false", "Sandakerveien 7", "0477", "OSLO", "", *everything],
        ["F2", "E2", "Máret", "Somby", CANARIES["institution in a parent's place"], "913 00 000", "true", CANARIES["institution address"], "0358", "OSLO", "", *everything],
        ["F7", "E2", "Nils", "Somby", "nils.somby@example.no", "918 00 000", "false", "Vogts gate 11", "0474", "OSLO", "", *everything],
        ["F3", "E3", "Amina", "Ali", "amina.ali@example.no", "914 00 000", "false", "Grefsenveien 3", "0482", "OSLO", "", *everything],
        ["F4", "E4", "Liv", CANARIES["fortrolig pupil"], CANARIES["fortrolig guardian email"], "915 00 000", "false", "Skjult gate 1", "0170", "OSLO", "fortrolig", *everything],
        ["F5", "E5", "Anne", CANARIES["strengt fortrolig pupil"], "anne.k@example.no", "916 00 000", "false", CANARIES["strengt fortrolig address"], "0170", "OSLO", "strengt_fortrolig", *everything],
        ["F6", "E6", "Eva", CANARIES["special group pupil"], "eva.k@example.no", "917 00 000", "false", "Vogts gate 9", "0474", "OSLO", "", *everything],
    ])
    write_csv(folder / "institutions.csv", "institution_id,name,street_address,postal_code,kind",
               [["I001", "Bjølsen ungdomshjem", "Thereses gate 12 B", "0358", "barnevernsinstitusjon"]])
    return folder


def innsyn_env(workdir: Path, prefect_api_url: str, user: str = "saksbehandler") -> dict[str, str]:
    """The environment of an `innsyn` run in `workdir`: its own database and output folder."""
    return {**os.environ, "INNSYN_NOW": FIXED_NOW, "INNSYN_USER": user, "PREFECT_API_URL": prefect_api_url,
            "INNSYN_DB": str(workdir / "innsyn.duckdb"), "INNSYN_OUT": str(workdir / "out")}


def innsyn(workdir: Path, prefect_api_url: str, *args: str, user: str = "saksbehandler") -> subprocess.CompletedProcess:
    env = innsyn_env(workdir, prefect_api_url, user)
    return subprocess.run([INNSYN, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)


def canary_case_awaiting_review(workdir: Path, prefect_api_url: str, request_id: str) -> Path:
    """The canary export imported and a request for its 5B processed with the real CLI: a case
    that waits for review (a graded address and an institution). Returns the work folder."""
    assert innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export"))).returncode == 0
    write_request(workdir / "request.json", request_id=request_id)
    processed = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert json.loads(processed.stdout)["status"] == "awaiting_review", processed.stderr
    return workdir



def copy_of_case_folder(template: Path, workdir: Path) -> Path:
    """`workdir` made a copy of a work folder the real CLI left (database, export, request,
    out/), for a test that changes it: a module builds its case once (a command's start-up is
    seconds of CPU) and each test gets the same state. The database's paths to the case's
    documents (cases.review_pdf, cases.public_pdf, the only paths it keeps) are made the copy's,
    so nothing a test does reaches the original."""
    shutil.copytree(template, workdir, symlinks=True, dirs_exist_ok=True)
    with innsyn_db.open_db(workdir / "innsyn.duckdb") as con:
        con.execute("UPDATE cases SET review_pdf = replace(review_pdf, $old, $new), "
                    "public_pdf = replace(public_pdf, $old, $new)", {"old": f"{template}/", "new": f"{workdir}/"})
    return workdir


def released_canary_case(workdir: Path, prefect_api_url: str, request_id: str) -> Path:
    """The canary case (above) approved by a reviewer with the real CLI: released, with graded
    households and an institution withheld. Returns the work folder."""
    canary_case_awaiting_review(workdir, prefect_api_url, request_id)
    case_id = request_id.replace("/", "-")
    approved = innsyn(workdir, prefect_api_url, "review", "approve", case_id, "--reviewer", "Lise Jurist")
    assert json.loads(approved.stdout)["status"] == "released", approved.stderr
    return workdir


def process_alive(pid: int) -> bool:
    """Running, not a zombie (a zombie's command line is empty)."""
    try:
        return b"\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.fixture
def services(monkeypatch):
    """The background service switched on, in this test's own folder; every service and the
    user's Prefect server it started are stopped afterwards (`innsyn stop`)."""
    folder = Path(tempfile.mkdtemp(prefix="isv-"))
    monkeypatch.setenv("INNSYN_SERVICE_DIR", str(folder))
    monkeypatch.setenv("INNSYN_USE_SERVICE", "1")
    yield folder
    subprocess.run([INNSYN, "stop"], env={**os.environ, "INNSYN_SERVICE_DIR": str(folder)},
                   capture_output=True, timeout=300)
    from innsyn.service import paths

    for state_file in folder.glob("*.json"):  # nothing may be left running
        pid = (paths.read_state(state_file) or {}).get("pid")
        assert not (pid and process_alive(pid)), state_file.name
    shutil.rmtree(folder, ignore_errors=True)


def dump_tables(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every table in the database file, sorted: its whole content."""
    with innsyn_db.open_db(db_path, read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY table_name"
        ).fetchall()
        return {t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for (t,) in tables}


def pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text + "\n" + json.dumps({k: str(v) for k, v in (reader.metadata or {}).items()}, ensure_ascii=False)


def squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


def insert_case(con: duckdb.DuckDBPyConnection, case_id: str, received_at: str, *, released_at: str | None = None,
                kind: str = "journalist", outcome: str | None = None, status: str | None = None,
                requester: str = "Kari Nordmann", email: str | None = None, organisation: str | None = None,
                school_id: str = "S001") -> str:
    """A case row as the flow leaves it, straight into the table: for reports over many cases.

    Times are ISO strings with their zone. A released case was decided when it was released.
    """
    status = status or ("released" if released_at else "awaiting_review")
    con.execute(
        """INSERT INTO cases (case_id, request_id, received_at, requester_name, requester_email, requester_kind,
               requester_org, scope_school_id, scope_classes, registered_by, status, outcome,
               registered_at, decided_at, released_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, '"all"', 'saksbehandler', ?, ?, ?, ?, ?)""",
        [case_id, case_id.replace("-", "/", 1), received_at, requester, email or "kari@avis.example",
         kind, organisation, school_id, status, outcome, received_at, released_at, released_at],
    )
    return case_id
