"""The case desk in a real browser: headless Chromium drives the whole journey of a request.

A handler signs in and registers a request for 5B of the canary register; the case appears
in the list with its deadlines; the handler who registered it is refused approval; a
reviewer releases one value and withholds another, each with a reason, and releases a value
of a graded household, which a second reviewer confirms; the reviewer approves; the public
PDF downloaded from the page passes the leak gate. A signed-out browser sees nothing, and a
form posted without its CSRF token is refused with the database unchanged.

The desk runs as `innsyn desk` in a subprocess on a free loopback port, against the session's
Prefect server. Set DESK_SCREENS=folder to keep screenshots of the pages, and DESK_TIMINGS=file
to append the time from "register" to the case on screen.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import CANARIES, INNSYN, canary_export, innsyn, innsyn_env, pdf_text
from innsyn import leak_gate
from innsyn.db import open_db

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PASSWORD = "et-langt-testpassord"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (`make system-deps` as root installs them)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def desk(tmp_path: Path, prefect_api_url: str):
    """A work folder with the canary register and four accounts, and `innsyn desk` serving it."""
    assert innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export"))).returncode == 0
    for name, role in (("kari", "handler"), ("lise", "reviewer"), ("ola", "reviewer")):
        added = subprocess.run([INNSYN, "users", "add", name, "--role", role], input=PASSWORD + "\n", text=True,
                               capture_output=True, env=innsyn_env(tmp_path, prefect_api_url), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    port = free_port()
    log = (tmp_path / "desk.log").open("w")
    server = subprocess.Popen([INNSYN, "desk", "--port", str(port)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                              env={**innsyn_env(tmp_path, prefect_api_url), "INNSYN_USE_SERVICE": "0"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/logg-inn", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "desk.log").read_text()) from None
            time.sleep(0.2)
    yield url, tmp_path
    server.terminate()  # SIGTERM: the desk stops as a command ends, with its JSON
    assert server.wait(timeout=30) == 0
    log.close()
    assert '"stopped": true' in (tmp_path / "desk.log").read_text()


@pytest.fixture
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "plugins.always_open_pdf_externally": True})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.downloads = downloads
    yield driver
    driver.quit()


# ----------------------------------------------------------------------------- helpers


def sign_in(driver, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{url}/logg-inn")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.ID, "logg-inn"))
    assert driver.find_element(By.CSS_SELECTOR, ".konto span").text.startswith(name)


def click_and_wait(driver, element) -> None:
    """Click what submits a form and wait until the answer has replaced the page."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")

    def replaced(_) -> bool:
        try:
            page.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # Chrome asked about the old page mid-navigation: its node has left the document
            # already (seen once in a full run as "unhandled inspector error"), which is replaced
            if "does not belong to the document" in str(error):
                return True
            raise

    element.click()
    WebDriverWait(driver, 600).until(replaced)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def flash(driver) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, "melding")
    return found[0].text if found else ""


def cell(driver, item: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'td[data-item="{item}"]')


def change(driver, item: str, reason: str, rule: str | None = None) -> None:
    """Open the value's form in the grid, give a reason (and a rule), and submit it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    target = cell(driver, item)
    target.find_element(By.TAG_NAME, "summary").click()
    if rule:
        Select(target.find_element(By.NAME, "rule")).select_by_value(rule)
    target.find_element(By.NAME, "reason").send_keys(reason)
    click_and_wait(driver, target.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("DESK_SCREENS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 800), 6000))
    driver.save_screenshot(str(Path(folder) / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def post_without_token(driver, action: str, fields: dict[str, str]) -> None:
    """What a forged page would send: the form, but not the session's CSRF token."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script(
        """const form = document.createElement('form'); form.method = 'post'; form.action = arguments[0];
           for (const [name, value] of Object.entries(arguments[1])) {
             const input = document.createElement('input'); input.name = name; input.value = value;
             form.appendChild(input); }
           document.body.appendChild(form); form.submit();""", action, fields)
    WebDriverWait(driver, 600).until(expected_conditions.staleness_of(page))


def event_count(db: Path) -> int:
    with open_db(db, read_only=True) as con:
        return con.execute("SELECT count(*) FROM case_events").fetchone()[0]


# ----------------------------------------------------------------------------- the journey


