"""How fast innsyn answers: one class, a municipal bulk request, screening, the cold CLI.

    .venv/bin/python benchmarks/run.py --quick     # < 1 minute: CI smoke (no Prefect runs)
    .venv/bin/python benchmarks/run.py --full      # the issue's benchmark: ~30-60 min on 2 cores

Prints a table and writes it, with the machine's description, to benchmarks/RESULTS.md
(`--out PATH` to write elsewhere). Every number is measured in this run, on synthetic data
made in a scratch folder; nothing is read from an earlier run. The machine may be shared, so
each result carries the load average measured with it, and CPU seconds beside wall seconds
(CPU time is what a busy machine steals least from).

Sections (each can be skipped with --skip NAME):
  one-class  screen + render + leak gate of one class in-process, median of N, beside the naive
             render (a fresh `weasyprint.HTML(...).write_pdf()` with a <link>ed stylesheet and no
             shared fonts or CSS) of the same HTML, measured alternately in the same run
  bulk       `innsyn db demo-data --schools N`, then a request for every class of every school
             through `innsyn process` (stops at awaiting_review: markers exist) and
             `innsyn review approve`: wall, classes/s, CPU, peak RSS of the process tree
  small-bulk a request for every class of two schools cut to 4-30 classes, through `innsyn process`,
             its schools rendered in the process pool and in the flow's own process, alternately
  screening  over N synthetic pupils made in DuckDB with range(): screening proper (markers found,
             the target) and the whole screen_case with every decision written
  cli        `innsyn process` of a one-class request from the shell, a new process each time,
             in embedded mode and against a running `prefect server start`
  service    issue 16: `innsyn process` and `innsyn review approve` from the shell on a machine
             where nothing was started (no PREFECT_API_URL, no `innsyn serve`): the first call
             after boot, later calls, warm calls, beside the work alone, with the ratio wall / work
             (`--section service` runs only this: a few minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
INNSYN = str(Path(sys.executable).with_name("innsyn"))
PREFECT = str(Path(sys.executable).with_name("prefect"))
FIXED_NOW = "2026-11-24T10:00:00+01:00"
SECTIONS = ("one-class", "bulk", "small-bulk", "screening", "cli", "service")

os.environ.setdefault("INNSYN_NOW", FIXED_NOW)


# ----------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the results table."""

    section: str
    measure: str
    value: str
    target: str = ""
    verdict: str = ""      # "met", "MISSED", or "" (no target)
    load: str = ""         # load average (1 min) when measured


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)       # how each number was taken
    profiles: list[tuple[str, str]] = field(default_factory=list)  # (title, text) for missed targets
    missed: list[str] = field(default_factory=list)

    def add(self, section: str, measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("met" if met else "MISSED")
        if met is False:
            self.missed.append(f"{section}: {measure}")
        self.rows.append(Row(section, measure, value, target, verdict, f"{os.getloadavg()[0]:.1f}"))
        print(f"  {section:<10} {measure:<58} {value:>24}  {target:<12} {verdict}", flush=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    import duckdb
    import prefect
    import pypdf
    import weasyprint

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    harfbuzz_subset = any(
        Path(folder, "libharfbuzz-subset.so.0").exists()
        for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                       "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib")
    )
    poppler = subprocess.run(["pdftotext", "-v"], capture_output=True, text=True).stderr.splitlines()
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "weasyprint": weasyprint.__version__,
        "prefect": prefect.__version__,
        "pypdf": pypdf.__version__,
        "poppler (pdftotext)": poppler[0] if poppler else "missing",
        "font subsetting": "HarfBuzz (libharfbuzz-subset0)" if harfbuzz_subset else "fontTools",
        "load average at start (1/5/15 min)": load_average(),
    }


# ----------------------------------------------------------------------------- scratch data


def demo_database(folder: Path, schools: int) -> Path:
    """A database with `schools` synthetic schools, made in-process (no Prefect)."""
    from innsyn.db import open_db, init_schema
    from innsyn.demo_data import write_demo_export
    from innsyn.importer import import_export

    path = folder / f"demo-{schools}.duckdb"
    export = folder / f"export-{schools}"
    write_demo_export(export, schools=schools, seed=1)
    with open_db(path) as con:
        init_schema(con)
        import_export(con, export)
    return path


