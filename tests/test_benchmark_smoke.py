"""The benchmark runs: `benchmarks/run.py --quick` prints its table and writes its results.

The quick mode measures one class in-flow against the naive render and screens a small
synthetic register (no Prefect runs), so CI notices when the benchmark itself breaks. The
test runs it at its smallest (one repeat of each measure, 2,000 synthetic pupils): every
section of the quick mode runs, every row is printed and written, each measured once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_the_quick_benchmark_prints_its_table_and_writes_results(tmp_path):
    results = tmp_path / "RESULTS.md"
    run = subprocess.run([sys.executable, str(BENCHMARK), "--quick", "--repeats", "1", "--pupils", "2000",
                          "--out", str(results)],
                         capture_output=True, text=True, timeout=300)  # under a loaded machine and a second test worker
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| section | measure | value | target | verdict | load (1 min) |" in run.stdout
    for measure in ("in-flow screen+render+gate", "naive render of the same HTML", "in-flow vs naive",
                    "pupils screened per second"):
        assert measure in run.stdout, measure
    written = results.read_text(encoding="utf-8")
    assert "## Machine" in written and "cores (nproc)" in written and "load average" in written
    assert "in-flow vs naive" in written
