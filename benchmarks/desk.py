"""How long a case handler waits at the desk, beside a cold `innsyn process` (issue 14).

One-class requests (S001 1A of `--schools 1`) against one running Prefect server:
- `innsyn process FILE` from the shell, a new process each time (as in run.py's cli section);
- the desk (`innsyn desk`, started once and warm): from submitting the register form to the
  case page on screen, over HTTP (the form's POST and the redirect it answers with) and, when
  Debian's chromium is installed, in a real headless Chromium (click to the status on screen).

    .venv/bin/python benchmarks/desk.py [--repeats 3] [--out benchmarks/RESULTS-desk.md]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("innsyn_benchmarks", HERE / "run.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["innsyn_benchmarks"] = bench
_spec.loader.exec_module(bench)

PASSWORD = "benchmark-passord"


def cold_cli(folder: Path, db: Path, api_url: str, repeats: int, counter) -> list[float]:
    env = {**bench.innsyn_env(folder, db, api_url), "INNSYN_USE_SERVICE": "0"}
    walls = []
    for _ in range(repeats):
        request = bench.request_file(folder, f"2026/{next(counter)}", "S001", ["1A"])
        started = time.perf_counter()
        run = subprocess.run([bench.INNSYN, "process", str(request)], env=env, cwd=folder, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if run.returncode != 0:
            raise SystemExit(f"innsyn process failed: {run.stderr.strip()[-300:]}")
    return walls


@contextlib.contextmanager
def desk_server(folder: Path, db: Path, api_url: str):
    port = bench.free_port()
    log = open(folder / "desk.log", "w")
    server = subprocess.Popen([bench.INNSYN, "desk", "--port", str(port)], cwd=folder, stdout=log,
                              stderr=subprocess.STDOUT, env={**bench.innsyn_env(folder, db, api_url),
                                                             "INNSYN_USE_SERVICE": "0"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/logg-inn", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(5)  # the desk imports Prefect and WeasyPrint in the background at start
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def desk_http(url: str, repeats: int, counter) -> list[float]:
    import httpx

    walls = []
    with httpx.Client(base_url=url, timeout=600) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/logg-inn").text).group(1)
        client.post("/logg-inn", data={"csrf": token, "name": "saksbehandler", "password": PASSWORD})
        for _ in range(repeats):
            page = client.get("/saker/ny?skole=S001").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            started = time.perf_counter()
            answer = client.post("/saker/ny", follow_redirects=True, data={
                "csrf": token, "school": "S001", "classes": "1A", "name": "Kari Nordmann", "kind": "journalist",
                "email": "kari@avis.example", "request_id": f"2026/{next(counter)}",
                "received_date": "2026-11-23", "received_time": "09:15"})
            walls.append(time.perf_counter() - started)
            if 'id="saksstatus"' not in answer.text:
                raise SystemExit(f"the desk did not answer with the case: {answer.status_code}")
    return walls


def desk_browser(url: str, repeats: int, counter, folder: Path) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={folder / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(600)
    walls = []
    try:
        driver.get(f"{url}/logg-inn")
        driver.find_element(By.ID, "name").send_keys("saksbehandler")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "logg-inn").click()
        driver.find_element(By.CSS_SELECTOR, ".konto span")  # signed in (find_element waits for the page)
        for _ in range(repeats):
            driver.get(f"{url}/saker/ny?skole=S001")
            driver.find_element(By.CSS_SELECTOR, 'input[name=classes][value="1A"]').click()
            driver.find_element(By.ID, "requester-name").send_keys("Kari Nordmann")
            driver.find_element(By.ID, "request-id").send_keys(f"2026/{next(counter)}")
            Select(driver.find_element(By.ID, "requester-kind")).select_by_value("journalist")
            started = time.perf_counter()
            driver.find_element(By.ID, "registrer").click()
            driver.find_element(By.ID, "saksstatus")
            walls.append(time.perf_counter() - started)
    finally:
        driver.quit()
    return walls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-desk.md")
    args = parser.parse_args()
    rows = []
    load_start = os.getloadavg()
    counter = iter(range(8100, 8300))
    with tempfile.TemporaryDirectory(prefix="innsyn-desk-bench-") as tmp:
        folder = Path(tmp)
        db = bench.demo_database(folder, 1)
        from innsyn.db import open_db
        from innsyn.desk import accounts

        with open_db(db) as con:
            accounts.add_account(con, "saksbehandler", "handler", PASSWORD)
        with bench.prefect_server(folder) as api_url:
            cli = cold_cli(folder, db, api_url, args.repeats, counter)
            rows.append(("`innsyn process`, one class, cold, against a running Prefect server", cli))
            with desk_server(folder, db, api_url) as url:
                http = desk_http(url, args.repeats, counter)
                rows.append(("desk: register form POST to the case page (HTTP, warm desk)", http))
                if Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
                    browser = desk_browser(url, args.repeats, counter, folder)
                    rows.append(("desk: click 'Registrer' to the case status on screen (headless Chromium)", browser))
    lines = ["# The case desk: register to answer on screen", "",
             f"Written by `benchmarks/desk.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
             f"{os.cpu_count()} cores, {platform.platform()}; load average (1 min) {load_start[0]:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end. One-class requests (S001 1A of `--schools 1`), each a new case.",
             "", "| measure | median | runs (s) |", "| --- | --- | --- |"]
    for label, walls in rows:
        lines.append(f"| {label} | {bench.median(walls):.2f} s | {' / '.join(f'{w:.2f}' for w in walls)} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
