"""The case desk's boundaries, fast: sign-in, lock-out, CSRF, roles, four eyes, headers, URLs.

Starlette's TestClient talks to the real application (`create_app`) over the real DuckDB
file; a case is registered and screened as `innsyn process` would, without a flow run (the
browser test, tests/test_desk_browser.py, goes through the flow).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import shutil
import warnings

with warnings.catch_warnings():  # Starlette suggests httpx2 for its test client; httpx is what is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


from conftest import CANARIES, FIXED_NOW, INNSYN, canary_export, insert_case, write_request
from innsyn import cases
from innsyn.db import init_schema, open_db
from innsyn.desk import accounts
from innsyn.desk.app import DeskSettings, create_app
from innsyn.serve import is_loopback
from innsyn.importer import import_export
from innsyn.policy import load_policy
from innsyn.request import parse_request
from innsyn.screening import screen_case

PASSWORD = "et-langt-testpassord"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """The canary register, four accounts, and case 2026-1234 (5B) registered by kari and
    screened: it waits for review, with graded and no-trace values. Made once; every test
    gets its own copy of the file."""
    folder = tmp_path_factory.mktemp("desk-template")
    db = folder / "innsyn.duckdb"
    with pytest.MonkeyPatch.context() as patch, open_db(db) as con:
        patch.setenv("INNSYN_NOW", FIXED_NOW)
        init_schema(con)
        import_export(con, canary_export(folder / "export"))
        for name, role in (("kari", "handler"), ("lise", "reviewer"), ("ola", "reviewer"), ("sjef", "admin")):
            accounts.add_account(con, name, role, PASSWORD)
        now = datetime.fromisoformat(FIXED_NOW)
        request = write_request(folder / "request.json")
        case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(), registered_by="kari", now=now)
        screen_case(con, case_id, load_policy(), now)
        cases.set_status(con, case_id, "awaiting_review", outcome="delvis_innvilget")
    return db


@pytest.fixture
def workdir(tmp_path: Path, template_db: Path) -> Path:
    shutil.copy(template_db, tmp_path / "innsyn.duckdb")
    return tmp_path


@pytest.fixture
def app(workdir: Path):
    return create_app(DeskSettings(db=workdir / "innsyn.duckdb", out=workdir / "out"))


def client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")


def token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def signed_in(app, name: str) -> TestClient:
    browser = client(app)
    form = browser.get("/logg-inn").text
    answer = browser.post("/logg-inn", data={"csrf": token(form), "name": name, "password": PASSWORD},
                          follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser


def events(workdir: Path, event: str | None = None) -> list[tuple]:
    with open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        return con.execute("SELECT event, actor FROM case_events WHERE event = coalesce(?, event) ORDER BY event_id",
                           [event]).fetchall()


def every_value(workdir: Path) -> list[str]:
    with open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        values = [v for (v,) in con.execute("SELECT value FROM case_items").fetchall()]
        values += [v for (v,) in con.execute("SELECT requester_name FROM cases").fetchall()]
    return values


# ----------------------------------------------------------------------------- signed out


@pytest.mark.parametrize("path", ["/", "/saker/2026-1234", "/saker/2026-1234/svar.pdf", "/saker/2026-1234/intern.pdf",
                                  "/saker/2026-1234/sladdelogg.csv", "/saker/ny", "/rapporter", "/saker/finnes-ikke"])
def test_a_signed_out_browser_is_sent_to_sign_in_and_sees_nothing(app, path):
    answer = client(app).get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/logg-inn"
    assert answer.text == ""


def test_a_signed_out_post_is_refused(app, workdir):
    browser = client(app)
    form = browser.get("/logg-inn").text  # a session with a token, but nobody signed in
    answer = browser.post("/saker/2026-1234/godkjenn", data={"csrf": token(form)})
    assert answer.status_code == 403
    assert events(workdir, "approved") == []


def test_a_cookie_copied_before_sign_out_is_worth_nothing_after(app):
    browser = signed_in(app, "lise")
    copied = browser.cookies.get("innsyn_desk")
    thief = client(app)
    thief.cookies.set("innsyn_desk", copied)
    assert thief.get("/", follow_redirects=False).status_code == 200  # a copied live cookie works ...
    browser.post("/logg-ut", data={"csrf": token(browser.get("/").text)})
    assert thief.get("/", follow_redirects=False).headers["location"] == "/logg-inn"  # ... until sign-out


def test_a_forged_session_cookie_is_no_session(app):
    browser = client(app)
    browser.cookies.set("innsyn_desk", "eyJzaWQiOiAieCJ9.forged.signature")
    assert browser.get("/", follow_redirects=False).headers["location"] == "/logg-inn"


# ----------------------------------------------------------------------------- sign-in and lock-out


def test_wrong_password_and_unknown_name_get_the_same_answer(app):
    browser = client(app)
    form = token(browser.get("/logg-inn").text)
    wrong = browser.post("/logg-inn", data={"csrf": form, "name": "lise", "password": "feil-passord-123"})
    unknown = browser.post("/logg-inn", data={"csrf": form, "name": "nobody", "password": "feil-passord-123"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Feil brukernavn eller passord." in wrong.text and "Feil brukernavn eller passord." in unknown.text


def test_five_failures_lock_the_account_even_against_the_right_password(app, workdir):
    browser = client(app)
    form = token(browser.get("/logg-inn").text)
    for attempt in range(accounts.MAX_FAILURES):
        answer = browser.post("/logg-inn", data={"csrf": form, "name": "lise", "password": f"gjetning-{attempt:04d}"})
        assert answer.status_code == 401
    assert "sperret" in answer.text
    right = browser.post("/logg-inn", data={"csrf": form, "name": "lise", "password": PASSWORD}, follow_redirects=False)
    assert right.status_code == 401 and "sperret" in right.text
    # when the lock has run out, the right password works again and the count starts afresh
    with open_db(workdir / "innsyn.duckdb") as con:
        con.execute("UPDATE desk_accounts SET locked_until = ? WHERE name = 'lise'",
                    [datetime.now(timezone.utc) - timedelta(seconds=1)])
    right = browser.post("/logg-inn", data={"csrf": form, "name": "lise", "password": PASSWORD}, follow_redirects=False)
    assert right.status_code == 303
    with open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        assert con.execute("SELECT failed_logins, locked_until FROM desk_accounts WHERE name = 'lise'").fetchone() == (0, None)


def test_passwords_are_stored_as_argon2id_hashes_only(workdir):
    with open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        hashes = [h for (h,) in con.execute("SELECT password_hash FROM desk_accounts").fetchall()]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_signing_in_gives_a_new_session_and_token(app):
    browser = client(app)
    before = token(browser.get("/logg-inn").text)
    browser.post("/logg-inn", data={"csrf": before, "name": "lise", "password": PASSWORD})
    after = token(browser.get("/").text)
    assert after != before


# ----------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("given", [None, "", "not-the-token"])
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(app, workdir, given):
    browser = signed_in(app, "lise")
    before = events(workdir)
    data = {"item": "E3/pupil_name", "decision": "withhold", "reason": "forfalsket", "rule": "spesialundervisning"}
    if given is not None:
        data["csrf"] = given
    answer = browser.post("/saker/2026-1234/endre", data=data)
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert events(workdir) == before


def test_sign_in_without_csrf_token_is_refused(app):
    answer = client(app).post("/logg-inn", data={"name": "lise", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403


# ----------------------------------------------------------------------------- roles and four eyes


def test_a_handler_sees_no_values_and_may_not_review(app, workdir):
    browser = signed_in(app, "kari")
    page = browser.get("/saker/2026-1234").text
    assert 'id="rutenett"' not in page and CANARIES["fortrolig pupil"] not in page
    csrf = token(page)
    for action in ("endre", "bekreft", "godkjenn"):
        answer = browser.post(f"/saker/2026-1234/{action}", data={"csrf": csrf, "item": "E1/F1/phone",
                                                                   "decision": "withhold", "reason": "x"})
        assert answer.status_code == 403 and "Bare jurister" in answer.text
    assert browser.get("/saker/2026-1234/intern.pdf").status_code == 403
    assert events(workdir, "overridden") == [] and events(workdir, "approved") == []


def test_the_account_that_registered_a_case_cannot_approve_it_whatever_its_role(app, workdir):
    with open_db(workdir / "innsyn.duckdb") as con:  # the admin registers a case
        request = write_request(workdir / "other.json", request_id="2026/77")
        case_id, _ = cases.register_case(con, parse_request(request), request.read_bytes(), registered_by="sjef",
                                         now=datetime.fromisoformat(FIXED_NOW))
        screen_case(con, case_id, load_policy(), datetime.fromisoformat(FIXED_NOW))
        cases.set_status(con, case_id, "awaiting_review")
    browser = signed_in(app, "sjef")
    page = browser.get(f"/saker/{case_id}").text
    assert "Du registrerte saken" in page
    answer = browser.post(f"/saker/{case_id}/godkjenn", data={"csrf": token(page)})
    assert "Fire øyne" in answer.text
    answer = browser.post(f"/saker/{case_id}/endre", data={"csrf": token(page), "item": "E3/pupil_name",
                                                           "decision": "withhold", "reason": "test", "rule": "spesialundervisning"})
    assert "Fire øyne" in answer.text
    with open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        assert cases.find_case(con, case_id).status == "awaiting_review"
    assert ("approved", "sjef") not in events(workdir) and ("overridden", "sjef") not in events(workdir)


def test_a_change_needs_a_reason(app, workdir):
    browser = signed_in(app, "lise")
    page = browser.get("/saker/2026-1234").text
    answer = browser.post("/saker/2026-1234/endre", data={"csrf": token(page), "item": "E1/F1/phone",
                                                          "decision": "withhold", "reason": "  ", "rule": "hemmelig_telefonnummer"})
    assert "begrunnelse" in answer.text
    assert events(workdir, "overridden") == []


def test_every_view_of_a_case_with_graded_values_is_an_event(app, workdir):
    browser = signed_in(app, "lise")
    assert browser.get("/saker/2026-1234").status_code == 200
    assert browser.get("/saker/2026-1234").status_code == 200
    assert events(workdir, "viewed") == [("viewed", "lise"), ("viewed", "lise")]


# ----------------------------------------------------------------------------- registering


def test_the_register_form_shows_each_error_next_to_its_field_and_writes_nothing(app, workdir):
    browser = signed_in(app, "kari")
    page = browser.get("/saker/ny?skole=S001").text
    assert 'value="5B"' in page and 'value="Forsterket avdeling"' in page
    before = events(workdir)
    answer = browser.post("/saker/ny", data={
        "csrf": token(page), "school": "S001", "kind": "journalist", "name": "", "email": "",
        "received_date": "2027-01-05", "received_time": "09:00", "request_id": "../x"})
    assert answer.status_code == 400
    for field, words in (("name", "Oppgi navnet"), ("received", "fremtiden"), ("request_id", "Saksnummeret"),
                         ("classes", "minst én klasse")):
        assert re.search(rf'id="feil-{field}">[^<]*{words}', answer.text), field
    answer = browser.post("/saker/ny", data={
        "csrf": token(page), "school": "S001", "classes": ["9Z"], "kind": "anonymous",
        "received_date": "2026-11-24", "received_time": "09:00"})
    assert answer.status_code == 400 and 'id="feil-classes"' in answer.text
    answer = browser.post("/saker/ny", data={
        "csrf": token(page), "school": "S001", "classes": ["5B"], "kind": "anonymous", "request_id": "2026/1234",
        "received_date": "2026-11-24", "received_time": "09:00"})
    assert answer.status_code == 400 and "allerede brukt" in answer.text
    assert events(workdir) == before


def test_a_bulk_case_shows_how_many_schools_are_rendered(app, workdir):
    with open_db(workdir / "innsyn.duckdb") as con:
        insert_case(con, "2026-9", "2026-11-23T09:00:00+01:00", status="screened", school_id="all")
        con.execute("""INSERT INTO case_classes VALUES ('2026-9', 'S001-5B', 'S001', 'Sagene skole', '5B', 5),
                       ('2026-9', 'S002-1A', 'S002', 'Tøyen skole', '1A', 1)""")
    staged = workdir / "out" / ".staging" / "2026-9" / "0123456789abcdef" / "public"
    staged.mkdir(parents=True)
    (staged / "S001.pdf").write_bytes(b"%PDF-")
    (staged / "_front.pdf").write_bytes(b"%PDF-")  # the letter is no school
    page = signed_in(app, "kari").get("/saker/2026-9").text
    assert re.search(r'id="fremdrift">.*<b>1 av 2</b> skoler ferdige', page)
    assert '<meta http-equiv="refresh" content="10">' in page


def test_markup_a_requester_typed_is_shown_as_text(app, workdir):
    with open_db(workdir / "innsyn.duckdb") as con:
        insert_case(con, "2026-10", "2026-11-23T09:00:00+01:00", status="screened",
                    requester='<script>alert(1)</script><img src=x onerror=alert(2)>', organisation="{{ 7*7 }}")
    page = signed_in(app, "lise").get("/saker/2026-10").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "{{ 7*7 }}" in page


@pytest.mark.parametrize("path", ["/saker/%2e%2e/svar.pdf", "/saker/..%2f..%2fetc%2fpasswd/svar.pdf",
                                  "/saker/2026-1234%00/intern.pdf", "/static/..%2f..%2fsql%2fschema.sql",
                                  "/rapporter/2026-01-01/../../etc/rapport.pdf"])
def test_a_path_that_names_no_case_finds_nothing(app, path):
    answer = signed_in(app, "lise").get(path)
    assert answer.status_code == 404 and "CREATE TABLE" not in answer.text and "root:" not in answer.text


# ----------------------------------------------------------------------------- headers and URLs


def test_every_response_forbids_caching_framing_and_foreign_content(app):
    browser = signed_in(app, "lise")
    for path in ("/logg-inn", "/", "/saker/2026-1234", "/saker/ny?skole=S001", "/rapporter", "/static/desk.css",
                 "/saker/finnes-ikke"):
        headers = browser.get(path).headers
        assert headers["cache-control"] == "no-store", path
        assert "default-src 'none'" in headers["content-security-policy"] and "script-src" not in headers[
            "content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_the_session_cookie_is_httponly_and_same_site_strict(app):
    browser = client(app)
    cookie = browser.get("/logg-inn").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_secure_cookies_behind_tls(workdir):
    app = create_app(DeskSettings(db=workdir / "innsyn.duckdb", out=workdir / "out", secure_cookies=True))
    assert "secure" in client(app).get("/logg-inn").headers["set-cookie"].lower()


def test_no_link_or_form_carries_personal_data(app, workdir):
    browser = signed_in(app, "lise")
    values = [v for v in every_value(workdir) if len(v) > 3]
    pages = [browser.get(path).text for path in ("/", "/saker/2026-1234", "/saker/ny?skole=S001")]
    targets = [t for page in pages for t in re.findall(r'(?:href|action|src)="([^"]*)"', page)]
    assert targets
    for target in targets:
        assert all(value not in target for value in values), target
        assert re.fullmatch(r"[/A-Za-z0-9._?=&#-]*", target), target


def test_the_access_log_names_paths_and_statuses_only(app, caplog):
    browser = signed_in(app, "lise")
    with caplog.at_level(logging.INFO, logger="innsyn.desk.access"):
        browser.get("/saker/2026-1234")
        browser.get("/?status=awaiting_review&skole=S001")
    lines = [r.getMessage() for r in caplog.records if r.name == "innsyn.desk.access"]
    assert lines == ["GET /saker/2026-1234 200", "GET / 200"]


# ----------------------------------------------------------------------------- the CLI


def test_users_add_and_list_from_the_cli(workdir):
    env = {"INNSYN_DB": str(workdir / "innsyn.duckdb"), "PATH": "/usr/bin:/bin", "INNSYN_NOW": FIXED_NOW}
    added = subprocess.run([INNSYN, "users", "add", "per.hansen", "--role", "reviewer"], input=PASSWORD + "\n",
                           capture_output=True, text=True, env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["account"] == {"name": "per.hansen", "role": "reviewer"}
    listed = json.loads(subprocess.run([INNSYN, "users", "list"], capture_output=True, text=True, env=env).stdout)
    assert {"per.hansen", "lise"} <= {a["name"] for a in listed["accounts"]}
    for args, stdin, words in ((["per.hansen", "--role", "reviewer"], PASSWORD, "exists already"),
                               (["PER.HANSEN", "--role", "handler"], PASSWORD, "exists already"),
                               (["nils", "--role", "handler"], "kort", "at least 10"),
                               (["nils", "--role", "boss"], PASSWORD, "invalid choice"),
                               (["ni ls", "--role", "handler"], PASSWORD, "account name")):
        refused = subprocess.run([INNSYN, "users", "add", *args], input=stdin + "\n", capture_output=True, text=True, env=env)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and words in refused.stderr


def test_the_desk_refuses_a_bad_port_and_a_missing_database(tmp_path):
    env = {"INNSYN_DB": str(tmp_path / "none.duckdb"), "PATH": "/usr/bin:/bin"}
    missing = subprocess.run([INNSYN, "desk"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "no database" in missing.stderr


def test_only_loopback_counts_as_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.org")


def test_flags_and_consent_states_are_worded_in_norwegian():
    from innsyn.desk import wording

    for code in ("consent_conflicts:3", "indirect_identification:S001-5B"):
        text = wording.flag_text(code)
        assert code.split(":")[0] not in text
        assert text.startswith(("Samtykkekonflikt", "Fare for indirekte identifisering"))
    assert wording.consent_state_text("consent_not_sufficient") == "samtykke ikke tilstrekkelig"


def test_demo_accounts_only_in_a_database_innsyn_demo_made(workdir, tmp_path, capsys):
    from innsyn import commands
    from innsyn.desk.commands import DEMO_ACCOUNTS, DEMO_PASSWORD

    db = workdir / "innsyn.duckdb"  # made by hand, as a real register is
    commands._demo_desk_accounts(db, created=False)
    with open_db(db, read_only=True) as con:
        assert accounts.find_account(con, "saksbehandler") is None
    assert "no demo accounts added" in capsys.readouterr().err
    commands._demo_desk_accounts(db, created=True)  # as if `innsyn demo` had just made it
    commands._demo_desk_accounts(db, created=False)  # a second `innsyn demo` finds its marker: idempotent
    with open_db(db) as con:
        for name, role in DEMO_ACCOUNTS:
            assert accounts.sign_in(con, name, DEMO_PASSWORD).role == role
