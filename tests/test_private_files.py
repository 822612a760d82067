"""Personal data on disk is its owner's only: the database, its WAL, `data/`, Prefect's home.

Every `innsyn` process here starts under the usual umask 022, with which DuckDB and Prefect
would create world-readable files; os.stat says what innsyn made of them. What is meant for
others (the public answer and the folders leading to it) stays as readable as before.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from conftest import INNSYN, canary_export, innsyn_env, write_request

NO_PREFECT = "http://127.0.0.1:9/api"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def run(workdir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed command, started with umask 022 as a login shell would."""
    return subprocess.run([INNSYN, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: os.umask(0o022))


def default_paths_env(workdir: Path, prefect_api_url: str) -> dict[str, str]:
    """As `make demo` runs it: the database at data/innsyn.duckdb, answers in out/."""
    env = innsyn_env(workdir, prefect_api_url)
    del env["INNSYN_DB"], env["INNSYN_OUT"]
    return env


def test_the_database_and_the_data_folder_innsyn_creates_are_owner_only(tmp_path):
    result = run(tmp_path, "db", "import", str(canary_export(tmp_path / "export")),
                 env=default_paths_env(tmp_path, NO_PREFECT))

    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "innsyn.duckdb") == 0o600
    assert not (tmp_path / "data" / "innsyn.duckdb.wal").exists()  # checkpointed when it closed


def test_a_folder_that_exists_keeps_its_mode_and_the_new_database_in_it_is_owner_only(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)  # the administrator's folder, not innsyn's to change

    result = run(tmp_path, "db", "init", "--db", str(shared / "innsyn.duckdb"),
                 env=default_paths_env(tmp_path, NO_PREFECT))

    assert result.returncode == 0, result.stderr
    assert mode(shared) == 0o755
    assert mode(shared / "innsyn.duckdb") == 0o600


WRITER = """
import sys, time
from innsyn.db import connect, init_schema
con = connect(sys.argv[1])
init_schema(con)
con.execute("CHECKPOINT")
con.execute("INSERT INTO schools VALUES ('S001', 'Sagene skole', false)")  # lands in the WAL
print("written", flush=True)
time.sleep(600)
"""


def test_the_write_ahead_log_is_owner_only_and_stays_so_after_a_kill(tmp_path):
    """DuckDB creates the WAL at the first write after each checkpoint, with the umask's mode;
    a process killed in the middle leaves it behind, with the rows in it."""
    db = tmp_path / "innsyn.duckdb"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.umask(0o022))
    try:
        assert writer.stdout.readline() == "written\n"
        assert mode(Path(f"{db}.wal")) == 0o600
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert mode(Path(f"{db}.wal")) == 0o600
    assert mode(db) == 0o600


def test_a_case_leaves_private_what_is_private_and_public_what_is_public(tmp_path, prefect_api_url):
    """`innsyn process` end to end (a policy under which 5B needs no review, so the answer is
    published), with Prefect's home in a world-readable folder it used before."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    os.chmod(home, 0o755)
    env = {**default_paths_env(tmp_path, prefect_api_url), "PREFECT_HOME": str(home)}
    assert run(tmp_path, "db", "import", str(canary_export(tmp_path / "export")), env=env).returncode == 0
    standard = (Path(__file__).parent.parent / "policies" / "standard.toml").read_text(encoding="utf-8")
    (tmp_path / "no-review.toml").write_text(
        standard.replace("requires_review = true", "requires_review = false")
        .replace("review_consent_conflicts = true", "review_consent_conflicts = false")
        .replace("review_refusals = true", "review_refusals = false")
        .replace("min_released_pupils = 3", "min_released_pupils = 0"), encoding="utf-8")

    result = run(tmp_path, "process", "--policy", str(tmp_path / "no-review.toml"),
                 str(write_request(tmp_path / "request.json")), env=env)

    assert result.returncode == 0, result.stderr
    case = json.loads(result.stdout)
    assert case["status"] == "released"
    out = tmp_path / "out"
    assert mode(home) == 0o700
    assert (mode(tmp_path / "data"), mode(tmp_path / "data" / "innsyn.duckdb")) == (0o700, 0o600)
    # internal documents: owner-only, as before
    assert mode(out / "internal" / "2026-1234") == 0o700
    assert mode(out / "internal" / "2026-1234" / "intern.pdf") == 0o600
    # the public answer and the folders leading to it: as readable as umask 022 made them before
    assert mode(out) == mode(out / "public") == mode(out / "public" / "2026-1234") == 0o755
    assert mode(out / "public" / "2026-1234" / "svar.pdf") == 0o644


def test_prefects_own_database_in_a_new_home_is_owner_only(tmp_path):
    """Without a Prefect server, the command starts a temporary one whose SQLite database (the
    flow runs, their parameters and logs) lives in Prefect's home."""
    home = tmp_path / "new-prefect-home"
    env = {**default_paths_env(tmp_path, NO_PREFECT), "PREFECT_HOME": str(home)}
    del env["PREFECT_API_URL"]
    assert run(tmp_path, "db", "import", str(canary_export(tmp_path / "export")), env=env).returncode == 0

    result = run(tmp_path, "report", "compliance", "--from", "2026-11-16", "--to", "2026-11-22", env=env)

    assert result.returncode == 0, result.stderr
    made = [home, *home.rglob("*")]
    assert [path.name for path in made if path.name.endswith(".db")], made  # the server's database is there
    assert [path for path in made if stat.S_IMODE(path.lstat().st_mode) & 0o077] == []