def test_a_request_from_registration_to_the_released_answer(desk, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, workdir = desk
    db = workdir / "innsyn.duckdb"

    # a handler signs in and registers a request for 5B
    sign_in(browser, url, "kari")
    browser.get(f"{url}/saker/ny")
    Select(browser.find_element(By.ID, "velg-skole")).select_by_value("S001")
    click_and_wait(browser, browser.find_element(By.ID, "vis-klasser"))
    browser.find_element(By.CSS_SELECTOR, 'input[name=classes][value="5B"]').click()
    browser.find_element(By.ID, "requester-name").send_keys("Berit Journalist")
    browser.find_element(By.ID, "requester-email").send_keys("berit@avis.example")
    browser.find_element(By.ID, "request-id").send_keys("2026/1234")
    started = time.perf_counter()
    click_and_wait(browser, browser.find_element(By.ID, "registrer"))
    status = browser.find_element(By.ID, "saksstatus").text
    seconds = time.perf_counter() - started
    if os.environ.get("DESK_TIMINGS"):
        with open(os.environ["DESK_TIMINGS"], "a") as timings:
            timings.write(f"register to answer on screen (one class): {seconds:.2f} s\n")
    assert status == "til juridisk vurdering", flash(browser)
    assert "Kravet er registrert" in flash(browser)
    screenshot(browser, "2-sak-saksbehandler")

    # the case is in the list, with its deadlines in working days (received Tue 24 Nov 2026)
    browser.get(url)
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-case="2026-1234"]')
    texts = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert texts[1:5] == ["Sagene skole", "24.11.2026", "27.11.2026", "01.12.2026"], texts
    assert "til juridisk vurdering" in texts[6]
    screenshot(browser, "1-saksliste")

    # the handler who registered the case sees no grid and is refused approval
    browser.get(f"{url}/saker/2026-1234")
    assert not browser.find_elements(By.ID, "rutenett")
    assert CANARIES["fortrolig pupil"] not in browser.page_source
    token = browser.find_element(By.NAME, "csrf").get_attribute("value")
    post_without_token(browser, "/saker/2026-1234/godkjenn", {"csrf": token})
    assert "Bare jurister" in browser.find_element(By.ID, "avvist").text

    # a reviewer releases one value and withholds another, each with a reason
    sign_in(browser, url, "lise")
    browser.get(f"{url}/saker/2026-1234")
    assert "unntatt" in cell(browser, "E2/pupil_name").get_attribute("class")
    assert "Institusjon" in cell(browser, "E2/pupil_name").text or "institusjon" in cell(browser, "E2/pupil_name").text
    screenshot(browser, "3-vurdering")
    change(browser, "E2/pupil_name", "Eleven bor hjemme; institusjonen er en avlastning")
    assert flash(browser) == "Verdien gis ut."
    change(browser, "E1/F1/phone", "Foresatt har bedt om hemmelig nummer", rule="hemmelig_telefonnummer")
    assert flash(browser) == "Verdien holdes tilbake."
    assert "unntatt" in cell(browser, "E1/F1/phone").get_attribute("class")
    # ... and releases a value of a graded household: it waits for a second reviewer
    change(browser, "E4/F4/phone", "Nummeret er et sentralbordnummer")
    assert "venter på bekreftelse" in flash(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "button.bekreft")  # not by the one who released it
    click_and_wait(browser, browser.find_element(By.ID, "godkjenn"))
    assert "venter på bekreftelse fra en annen jurist" in flash(browser)

    # a second reviewer confirms the graded release
    sign_in(browser, url, "ola")
    browser.get(f"{url}/saker/2026-1234")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, 'button.bekreft[data-item="E4/F4/phone"]'))
    assert flash(browser) == "Utleveringen er bekreftet."

    # the reviewer approves; the answer is released and shown
    sign_in(browser, url, "lise")
    browser.get(f"{url}/saker/2026-1234")
    click_and_wait(browser, browser.find_element(By.ID, "godkjenn"))
    assert flash(browser) == "Saken er godkjent og svaret er sendt ut.", flash(browser)
    assert browser.find_element(By.ID, "saksstatus").text == "besvart"
    shown = browser.find_element(By.ID, "svaret").text
    assert "Ánte Somby" in shown and "915 00 000" in shown and "912 34 567" not in shown
    screenshot(browser, "4-besvart")

    # the public PDF downloaded from the page passes the leak gate
    browser.find_element(By.ID, "last-ned-svar").click()
    pdf = browser.downloads / "2026-1234-svar.pdf"
    for _ in range(100):
        if pdf.exists() and pdf.stat().st_size > 0:
            break
        time.sleep(0.1)
    with open_db(db, read_only=True) as con:
        items = con.execute("SELECT item_id, value, decision FROM case_items WHERE case_id = '2026-1234'").fetchall()
        events = con.execute("SELECT event, actor FROM case_events WHERE case_id = '2026-1234' ORDER BY event_id"
                             ).fetchall()
    withheld = {item: value for item, value, decision in items if decision == "withhold"}
    released = [value for _, value, decision in items if decision == "release"]
    leak_gate.check_pdf(pdf, withheld, released, namesakes=[v for i, v, d in items if d == "release" and "name" in i])
    text = pdf_text(pdf)
    for name, canary in CANARIES.items():
        assert canary not in text, name
    assert "Ánte" in text and "915 00 000" in text and "912 34 567" not in text
    # who did what is the account's name
    assert ("received", "kari") in events and ("approved", "lise") in events
    assert ("release_confirmed", "ola") in events and ("viewed", "lise") in events

    # a form without its CSRF token is refused, and changes nothing
    before = event_count(db)
    post_without_token(browser, "/saker/2026-1234/endre",
                       {"item": "E3/pupil_name", "decision": "withhold", "reason": "forfalsket", "rule": "spesialundervisning"})
    assert "CSRF" in browser.find_element(By.ID, "avvist").text
    assert event_count(db) == before

    # a signed-out browser sees nothing: every page sends it to the sign-in form
    browser.get(url)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, ".konto button"))
    assert browser.current_url == f"{url}/logg-inn"
    for path in ("/", "/saker/2026-1234", "/saker/2026-1234/svar.pdf", "/saker/2026-1234/intern.pdf", "/rapporter"):
        browser.get(url + path)
        assert browser.current_url == f"{url}/logg-inn", path
        assert "2026-1234" not in browser.page_source and "Somby" not in browser.page_source
    # and the server's log names paths and ids, never a value
    log = (workdir / "desk.log").read_text()
    for value in (*CANARIES.values(), "Somby", "Berit"):
        assert value not in log