def request_file(folder: Path, request_id: str, school_id: str, classes) -> Path:
    path = folder / f"request-{request_id.replace('/', '-')}.json"
    path.write_text(json.dumps({
        "request_id": request_id,
        "received_at": "2026-11-23T09:15:00+01:00",
        "requester": {"name": "Kari Nordmann", "email": "kari@avis.example", "kind": "journalist",
                      "organisation": "Avisa Oslo"},
        "scope": {"school_id": school_id, "classes": classes},
    }), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- one class


def bench_one_class(report: Report, work: Path, repeats: int) -> None:
    """Screen + render + gate one class in-process, alternating with the naive render."""
    import weasyprint

    from innsyn import cases, clock, leak_gate, render
    from innsyn.case_documents import build_answer, public_answer
    from innsyn.db import connect
    from innsyn.policy import load_policy
    from innsyn.request import parse_request
    from innsyn.resources import TEMPLATES_DIR
    from innsyn.screening import screen_case

    folder = work / "one-class"
    folder.mkdir()
    con = connect(demo_database(folder, 1))
    request = request_file(folder, "2026/8001", "S001", ["5B"])
    case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(),
                                     registered_by="benchmark", now=clock.now())
    policy = load_policy()
    pdf = folder / "svar.pdf"
    stages: dict[str, list[float]] = {"screen": [], "build": [], "render": [], "gate": []}
    totals, cpu_totals, naive, naive_cpu = [], [], [], []

    def in_flow() -> None:
        timings = {}
        t = time.perf_counter()
        screen_case(con, case_id, policy, clock.now())
        timings["screen"] = time.perf_counter() - t
        t = time.perf_counter()
        answer = build_answer(con, case_id, policy, status_label="benchmark")
        public = public_answer(answer)
        withheld = {cell.item_id: cell.value for cell in answer.cells() if cell.withheld}
        released = [cell.value for cell in answer.cells() if not cell.withheld]
        timings["build"] = time.perf_counter() - t
        t = time.perf_counter()
        render.render_public_pdf(public, pdf)
        timings["render"] = time.perf_counter() - t
        t = time.perf_counter()
        leak_gate.check_pdf(pdf, withheld, released)
        timings["gate"] = time.perf_counter() - t
        for name, seconds in timings.items():
            stages[name].append(seconds)

    # the naive render: the same HTML, its stylesheet linked, nothing shared between renders
    screen_case(con, case_id, policy, clock.now())
    public = public_answer(build_answer(con, case_id, policy, status_label="benchmark"))
    css = (TEMPLATES_DIR / "svar" / "svar.css").as_uri()
    html_for_naive = render.render_public_html(public, css_href=css)
    rows = sum(len(c.rows) for c in public.classes)

    def naive_render() -> None:
        weasyprint.HTML(string=html_for_naive, base_url=str(TEMPLATES_DIR)).write_pdf()

    # first runs: imports, fontconfig and the stylesheet parse, reported apart
    t = time.perf_counter()
    in_flow()
    first_in_flow = time.perf_counter() - t
    for values in stages.values():
        values.clear()
    t = time.perf_counter()
    naive_render()
    first_naive = time.perf_counter() - t

    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        cpu_children = children_cpu()
        in_flow()
        totals.append(time.perf_counter() - wall)
        cpu_totals.append(time.process_time() - cpu + children_cpu() - cpu_children)
        wall, cpu = time.perf_counter(), time.process_time()
        naive_render()
        naive.append(time.perf_counter() - wall)
        naive_cpu.append(time.process_time() - cpu)

    # font subsetting by fontTools instead of HarfBuzz (as without libharfbuzz-subset0)
    import weasyprint.pdf.fonts as pdf_fonts

    fonttools = []
    saved = pdf_fonts.harfbuzz_subset
    try:
        pdf_fonts.harfbuzz_subset = None
        for _ in range(max(min(2, repeats), repeats // 3)):
            t = time.perf_counter()
            render.render_public_pdf(public, folder / "fonttools.pdf")
            fonttools.append(time.perf_counter() - t)
    finally:
        pdf_fonts.harfbuzz_subset = saved

    pages = len(__import__("pypdf").PdfReader(pdf).pages)
    ratio = median(naive) / median(totals)
    section = "one-class"
    report.add(section, f"class 5B: {rows} rows, letter + list, {pages} pages (PDF/A-2u)", "")
    report.add(section, f"in-flow screen+render+gate, median of {repeats} (wall)", f"{median(totals):.3f} s")
    report.add(section, "  screen (3 SQL stages)", f"{median(stages['screen']):.3f} s")
    report.add(section, "  read decisions into the document model", f"{median(stages['build']):.3f} s")
    report.add(section, "  render public answer (PDF/A-2u)", f"{median(stages['render']):.3f} s")
    report.add(section, "  leak gate (pypdf + pdftotext x2, metadata, outline)", f"{median(stages['gate']):.3f} s")
    report.add(section, f"naive render of the same HTML, median of {repeats} (wall)", f"{median(naive):.3f} s")
    # a request for one class has no batch to share the letter, the document set-up and the
    # cores over: reported beside the target row (bench_class_in_bulk), not as it
    report.add(section, "a one-class request vs naive (naive / in-flow, wall)", f"{ratio:.2f}x")
    report.add(section, "in-flow vs naive (CPU seconds)",
               f"{median(cpu_totals):.3f} vs {median(naive_cpu):.3f} s")
    report.add(section, "render with fontTools subsetting (HarfBuzz off)", f"{median(fonttools):.3f} s")
    report.add(section, "first in-flow run / first naive run (cold caches)", f"{first_in_flow:.2f} / {first_naive:.2f} s")
    report.notes.append(
        f"one-class: class 5B of `--schools 1` demo data (markers present), in-process, no Prefect; "
        f"in-flow and naive runs alternate, {repeats} each after one warm-up each; wall = time.perf_counter, "
        "CPU = process + pdftotext children."
    )
    if ratio < 2.5:
        profiled = min(3, repeats)  # a smoke run (--repeats 1) profiles once
        report.profiles.append((f"One class in-flow (cProfile of {profiled} in-flow runs, top functions by own time)",
                                profile_text(lambda: [in_flow() for _ in range(profiled)], 22)))
        report.profiles.append((f"One class: where the render's time goes (WeasyPrint stages, {profiled} runs, median)",
                                render_stages(public, profiled)))
    con.close()


def _render_one_school(plan, school_id: str, config) -> bool:
    from innsyn.render_answer import render_school

    return render_school(plan, school_id, config)  # a batch task's body for one school, without Prefect


def _render_schools(plan, schools: tuple[str, ...], config, workers: int) -> tuple[float, float]:
    """The bulk path's task body for every school, in a fresh pool: (wall, CPU of the workers)."""
    from concurrent.futures import ProcessPoolExecutor

    wall, cpu = time.perf_counter(), children_cpu()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(_render_one_school, [plan] * len(schools), schools, [config] * len(schools)))
    assert not any(done), "a part was reused: every repeat needs a fresh folder"
    # workers are reaped when the pool shuts down: only then is their CPU in RUSAGE_CHILDREN
    return time.perf_counter() - wall, children_cpu() - cpu


def bench_class_in_bulk(report: Report, work: Path, repeats: int, schools: int = 4) -> None:
    """One class as the flow answers it: screened with its case, rendered and gated in its
    school's part, schools in parallel on every core; against a naive render per class."""
    import weasyprint

    from innsyn import cases, clock, render
    from innsyn.case_documents import build_answer, public_answer
    from innsyn.config import RunConfig
    from innsyn.db import connect
    from innsyn.policy import load_policy
    from innsyn.render_answer import Plan
    from innsyn.request import parse_request
    from innsyn.resources import TEMPLATES_DIR
    from innsyn.screening import screen_case

    folder = work / "class-in-bulk"
    folder.mkdir()
    db = demo_database(folder, schools)
    con = connect(db)
    request = request_file(folder, "2026/8003", "all", "all")
    case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(),
                                     registered_by="benchmark", now=clock.now())
    policy = load_policy()
    t = time.perf_counter()
    summary = screen_case(con, case_id, policy, clock.now())
    screen_seconds = time.perf_counter() - t
    school_ids = tuple(s for (s,) in con.execute(
        "SELECT DISTINCT school_id FROM case_classes WHERE case_id = ? ORDER BY 1", [case_id]).fetchall())
    classes = con.execute("SELECT count(*) FROM case_classes WHERE case_id = ?", [case_id]).fetchone()[0]
    # the naive side: each class of the first school as its own document, stylesheet linked
    first = public_answer(build_answer(con, case_id, policy, status_label="benchmark", school_id=school_ids[0]))
    css = (TEMPLATES_DIR / "svar" / "svar.css").as_uri()
    naive_html = [render.render_public_html(replace(first, classes=(c,)), css_href=css, front=False)
                  for c in first.classes]
    if repeats < 3:  # a smoke run (--repeats 1 or 2, as the test suite's): three classes of the naive side
        naive_html = naive_html[:3]
    con.close()  # the workers open the database read-only

    workers = os.cpu_count() or 1
    # only the public part: the same document the naive side renders
    plan = Plan(case_id, school_ids, "benchmark", None, summary.data_hash, publish=True, review_schools=())
    runs = max(3, repeats // 5) if repeats >= 3 else repeats  # fewer only when asked for (--repeats)
    in_flow, in_flow_cpu, naive, naive_cpu = [], [], [], []
    warm_up = 1 if repeats >= 3 else 0  # a smoke run (--repeats 1 or 2) measures cold, once
    for run in range(runs + warm_up):
        config = RunConfig(db=str(db), out=str(folder / f"out-{run}"), actor="benchmark")
        wall, cpu = _render_schools(plan, school_ids, config, workers)
        if run >= warm_up:  # the first run warms the page cache and the interpreter's imports
            in_flow.append((wall + screen_seconds) / classes)
            in_flow_cpu.append(cpu / classes)
        for html in naive_html:
            t, c = time.perf_counter(), time.process_time()
            weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf()
            if run >= warm_up:
                naive.append(time.perf_counter() - t)
                naive_cpu.append(time.process_time() - c)

    ratio = median(naive) / median(in_flow)
    section = "one-class"
    report.add(section, f"a class in a bulk case: {classes} classes of {len(school_ids)} schools, "
                        f"{workers} worker processes", "")
    report.add(section, "  in-flow per class: screen + public part + gate (wall / classes), "
                        f"median of {runs}", f"{median(in_flow):.3f} s", "")
    report.add(section, "  of which screening the case (per class)", f"{screen_seconds / classes:.4f} s")
    report.add(section, "  CPU per class in the workers (render + gate)", f"{median(in_flow_cpu):.3f} s")
    report.add(section, f"  naive render of one class list, median of {len(naive)}",
               f"{median(naive):.3f} s (CPU {median(naive_cpu):.3f} s)")
    report.add(section, "one class in-flow vs naive (naive / in-flow, wall)", f"{ratio:.2f}x", ">= 2.5x",
               ratio >= 2.5)
    report.notes.append(
        f"one-class (bulk path): `--schools {schools}` demo data, one case over every class; the case is "
        "screened once (its wall time shared out per class), then `render_answer.render_school`'s body "
        "(read the school's decisions, render its public part as one PDF/A, leak gate) runs for every "
        f"school in a fresh `ProcessPoolExecutor({workers})`, as the flow's ProcessPoolTaskRunner does, "
        "without Prefect's per-task bookkeeping; review parts left out (the naive side renders only "
        "the public list). Naive: each class of the first school as its own HTML document with "
        "`svar.css` linked, `weasyprint.HTML(string=...).write_pdf()`, one after the other. One warm-up run "
        "of each, not counted."
    )


def render_stages(public, repeats: int) -> str:
    """Parse, style, box, layout, draw+write timings of one public render."""
    from weasyprint import DEFAULT_OPTIONS
    from weasyprint.css.counters import CounterStyle
    from weasyprint.document import Document
    from weasyprint.formatting_structure.build import build_formatting_structure
    from weasyprint.layout import layout_document

    from innsyn import render

    html_class, fonts, sheets = render._weasy()
    html = render.render_public_html(public)
    results: dict[str, list[float]] = {}
    for _ in range(repeats):
        marks = [("start", time.perf_counter())]
        document = html_class(string=html, base_url=str(render.TEMPLATES_DIR))
        marks.append(("parse HTML", time.perf_counter()))
        options = dict(DEFAULT_OPTIONS, stylesheets=[sheets["svar"]], pdf_variant=render.PDF_VARIANT)
        context = Document._build_layout_context(document, fonts, CounterStyle(), {}, options)
        marks.append(("cascade (computed styles)", time.perf_counter()))
        root = build_formatting_structure(document.etree_element, context.style_for, context.get_image_from_uri,
                                          document.base_url, context.target_collector, CounterStyle(),
                                          context.footnotes)
        marks.append(("build boxes", time.perf_counter()))
        list(layout_document(document, root, context))
        marks.append(("layout", time.perf_counter()))
        rendered = document.render(stylesheets=[sheets["svar"]], font_config=fonts)
        marks.append(("(whole render again)", time.perf_counter()))
        rendered.write_pdf(pdf_variant=render.PDF_VARIANT)
        marks.append(("draw + write PDF/A", time.perf_counter()))
        for (_, before), (name, after) in zip(marks, marks[1:]):
            results.setdefault(name, []).append(after - before)
    return "\n".join(f"{name:<28} {median(values):.3f} s" for name, values in results.items())


def profile_text(run, lines: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    text = re.sub(r"/\S*/site-packages/", "", text).replace(str(ROOT) + "/", "")
    return "\n".join(line for line in text.splitlines() if line.strip())[-6000:]


# ----------------------------------------------------------------------------- process trees


class TreeSampler:
    """Peak memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int, interval: float = 1.0):
        # each sample reads /proc for every process and smaps_rollup for the tree: at 4 Hz that
        # took 15-25 % of a core from the 2-core run it measured; a peak over minutes needs 1 Hz
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            rss = pss = 0
            tree = self._tree()
            for pid in tree:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
                with contextlib.suppress(OSError, ValueError):
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                            break
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(tree))
            self._stop.wait(self.interval)


@dataclass
class Run:
    wall: float
    cpu: float
    peak_rss: int
    peak_pss: int
    processes: int
    returncode: int
    stdout: str
    stderr: str
    started: datetime


def run_tree(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 7200) -> Run:
    """Run a command, sampling its process tree's memory; CPU of every reaped descendant."""
    cpu_before = children_cpu()
    started = datetime.now()
    wall = time.perf_counter()
    with open(cwd / "stdout.txt", "w+") as out, open(cwd / "stderr.txt", "w+") as err:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        with TreeSampler(process.pid) as sampler:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
        elapsed = time.perf_counter() - wall
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return Run(elapsed, children_cpu() - cpu_before, sampler.peak_rss, sampler.peak_pss, sampler.peak_processes,
               process.returncode, stdout, stderr, started)


#: The benchmark's own folder of background services: it never uses nor stops the user's.
SERVICE_DIR = tempfile.mkdtemp(prefix="isv-bench-")


def innsyn_env(folder: Path, db: Path, api_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "INNSYN_NOW": FIXED_NOW, "INNSYN_DB": str(db), "INNSYN_OUT": str(folder / "out"),
           "INNSYN_USER": "saksbehandler", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_HOME": str(folder / "prefect-home"), "INNSYN_SERVICE_DIR": SERVICE_DIR}
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def last_json(stdout: str) -> dict:
    """The command's JSON object: its last line (a stray progress bar must not hide it)."""
    return json.loads(stdout.strip().splitlines()[-1])


def gib(size: int) -> str:
    return f"{size / 1024 ** 3:.2f} GiB"


# ----------------------------------------------------------------------------- bulk


def bench_bulk(report: Report, work: Path, schools: int) -> None:
    folder = work / "bulk"
    folder.mkdir()
    db = folder / "innsyn.duckdb"
    env = innsyn_env(folder, db)
    section = "bulk"
    setup = run_tree([INNSYN, "db", "demo-data", "--schools", str(schools)], env, folder)
    if setup.returncode != 0:
        report.add(section, f"innsyn db demo-data --schools {schools}", f"FAILED: {setup.stderr.strip()[-200:]}")
        return
    imported = last_json(setup.stdout)["imported"]
    classes, pupils = imported["classes"], imported["students"]
    report.add(section, f"innsyn db demo-data --schools {schools}: {imported['schools']} schools, "
               f"{classes} classes, {pupils} pupils", f"{setup.wall:.1f} s")
    request = request_file(folder, "2026/9001", "all", "all")
    steps = [("innsyn process (screen; public parts, gated; review copy of the classes with remarks)",
              [INNSYN, "process", str(request)]),
             ("innsyn review approve (letter, merge, gate of the merged answer)",
              [INNSYN, "review", "approve", "2026-9001", "--reviewer", "Lise Jurist"])]
    runs = []
    try:
        _bulk_steps(report, section, steps, env, folder, classes, runs)
    finally:  # the user's Prefect server the bulk commands used (in the benchmark's service folder)
        subprocess.run([INNSYN, "stop"], env=env, capture_output=True, timeout=300)
    if len(runs) < len(steps):
        return
    total = sum(run.wall for run in runs)
    report.add(section, f"process + approve, {classes} classes", f"{total:.1f} s ({total / 60:.1f} min)",
               "< 10 min", total < 600)
    public = folder / "out" / "public" / "2026-9001" / "svar.pdf"
    if public.exists():
        from pypdf import PdfReader

        reader = PdfReader(public)
        top_level = [item for item in reader.outline if not isinstance(item, list)]  # lists hold the classes
        report.add(section, "public answer: pages, size, top-level bookmarks (letter + one per school)",
                   f"{len(reader.pages)} p, {public.stat().st_size / 1024 ** 2:.0f} MiB, {len(top_level)}")
    review = folder / "out" / "internal" / "2026-9001" / "intern.pdf"
    if review.exists():
        from pypdf import PdfReader

        shown = sum(1 for item in PdfReader(review).outline if isinstance(item, list) for _ in item)
        report.add(section, "review copy: pages, size, class lists shown in full (those with remarks)",
                   f"{len(PdfReader(review).pages)} p, {review.stat().st_size / 1024 ** 2:.0f} MiB, {shown}")
    if total >= 600:
        report.profiles.append(("Bulk: what one school costs, in-process (CPU seconds per class)",
                                school_profile(work, report)))


def bench_small_bulk(report: Report, work: Path, repeats: int, sizes=(4, 10, 20, 30)) -> None:
    """A bulk case of a few classes, its schools rendered in the process pool or in the flow's
    own process ($INNSYN_POOL_FROM_CLASSES), alternately, to show where the pool pays back."""
    from innsyn.db import open_db
    from innsyn.render_answer import POOL_FROM_CLASSES

    folder = work / "small-bulk"
    folder.mkdir()
    section = "small-bulk"
    counter = iter(range(9500, 9999))
    env = innsyn_env(folder, folder / "innsyn.duckdb")
    try:
        for classes in sizes:
            (folder / str(classes)).mkdir()
            db = demo_database(folder / str(classes), 2)
            with open_db(db) as con:  # the first classes of each of the two schools
                con.execute("""DELETE FROM classes WHERE class_id NOT IN (
                                 SELECT class_id FROM (SELECT class_id, row_number() OVER
                                   (PARTITION BY school_id ORDER BY class_id) AS n FROM classes) WHERE n <= ?)""",
                            [classes // 2])
                con.execute("DELETE FROM students WHERE class_id NOT IN (SELECT class_id FROM classes)")
                con.execute("DELETE FROM guardians WHERE student_id NOT IN (SELECT student_id FROM students)")
                (pupils,) = con.execute("SELECT count(*) FROM students").fetchone()
            env["INNSYN_DB"] = str(db)
            runs: dict[str, list[Run]] = {"pool": [], "flow": []}
            for _ in range(repeats):
                for where, threshold in (("pool", "1"), ("flow", "100000")):
                    request = request_file(folder, f"2026/{next(counter)}", "all", "all")
                    run = run_tree([INNSYN, "process", str(request)], {**env, "INNSYN_POOL_FROM_CLASSES": threshold},
                                   folder)
                    if run.returncode != 0:
                        raise RuntimeError(f"innsyn process failed: {run.stderr.strip()[-300:]}")
                    runs[where].append(run)
            pool, in_flow = (median([r.wall for r in runs[w]]) for w in ("pool", "flow"))
            pool_cpu, flow_cpu = (median([r.cpu for r in runs[w]]) for w in ("pool", "flow"))
            default = "flow" if classes < POOL_FROM_CLASSES else "pool"
            report.add(section, f"innsyn process, 2 schools, {classes} classes, {pupils} pupils: pool / in the flow, "
                       f"median of {repeats} (wall)", f"{pool:.2f} / {in_flow:.2f} s",
                       f"default: {default}", (in_flow <= pool) == (default == "flow") or abs(in_flow - pool) < 0.5)
            report.add(section, "  CPU seconds of the process tree: pool / in the flow",
                       f"{pool_cpu:.1f} / {flow_cpu:.1f} s")
    finally:
        subprocess.run([INNSYN, "stop"], env=env, capture_output=True, timeout=300)


def _server_cpu(env: dict[str, str]) -> float:
    """CPU seconds so far of the user's Prefect server in the benchmark's service folder (it
    runs outside the command's process tree: a command starts it, detached, or finds it)."""
    state = Path(env["INNSYN_SERVICE_DIR"]) / "prefect-server.json"
    try:
        pid = json.loads(state.read_text())["pid"]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, KeyError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bulk_steps(report: Report, section: str, steps, env: dict[str, str], folder: Path, classes: int,
                runs: list) -> None:
    for label, command in steps:
        load_before = os.getloadavg()[0]
        server_before = _server_cpu(env)
        run = run_tree(command, env, folder)
        server = _server_cpu(env) - server_before
        (folder / f"{command[1]}.stderr.txt").write_text(run.stderr)
        if run.returncode != 0:
            report.add(section, label, f"FAILED (exit {run.returncode}): {run.stderr.strip()[-300:]}")
            return
        runs.append(run)
        result = last_json(run.stdout)
        report.add(section, f"{label}: status {result['status']}", f"{run.wall:.1f} s wall")
        if run.stdout.strip() != json.dumps(result, ensure_ascii=False):
            report.add(section, "  stdout holds more than the JSON object", "NOT ONE JSON LINE", "one line", False)
        report.add(section, "  classes per second", f"{classes / run.wall:.1f}")
        report.add(section, "  CPU seconds of the process tree (per class)",
                   f"{run.cpu:.0f} s ({run.cpu / classes:.3f} s)")
        report.add(section, "  CPU seconds of the user's Prefect server meanwhile (outside the tree)",
                   f"{server:.0f} s")
        report.add(section, "  peak RSS of the process tree (PSS)", f"{gib(run.peak_rss)} ({gib(run.peak_pss)})",
                   "< 2 GiB", run.peak_rss < 2 * 1024 ** 3)
        report.add(section, "  load average before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}")
        report.notes.append(f"bulk: `{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}` "
                            f"started {run.started:%H:%M:%S}, {run.processes} processes at most in its tree")


def school_profile(work: Path, report: Report) -> str:
    """Per-class CPU of each step of a bulk case, measured on school S001 of `--schools 1`."""
    from innsyn import cases, clock, leak_gate, render
    from innsyn.case_documents import build_answer, public_answer
    from innsyn.db import connect
    from innsyn.policy import load_policy
    from innsyn.request import parse_request
    from innsyn.resources import sql
    from innsyn.screening import screen_case

    folder = work / "school-profile"
    folder.mkdir()
    con = connect(demo_database(folder, 1))
    request = request_file(folder, "2026/8002", "all", "all")
    case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(),
                                     registered_by="benchmark", now=clock.now())
    policy = load_policy()
    screen_case(con, case_id, policy, clock.now())
    steps: dict[str, float] = {}

    def timed(name, call):
        before, children = time.process_time(), children_cpu()
        result = call()
        steps[name] = time.process_time() - before + children_cpu() - children
        return result

    answer = timed("read the school's decisions (DuckDB)", lambda: build_answer(
        con, case_id, policy, status_label="benchmark", school_id="S001"))
    withheld = timed("withheld values of the case (DuckDB)", lambda: dict(
        con.execute(sql("case_withheld_values"), {"case_id": case_id}).fetchall()))
    render.render_public_pdf(public_answer(answer), folder / "warm.pdf", front=False)  # fonts, CSS
    from innsyn.case_documents import classes_with_remarks

    with_remarks = frozenset(classes_with_remarks(con, case_id))
    timed("render review part (classes with remarks)", lambda: render.render_review_pdf(
        answer, folder / "intern.pdf", front=False, with_remarks=with_remarks))
    public = public_answer(answer)
    timed("render public part", lambda: render.render_public_pdf(public, folder / "svar.pdf", front=False))
    released = [cell.value for cell in answer.cells() if not cell.withheld]
    timed("leak gate of the public part", lambda: leak_gate.check_pdf(folder / "svar.pdf", withheld, released))
    classes = len(answer.classes)
    con.close()
    lines = [f"school S001: {classes} classes, {sum(len(c.rows) for c in answer.classes)} pupils"]
    lines += [f"{name:<40} {seconds / classes:.3f} CPU s per class" for name, seconds in steps.items()]
    shown = sum(1 for c in answer.classes if c.class_id in with_remarks)
    lines.insert(1, f"classes with remarks (in the review part): {shown}")
    process = (steps["render review part (classes with remarks)"] + steps["render public part"]
               + steps["leak gate of the public part"])
    lines.append(f"{'process (all three)':<40} {process / classes:.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- screening


SYNTHETIC_REGISTER = """
INSERT INTO schools
SELECT printf('S%05d', s), 'Skole ' || s, s % 200 = 0 FROM range(1, $schools + 1) AS t(s);
INSERT INTO classes
SELECT printf('S%05d-%02d', s, c), printf('S%05d', s), c || 'A', 1 + c % 10, (s * 20 + c) % 97 = 0
FROM range(1, $schools + 1) AS a(s), range(1, 21) AS b(c);
INSERT INTO students
SELECT printf('E%07d', i), printf('S%05d-%02d', 1 + (i // 25) // 20, 1 + (i // 25) % 20),
       'Fornavn' || (i % 97), 'Etternavn' || (i % 991),
       CASE WHEN hash(i) % 1000 < 3 THEN 'fortrolig'
            WHEN hash(i) % 1000 = 3 THEN 'strengt_fortrolig'
            WHEN hash(i) % 5000 = 4 THEN 'strengt_fortrolig_utland'
            ELSE 'ugradert' END
FROM range(0, $pupils) AS t(i);
INSERT INTO guardians
SELECT printf('F%07d-%d', i, g), printf('E%07d', i), 'Foresatt' || g, 'Etternavn' || (i % 991),
       'f' || i || '.' || g || '@example.no', '9' || lpad(((i * 7 + g) % 10000000)::VARCHAR, 7, '0'),
       hash(i, g) % 100 < 3,
       -- household h: house (h // 500) % 1200 + 1 in street h % 500 (postal code by street),
       -- 600,000 addresses, and a second guardian lives at the child's address 8 times in 10
       'Testgate ' || (h % 500) || ' ' || (1 + (h // 500) % 1200), lpad(((h % 500) + 150)::VARCHAR, 4, '0'), 'OSLO',
       CASE WHEN hash(i) % 1000 < 3 THEN 'fortrolig' WHEN hash(i, g) % 2000 = 7 THEN 'fortrolig'
            ELSE 'ugradert' END,
       hash(i, g, 1) % 100 < 90, hash(i, g, 2) % 100 < 70, hash(i, g, 3) % 100 < 60, hash(i, g, 4) % 100 < 50
FROM (SELECT i, g, CASE WHEN g = 1 OR hash(i, 8) % 10 < 8 THEN i ELSE i + 300007 END AS h
      FROM range(0, $pupils) AS t(i), range(1, 3) AS u(g)
      WHERE g = 1 OR hash(i, 7) % 10 < 8);
INSERT INTO institutions VALUES
    ('I001', 'Ungdomshjem', 'Testgate 42 1', '', 'barnevernsinstitusjon'),
    ('I002', 'Behandlingssenter', 'Testgt. 77 2', '0227', 'helseinstitusjon');
"""


def bench_screening(report: Report, work: Path, pupils: int) -> None:
    from innsyn import cases, clock
    from innsyn.db import connect, init_schema
    from innsyn.policy import load_policy
    from innsyn.request import parse_request
    from innsyn.screening import find_markers, key_street_addresses, screen_case, summarise, write_decisions

    folder = work / "screening"
    folder.mkdir()
    con = connect(folder / "screening.duckdb")
    init_schema(con)
    schools = -(-pupils // 500)  # 20 classes of 25
    t = time.perf_counter()
    for statement in SYNTHETIC_REGISTER.split(";"):
        if statement.strip():
            con.execute(statement, {k: v for k, v in {"schools": schools, "pupils": pupils}.items()
                                    if f"${k}" in statement})
    made = time.perf_counter() - t
    t = time.perf_counter()
    key_street_addresses(con)  # what `innsyn db import` does once per register
    keyed = time.perf_counter() - t
    (guardians,) = con.execute("SELECT count(*) FROM guardians").fetchone()
    (spellings,) = con.execute("SELECT count(*) FROM street_keys").fetchone()
    request = request_file(folder, "2026/8003", "all", "all")
    case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(),
                                     registered_by="benchmark", now=clock.now())
    policy = load_policy()
    now = clock.now()
    section = "screening"
    report.add(section, f"synthetic register: {pupils:,} pupils, {guardians:,} guardian rows, "
               f"{schools * 20:,} classes (made in DuckDB)", f"{made:.1f} s")
    report.add(section, f"  {spellings:,} street spellings normalised, as the import does once per register",
               f"{keyed:.1f} s")
    load_before = os.getloadavg()[0]

    def timed(call) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()  # process CPU: every DuckDB thread
        call()
        return time.perf_counter() - wall, time.process_time() - cpu

    # the product's screen_case, end to end, once: markers found and every decision written
    whole, whole_cpu = timed(lambda: screen_case(con, case_id, policy, now))
    (items,) = con.execute("SELECT count(*) FROM case_items WHERE case_id = ?", [case_id]).fetchone()
    (markers,) = con.execute("SELECT count(*) FROM findings").fetchone()
    # Screening proper (the target): the markers of every class, pupil and guardian of the
    # case, found from the register by the product's own find_markers. Cheap enough to repeat
    # on a shared machine: the median of three.
    runs = [timed(lambda: find_markers(con, case_id, policy)) for _ in range(3)]
    found, found_cpu = sorted(runs)[1]
    rate = pupils / found
    report.add(section, f"screening: markers found for every class, pupil and guardian ({markers:,} findings), "
               "median of 3", f"{found:.2f} s (CPU {found_cpu:.2f} s)")
    report.add(section, "  pupils screened per second (markers found)", f"{rate:,.0f}", ">= 1,000,000/s", rate >= 1e6)
    report.add(section, f"screen_case: markers found and {items:,} decisions written into case_items",
               f"{whole:.2f} s (CPU {whole_cpu:.2f} s)")
    report.add(section, "  pupils per second, whole screen_case (decisions written)", f"{pupils / whole:,.0f}")
    # screen_case's other stages one by one (a second run: it replaces the decisions)
    stages = {
        "writing decisions (consented list -> case_items)": timed(
            lambda: write_decisions(con, case_id, policy, now)),
        "summary (counts, hash, thin classes)": timed(lambda: summarise(con, case_id, policy)),
    }
    for name, (seconds, cpu) in stages.items():
        report.add(section, f"  {name}", f"{seconds:.2f} s (CPU {cpu:.2f} s)")
    report.add(section, "  load average before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    report.notes.append(
        f"screening: DuckDB threads = {threads}. The target row times `find_markers` (flows/screening.py), "
        "screening proper: every marker of the case's classes, pupils and guardians found from the register "
        "(median of three runs); `screen_case` adds writing one case_items row per consented value (the "
        "case's frozen snapshot) and the summary, timed once. CPU is the process's CPU time (all DuckDB "
        "threads). The synthetic register has an address per household (600,000 street spellings); the "
        "import normalises each spelling once (sql/street_keys.sql) and screening compares the keys.")
    con.close()


# ----------------------------------------------------------------------------- the cold CLI


LOG_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \|")


def log_times(stderr: str, started: datetime) -> dict[str, float]:
    """Seconds from launch to the Prefect log lines that mark the phases."""
    marks = {}
    for line in stderr.splitlines():
        match = LOG_TIME.match(line)
        if not match:
            continue
        h, m, s, ms = (int(g) for g in match.groups())
        at = started.replace(hour=h, minute=m, second=s, microsecond=ms * 1000)
        seconds = (at - started).total_seconds()
        if "Starting temporary server" in line:
            marks.setdefault("server_start", seconds)
        elif "Beginning flow run" in line and "process-request" in line:
            marks.setdefault("flow_begin", seconds)
        elif "Finished in state" in line and "Flow run" in line:
            marks["flow_end"] = seconds  # the last flow to finish: process-request
    return marks


#: What `innsyn process` imports before its flow starts (the rest is imported in the flow).
CLI_IMPORTS = "innsyn.cli, innsyn.commands, innsyn.process_request"


def import_seconds(then: str = "") -> float:
    """A fresh interpreter importing CLI_IMPORTS; with `then`, the seconds of `then` alone, after them."""
    code = (f"import time; t = time.perf_counter(); import {CLI_IMPORTS}; "
            + ("t = time.perf_counter(); " + then + "; " if then else "")
            + "print(time.perf_counter() - t)")
    return float(subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout)


#: WeasyPrint is imported, and its fonts set up, by the flow's first render (innsyn.render).
WEASYPRINT_SETUP = ("import weasyprint; from weasyprint.text.fonts import FontConfiguration; "
                    "FontConfiguration()")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def prefect_server(folder: Path):
    """`prefect server start` on a free loopback port, for as long as the block runs."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(folder / "prefect-server-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(folder / "prefect-server.log", "w")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited (see {folder / 'prefect-server.log'})")
            time.sleep(0.5)
        else:
            raise RuntimeError("prefect server did not answer within 180 s")
        yield url
    finally:
        stop_group(server, timeout=30)
        log.close()


def stop_group(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to a process started in a session of its own and its children; SIGKILL if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def innsyn_service(folder: Path, db: Path, api_url: str):
    """`innsyn serve` for `db` against the running server, once its warm worker listens: its pid."""
    from innsyn.warm_worker import listening, socket_path

    log = open(folder / "innsyn-serve.log", "w")
    service = subprocess.Popen([INNSYN, "serve"], env=innsyn_env(folder, db, api_url), cwd=folder,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not listening(socket_path(db)):
            if service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"innsyn serve did not start (see {folder / 'innsyn-serve.log'})")
            time.sleep(0.2)
        yield service.pid
    finally:
        stop_group(service, timeout=60)
        log.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + sys) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The steps of a one-class `innsyn process`, as cProfile names them: (file, function, label).
CLI_STEPS = (
    ("prefect/__init__.py", "<module>", "import prefect (pydantic models, settings, client)"),
    ("flows/process_request.py", "<module>", "import the flows (render, leak gate: pypdf, jinja2)"),
    ("flows/commands.py", "check_request", "check the request (before Prefect)"),
    ("prefect/flow_engine.py", "create_flow_run", "create flow runs (API; the first imports fastapi)"),
    ("prefect/flow_engine.py", "set_state", "set flow run states (API)"),
    ("flows/process_request.py", "register", "task register"),
    ("flows/process_request.py", "screen", "task screen"),
    ("flows/render.py", "_weasy", "import WeasyPrint, fonts, stylesheets (first render)"),
    ("flows/render.py", "render_public_pdf", "render the public answer"),
    ("flows/leak_gate.py", "check_pdf", "leak gate"),
    ("flows/render.py", "render_review_pdf", "render the review copy"),
    ("flows/db.py", "connect", "open the DuckDB file (every task opens it)"),
    ("flows/config.py", "case_result", "read the result"),
)


def cli_profile(folder: Path, db: Path, api_url: str, request: Path) -> str:
    """One more run under cProfile: the cumulative seconds of each step in CLI_STEPS."""
    profile = folder / "cli.prof"
    run = run_tree([PYTHON, "-m", "cProfile", "-o", str(profile), INNSYN, "process", str(request)],
                   innsyn_env(folder, db, api_url), folder)
    if run.returncode != 0 or not profile.exists():
        return f"cProfile run failed: {run.stderr.strip()[-300:]}"
    stats = pstats.Stats(str(profile)).stats  # {(file, line, function): (calls, _, own, cumulative, _)}
    lines = [f"{'calls':>5} {'cum s':>7}  step (one run under cProfile: {run.wall:.2f} s wall, "
             f"{run.cpu:.2f} s CPU; profiling slows Python code, WeasyPrint's layout most)"]
    for file, function, label in CLI_STEPS:
        # the package is `flows/` in a checkout (editable install) and `innsyn/` when installed
        found = [(calls, cumulative) for (path, _, name), (_, calls, _, cumulative, _) in stats.items()
                 if path.replace("/innsyn/", "/flows/").endswith(file) and name == function]
        if found:
            calls, cumulative = max(found, key=lambda item: item[1])
            lines.append(f"{calls:>5} {cumulative:>7.2f}  {label}")
    return "\n".join(lines)


def bench_cli(report: Report, work: Path, repeats: int, modes: tuple[str, ...]) -> None:
    folder = work / "cli"
    folder.mkdir()
    db = demo_database(folder, 1)
    section = "cli"
    imports = median([import_seconds() for _ in range(3)])
    report.add(section, "imports of `innsyn process` before its flow (fresh interpreter, median of 3)",
               f"{imports:.2f} s")
    weasy = median([import_seconds(then=WEASYPRINT_SETUP) for _ in range(3)])
    report.add(section, "  WeasyPrint import and font set-up, paid inside the flow by the first render (median of 3)",
               f"{weasy:.2f} s")
    counter = iter(range(7100, 7200))
    for mode in modes:
        with contextlib.ExitStack() as stack:
            api_url = stack.enter_context(prefect_server(folder)) if mode in ("server", "service") else None
            service = stack.enter_context(innsyn_service(folder, db, api_url)) if mode == "service" else None
            env = innsyn_env(folder, db, api_url)
            if mode != "service":
                env["INNSYN_USE_SERVICE"] = "0"  # its own process, whatever else runs on the machine
            runs, loads, service_cpu = [], [], []
            for _ in range(repeats):
                request = request_file(folder, f"2026/{next(counter)}", "S001", ["1A"])
                loads.append(os.getloadavg()[0])
                before = process_cpu(service) if service else 0.0
                run = run_tree([INNSYN, "process", str(request)], env, folder)
                if run.returncode != 0:
                    report.add(section, f"innsyn process ({mode})", f"FAILED: {run.stderr.strip()[-300:]}")
                    break
                if service:
                    if f"(pid {service})" not in run.stderr:
                        report.add(section, "innsyn process (service)", "FAILED: not answered by the service")
                        break
                    service_cpu.append(process_cpu(service) - before)
                runs.append((run, log_times(run.stderr, run.started), last_json(run.stdout)["status"]))
            walls = [run.wall for run, _, _ in runs]
            if mode == "server" and runs and median(walls) >= 3:
                request = request_file(folder, f"2026/{next(counter)}", "S001", ["1A"])
                report.profiles.append(("innsyn process against a running Prefect server, no `innsyn serve`: "
                                        "where one run's time goes", cli_profile(folder, db, api_url, request)))
        if not runs:
            continue
        label = {"embedded": "embedded (temporary server)",
                 "server": "against a running Prefect server, no `innsyn serve` (cold)",
                 "service": "against a running Prefect server and `innsyn serve` (warm)"}[mode]
        target = "< 3 s" if mode == "service" else ""
        met = median(walls) < 3 if mode == "service" else None
        report.add(section, f"innsyn process, one class, {label}: median of {len(runs)}",
                   f"{median(walls):.2f} s wall", target, met)
        report.add(section, "  CPU of the process tree (user + sys), median",
                   f"{median([run.cpu for run, _, _ in runs]):.2f} s")
        if service_cpu:
            report.add(section, "  CPU of the `innsyn serve` process (the flow run), median",
                       f"{median(service_cpu):.2f} s")
        report.add(section, "  load average (1 min) at the start of each run",
                   " / ".join(f"{load:.1f}" for load in loads[:len(runs)]))
        report.add(section, "  status of the case", runs[0][2])
        if mode == "service":
            report.add(section, "  peak RSS of the command's process tree (the service not counted)",
                       gib(max(run.peak_rss for run, _, _ in runs)))
            continue  # the flow's log lines are the service's, not on this command's stderr
        begin = [marks["flow_begin"] for _, marks, _ in runs if "flow_begin" in marks]
        flow = [marks["flow_end"] - marks["flow_begin"] for _, marks, _ in runs if {"flow_begin", "flow_end"} <= set(marks)]
        tail = [run.wall - marks["flow_end"] for run, marks, _ in runs if "flow_end" in marks]
        if mode == "embedded":
            start = [marks["flow_begin"] - marks["server_start"] for _, marks, _ in runs
                     if {"server_start", "flow_begin"} <= set(marks)]
            before = [marks["server_start"] for _, marks, _ in runs if "server_start" in marks]
            report.add(section, "  launch to server start (imports, input checks)", f"{median(before):.2f} s")
            report.add(section, "  temporary server start to flow run", f"{median(start):.2f} s")
        else:
            report.add(section, "  launch to flow run (imports, input checks, API)", f"{median(begin):.2f} s")
        report.add(section, "  flow run (register, screen, render incl. WeasyPrint import, gate, release)",
                   f"{median(flow):.2f} s")
        after = "send queued logs and events, stop the server, exit" if mode == "embedded" else \
            "send queued logs and events, exit"
        report.add(section, f"  after the flow ({after})", f"{median(tail):.2f} s")
        report.add(section, "  peak RSS of the process tree", gib(max(run.peak_rss for run, _, _ in runs)))
    report.notes.append("cli: a one-class request (S001 1A of `--schools 1`), each run a new process and a new "
                        "case; the phases are read from the timestamps of Prefect's log lines on stderr (ms), "
                        "CPU from the rusage of the reaped process tree. The machine is shared: compare wall "
                        "time with the load average beside it, and CPU seconds across runs.")


# ----------------------------------------------------------------------------- the background service


def work_alone(db: Path, case_id: str, *, screen: bool, review_copy: bool = False) -> tuple[float, float]:
    """The work of a one-class case without Prefect or a new process: (wall, CPU) of screen (if
    asked) + read the decisions + render the public answer + leak gate, in this process; with
    `review_copy`, the review copy too (one after the other), as the command writes both."""
    from innsyn import clock, leak_gate, render
    from innsyn.case_documents import build_answer, public_answer
    from innsyn.db import open_db
    from innsyn.policy import load_policy
    from innsyn.render_answer import _merge
    from innsyn.screening import screen_case

    policy = load_policy()
    pdf = db.parent / f"alone-{case_id}.pdf"
    lists = db.parent / f"alone-{case_id}-lists.pdf"
    if review_copy and not screen:  # kept from the case's screening (innsyn.render_answer): not timed
        with open_db(db, read_only=True) as con:
            render.render_review_pdf(build_answer(con, case_id, policy, status_label="benchmark"), lists, front=False)
    wall, cpu, cpu_children = time.perf_counter(), time.process_time(), children_cpu()
    with open_db(db) as con:
        if screen:
            screen_case(con, case_id, policy, clock.now())
        answer = build_answer(con, case_id, policy, status_label="benchmark")
    render.render_public_pdf(public_answer(answer), pdf)
    leak_gate.check_pdf(pdf, {c.item_id: c.value for c in answer.cells() if c.withheld},
                        [c.value for c in answer.cells() if not c.withheld])
    if review_copy:  # as the command writes it
        copy = db.parent / f"alone-{case_id}-intern.pdf"
        if screen:  # a one-class case released without review (1A): the copy names its list
            render.render_review_pdf(answer, copy, with_remarks=frozenset())
        else:  # an approval: a new front, merged with the lists kept from the screening
            front = db.parent / f"alone-{case_id}-front.pdf"
            render.render_review_pdf(answer, front, lists=False)
            _merge([front, lists], copy)
    return time.perf_counter() - wall, time.process_time() - cpu + children_cpu() - cpu_children


def bench_service(report: Report, work: Path, repeats: int) -> None:
    """Issue 16: the CLI on a machine where nothing was started, through the background service
    it starts itself (no PREFECT_API_URL: it starts the user's Prefect server too)."""
    import duckdb

    from innsyn.service import paths

    folder = work / "service"
    folder.mkdir()
    db = demo_database(folder, 1)
    env = {**innsyn_env(folder, db), "INNSYN_USE_SERVICE": "1"}
    counter = iter(range(9100, 9999))
    section = "service"

    def process(classes: str = "1A") -> Run:
        request = request_file(folder, f"2026/{next(counter)}", "S001", [classes])
        run = run_tree([INNSYN, "process", str(request)], env, folder)
        if run.returncode != 0:
            raise RuntimeError(f"innsyn process failed: {run.stderr.strip()[-300:]}")
        return run

    def stop_everything() -> None:
        subprocess.run([INNSYN, "stop"], env=env, capture_output=True, timeout=300, check=True)

    def service_pid() -> int:
        return paths.read_state(Path(SERVICE_DIR) / f"{paths.db_key(db)}.json")["pid"]

    loads = []
    try:
        # a machine that ran innsyn before: Prefect's database exists (its migrations run once)
        t = time.perf_counter()
        process()
        very_first = time.perf_counter() - t
        firsts = []
        for _ in range(repeats):  # nothing runs: the command starts the Prefect server and the service
            stop_everything()
            loads.append(os.getloadavg()[0])
            firsts.append(process())
        later = [process() for _ in range(repeats)]
        pid = service_pid()
        warm, warm_cpu = [], []
        for _ in range(repeats):
            before = process_cpu(pid)
            warm.append(process())
            warm_cpu.append(process_cpu(pid) - before)
        waiting = [last_json(process("5B").stdout)["case_id"] for _ in range(repeats)]
        approves, approve_cpu = [], []
        for case_id in waiting:
            before = process_cpu(pid)
            run = run_tree([INNSYN, "review", "approve", case_id, "--reviewer", "Lise Jurist"], env, folder)
            if run.returncode != 0 or last_json(run.stdout)["status"] != "released":
                raise RuntimeError(f"innsyn review approve failed: {run.stderr.strip()[-300:]}")
            approve_cpu.append(process_cpu(pid) - before)
            approves.append(run)
        answered_by_service = all("background innsyn service" in r.stderr for r in later + warm + approves)
        stop_everything()
        alone = [run_tree([INNSYN, "process", str(request_file(folder, f"2026/{next(counter)}", "S001", ["1A"]))],
                          {**env, "INNSYN_USE_SERVICE": "0"}, folder) for _ in range(max(2, repeats // 2))]
    finally:
        with contextlib.suppress(Exception):
            stop_everything()

    # the work alone, in this process, on cases of the same classes
    with duckdb.connect(str(db), read_only=True) as con:
        one_a = [c for (c,) in con.execute("SELECT case_id FROM cases WHERE scope_classes LIKE '%1A%' "
                                           "ORDER BY case_id").fetchall()]
        five_b = [c for (c,) in con.execute("SELECT case_id FROM cases WHERE scope_classes LIKE '%5B%' "
                                            "ORDER BY case_id").fetchall()]
    work_alone(db, one_a[0], screen=True)  # imports and fonts: not counted
    process_work = [work_alone(db, one_a[0], screen=True) for _ in range(repeats)]
    approve_work = [work_alone(db, five_b[0], screen=False) for _ in range(repeats)]
    # what the command writes besides the answer: the review copy (the case's record)
    process_all = [work_alone(db, one_a[0], screen=True, review_copy=True) for _ in range(repeats)]
    approve_all = [work_alone(db, five_b[0], screen=False, review_copy=True) for _ in range(repeats)]
    work_p = median([w for w, _ in process_work])
    work_a = median([w for w, _ in approve_work])
    all_p = median([w for w, _ in process_all])
    all_a = median([w for w, _ in approve_all])

    def walls(runs: list[Run]) -> float:
        return median([r.wall for r in runs])

    report.add(section, f"the work alone: screen + render + gate of 1A in-process, median of {repeats}",
               f"{work_p:.2f} s wall, {median([c for _, c in process_work]):.2f} s CPU")
    report.add(section, f"the work alone of an approval (5B): render + gate, median of {repeats}",
               f"{work_a:.2f} s wall, {median([c for _, c in approve_work]):.2f} s CPU")
    report.add(section, f"the work alone with the review copy too (all the command writes), one after the other: "
               f"process / approve, median of {repeats}", f"{all_p:.2f} / {all_a:.2f} s wall")
    report.add(section, "the very first call on this PREFECT_HOME (its database a copy of the migrated empty one, once)", f"{very_first:.2f} s")
    rows = [
        ("innsyn process, first call after boot (nothing runs), median of", firsts, (work_p, all_p), 8.0),
        ("innsyn process, 2nd+ call (the service it started), median of", later, (work_p, all_p), 2.0),
        ("innsyn review approve (one class, 5B), median of", approves, (work_a, all_a), 2.0),
        ("innsyn process, the service warm, median of", warm, (work_p, all_p), 1.0),
        ("innsyn review approve, the service warm, median of", approves, (work_a, all_a), 1.0),
        ("innsyn process alone (INNSYN_USE_SERVICE=0, temporary server), median of", alone, (work_p, all_p), None),
    ]
    for label, runs, (work_seconds, all_seconds), target in rows:
        wall = walls(runs)
        report.add(section, f"{label} {len(runs)}",
                   f"{wall:.2f} s wall ({wall / work_seconds:.1f}x the work; {wall / all_seconds:.1f}x with the "
                   "review copy)", f"<= {target:g} s" if target else "", None if target is None else wall <= target)
    report.add(section, "  CPU of the command's own process tree (process, warm), median",
               f"{median([r.cpu for r in warm]):.2f} s")
    report.add(section, "  CPU of the service per command: process / approve, median",
               f"{median(warm_cpu):.2f} / {median(approve_cpu):.2f} s")
    report.add(section, "  every later call answered by the service", "yes" if answered_by_service else "NO")
    report.add(section, "  load average (1 min) before each first call", " / ".join(f"{x:.1f}" for x in loads))
    report.add(section, "  peak RSS of the command's process tree, warm (the service not counted)",
               gib(max(r.peak_rss for r in warm)))
    report.notes.append(
        "service: `--schools 1` demo data; every command a new `innsyn` process from the shell with no "
        "PREFECT_API_URL and its own service folder (INNSYN_SERVICE_DIR). 'First call after boot': `innsyn stop` "
        "before each (the service and the user's Prefect server stopped; the page cache stays warm, unlike a real "
        "boot); the very first call on a new PREFECT_HOME is reported apart (its database copied from the migrated empty one `make` keeps). '2nd+': the "
        "calls right after; 'warm': the calls after those. Approve: each of N one-class cases (5B, awaiting "
        "review) approved once. 'The work alone': the same steps without Prefect or a new process in the "
        "benchmark's own process (warm), median of N, so each ratio is wall / work. CPU of the service from /proc.")



# ----------------------------------------------------------------------------- output


TARGET_FIXES = {
    "one-class": (
        "In the flow a class is laid out by WeasyPrint like the naive render lays it out: a school's "
        "classes share one document, the fonts and the parsed CSS, which saves the per-document set-up "
        "(≈ 0.05 s a class), and the schools run on both cores. That is all sharing can save: layout, "
        "drawing and writing the boxes of a 25-row table (see the WeasyPrint stages) cost the same on "
        "both sides, ≈ 0.25-0.3 CPU s a class. The screen (0.002 s a class) and the leak gate "
        "(0.015 s) are no longer the cost. 2.5x needs two free cores and a render under ≈ 0.25 CPU s "
        "a class: not laying a class list out again (parts cached by the hash of their decisions and "
        "a case-free header, since documents are deterministic), or drawing the table with pydyf "
        "instead of HTML layout. A request for one class has no batch to share: its row is the "
        "letter and one list against the same HTML rendered naively."),
    "bulk": (
        "Met on 2 Dec 2026 in two runs: 599.3 s and 579.2 s (process 561.5 s wall, 1048 CPU s in the "
        "command's tree, 0.267 a class, 19 s in the user's Prefect server; approve 17.7 s), from 643.3 s "
        "(10.7 min) in the session before. What changed: WeasyPrint's pure-Python HTML parser replaced by "
        "expat for our own well-formed markup (4-7 % of a school part's render), the user's Prefect server "
        "on a new home started from a migrated empty database (11-12 -> 5-6 CPU s, before the first flow "
        "run), and on release the review copy merged in a forked process while the answer merges (merge "
        "14.8 s -> about 10). The margin is small and the host's speed varies by ±5-10 % between runs: "
        "what remains is WeasyPrint, ≈ 85 % of the process step (layout ≈ 57 %, drawing ≈ 19 %), of "
        "which the text is the cost (the same tables with every cell emptied render 63 % faster). A "
        "larger margin needs a class list drawn without HTML layout (pydyf), or a third core. Measured "
        "and not adopted: a faster `resolve_percentages`, `overflow-wrap: break-word` in the review "
        "table, separate borders, no kerning or ligatures (2 % slower), gc.freeze in a worker, batches "
        "of a fixed 5 schools (all within noise)."),

    "screening": (
        "Finding the markers reads the case's pupils and guardians once (a join of every guardian row with "
        "the case's pupils, into a temp table) and works on the few marked rows after that; on 2 cores "
        "shared with other jobs the join and the temp table are most of it (see the CPU seconds). Writing "
        "the decisions is separate: 5.8 million case_items rows, most of it DuckDB compressing the strings "
        "on write."),
    "cli": (
        "A cold `innsyn process` pays for its imports before any work: Prefect alone (its pydantic models, "
        "settings and client) is over a second, DuckDB and pydantic a few tenths, WeasyPrint and its fonts "
        "another 0.5-0.7 s at the first render (see the profile). Then it renders two documents (the "
        "public answer and, in a forked copy beside it, the review copy) in the request's flow run. "
        "The target row is the warm set-up: `innsyn serve` runs the flow in its own process, where "
        "Prefect, the templates and every font face are loaded once, and the command only checks "
        "the request and hands its path over a socket (0.4 s of imports). When that row misses, "
        "the service's CPU row says whether the flow got slower (renders, API round trips to the "
        "server) or the machine was busy (compare the load average)."),
    "service": (
        "Two runs at load 1.5-2.2 (15:32 and 15:34 UTC, 2 Dec 2026) met every target: warm process "
        "0.77 / 0.87 s, approve 0.77 / 0.73 s, first call after boot 6.61 / 6.72 s. What made the warm "
        "commands fit: the review copy was their critical path (1A 0.35-0.42 CPU s, 5B 0.54-0.58, in a "
        "forked copy beside the public answer and its gate, ≈ 0.25). Now the copy is a front and the "
        "lists, rendered apart and merged: approval draws only a new front and merges the lists kept "
        "from the screening (5B: 0.27 CPU s instead of 0.89 at load 9), and a case released without "
        "review (1A) gets a copy that names its lists instead of repeating them (0.20 instead of 0.68), "
        "so the public answer is the critical path again. The first call after boot waits for the "
        "user's Prefect server, whose start skips Prefect's migration check once its SQLite file is "
        "migrated (0.6 of ≈ 5 CPU s). If a target misses: compare the CPU rows (the command ≈ 0.08 s, "
        "the service ≈ 0.5-0.6 s a command) with the load average; the Prefect server spends ≈ 0.3 CPU s "
        "a command on the runs' events on the same cores, and commands run back to back pay part of the "
        "previous one's."),
}


def markdown(report: Report, info: dict[str, str], command: str, elapsed: float) -> str:
    lines = ["# Benchmark results", "",
             "Written by `benchmarks/run.py` (see `benchmarks/README.md`). Every number below was measured "
             "in the run that wrote this file.", "", "## Machine", "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in info.items()]
    lines += [f"| load average at end (1/5/15 min) | {load_average()} |", f"| benchmark wall time | {elapsed / 60:.1f} min |",
              "", "## Command", "", "```sh", command, "```", "", "## Results", "",
              "| section | measure | value | target | verdict | load (1 min) |",
              "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r.section} | {r.measure.strip()} | {r.value} | {r.target} | {r.verdict} | {r.load} |"
              for r in report.rows]
    lines += ["", "## How each number was taken", ""] + [f"- {note}" for note in report.notes]
    if report.missed:
        lines += ["", "## Targets missed, why, and what would meet them", ""]
        sections = []
        for missed in report.missed:
            section = missed.split(":")[0]
            lines.append(f"- **{missed}**")
            if section not in sections:
                sections.append(section)
        for section in sections:
            lines += ["", f"**{section}**: {TARGET_FIXES.get(section, '')}"]
    if report.profiles:
        lines += ["", "## Profiles", ""]
        for title, text in report.profiles:
            lines += ["", f"### {title}", "", "```", text, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tiny sizes, no Prefect runs: under a minute")
    mode.add_argument("--full", action="store_true", help="the issue's sizes (the default)")
    parser.add_argument("--schools", type=int, default=None, help="bulk: demo schools (full: 200)")
    parser.add_argument("--pupils", type=int, default=None, help="screening: synthetic pupils (full: 1,000,000)")
    parser.add_argument("--repeats", type=int, default=None, help="one class: runs of each (full: 15)")
    parser.add_argument("--cli-repeats", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    parser.add_argument("--section", action="append", default=[], choices=SECTIONS,
                        help="run only this section (repeatable), e.g. --section service")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = parser.parse_args(argv)

    quick = args.quick
    schools = args.schools or (1 if quick else 200)
    pupils = args.pupils or (20_000 if quick else 1_000_000)
    repeats = args.repeats or (3 if quick else 15)
    skip = set(args.skip) | ({"bulk", "small-bulk", "cli", "service"} if quick else set())
    if args.section:  # named sections run, --quick or not; the others do not
        skip = set(SECTIONS) - set(args.section)
    command = " ".join(["python benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])

    started = time.perf_counter()
    info = machine()
    print("innsyn benchmark" + (" (quick)" if quick else ""), flush=True)
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(flush=True)
    report = Report()
    work = Path(tempfile.mkdtemp(prefix="innsyn-bench-"))
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> str:
        # after every section: a run stopped halfway still leaves what it measured
        text = markdown(report, info, command, time.perf_counter() - started)
        args.out.write_text(text, encoding="utf-8")
        return text

    sections = {
        "one-class": lambda: (bench_one_class(report, work, repeats),
                              bench_class_in_bulk(report, work, repeats, 1 if quick else 4)),
        "screening": lambda: bench_screening(report, work, pupils),
        "cli": lambda: bench_cli(report, work, args.cli_repeats, ("embedded", "server", "service")),
        "service": lambda: bench_service(report, work, 3 if quick else 5),
        "bulk": lambda: bench_bulk(report, work, schools),
        "small-bulk": lambda: bench_small_bulk(report, work, 3),
    }
    try:
        for name, bench in sections.items():
            if name not in skip:
                bench()
                save()
    finally:
        if args.keep:
            print(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(SERVICE_DIR, ignore_errors=True)
    for section in sorted(skip):
        if section not in args.section and not args.section:
            report.add(section, f"skipped ({'--quick' if quick and section in ('bulk', 'small-bulk', 'cli', 'service') else '--skip'})", "")
    elapsed = time.perf_counter() - started
    text = save()
    print()
    print(text[text.index("| section | measure"):text.index("## How each number")].rstrip())
    print()
    print(f"{len(report.rows)} results, {len(report.missed)} targets missed, in {elapsed:.0f} s; "
          f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
