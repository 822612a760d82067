"""The exchange folder: how the writer hands a worker one school's rows, and takes its parts back.

The database lives with one process, the writer. A worker of the work pool, on this machine
or another, never opens it: it gets a **job folder** in the exchange folder (`$INNSYN_EXCHANGE`,
the same share mounted on every machine that renders, at whatever path each one likes) with

- `job.json`: ids and labels (the case, the school, the review part's classes), no values;
- `policy.toml`: the policy the case was screened under, byte for byte;
- one Parquet file per table the school's lists are rendered from (`sql/snapshot_*.sql`,
  written by the writer with DuckDB's COPY): the case's row without the requester, its
  classes, the school's decided rows, the graded-household members they touch;

and writes `public.pdf` (gated on the worker) and, when the school has a class with remarks,
`internal.pdf` beside them. Folders are 0700 and files 0600 (owner-only: the rows hold
every value, withheld ones included), and the writer deletes the job folder once it has taken
the parts. Prefect sees only the job's name, a path relative to the exchange folder.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from innsyn.db import init_schema
from innsyn.private import make_folders
from innsyn.request import BadInput
from innsyn.resources import sql

#: table -> the query that copies one school's share of it (sql/snapshot_<table>.sql)
SNAPSHOT_TABLES = ("cases", "case_classes", "case_items", "case_household_members")
JOB_FILE = "job.json"
POLICY_FILE = "policy.toml"
PART_FILES = {"public": "public.pdf", "internal": "internal.pdf"}


@dataclass(frozen=True)
class Job:
    """What a worker is told about one school's parts: ids and labels only."""

    case_id: str
    school_id: str
    status_label: str
    data_hash: str
    review_classes: tuple[str, ...]  # the school's classes the review part shows in full
    review_part: bool                # the school has a class with remarks

    @classmethod
    def read(cls, folder: Path) -> Job:
        data = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
        return cls(**{**data, "review_classes": tuple(data["review_classes"])})


def exchange_root(value: str | os.PathLike | None = None) -> Path:
    """The exchange folder: `value`, else $INNSYN_EXCHANGE; BadInput when neither names one."""
    named = value or os.environ.get("INNSYN_EXCHANGE")
    if not named:
        raise BadInput("INNSYN_EXCHANGE: name the exchange folder the writer and the workers share")
    return Path(named).resolve()


def job_name(case_id: str, data_hash: str, school_id: str) -> str:
    """A job's name: its folder relative to the exchange folder (what Prefect is given)."""
    return f"{case_id}/{data_hash[:16]}/{school_id}"


def job_folder(job: str, root: Path) -> Path:
    """The job folder a run names, if it is a job in the exchange folder; BadInput if not."""
    if not isinstance(job, str) or not job.strip() or "\x00" in job or Path(job).is_absolute():
        raise BadInput("job: name a job folder in the exchange folder")
    folder = (root / job).resolve()
    if not folder.is_relative_to(root) or folder == root or not (folder / JOB_FILE).is_file():
        raise BadInput(f"job: {job} is not a job in the exchange folder")
    return folder


def write_job(con: duckdb.DuckDBPyConnection, job: Job, policy_file: Path, folder: Path) -> None:
    """The writer's side: the school's snapshot, the policy and job.json, owner-only.

    job.json is written last: a worker takes a folder without it for no job at all."""
    shutil.rmtree(folder, ignore_errors=True)  # what an earlier, failed hand-over left
    make_folders(folder, mode=0o700, parents_mode=0o700)
    parameters = {"case_id": job.case_id, "school_id": job.school_id}
    for table in SNAPSHOT_TABLES:
        target = folder / f"{table}.parquet"
        # a COPY's file name cannot be a bound parameter; ours is a path we made, quoted
        con.execute(f"COPY ({sql(f'snapshot_{table}').rstrip().rstrip(';')}) TO {_quoted(target)} "
                    "(FORMAT parquet)", parameters)
        os.chmod(target, 0o600)
    shutil.copyfile(policy_file, folder / POLICY_FILE)
    os.chmod(folder / POLICY_FILE, 0o600)
    staged = folder / f".{JOB_FILE}.part"
    staged.write_text(json.dumps(asdict(job)), encoding="utf-8")
    os.chmod(staged, 0o600)
    os.replace(staged, folder / JOB_FILE)


def load_snapshot(folder: Path) -> duckdb.DuckDBPyConnection:
    """The worker's side: an in-memory database holding the job's rows, nothing else."""
    con = duckdb.connect(":memory:")
    init_schema(con)
    for table in SNAPSHOT_TABLES:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(folder / f"{table}.parquet")])
    return con


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
