"""The desk's pages and actions.

Pages are addressed by case id (and forms carry item ids): nothing personal in a URL. Every
action calls what the `innsyn` command calls (`innsyn.commands`), with the signed-in
account's name as the actor, so four eyes, second reviewers, rescreening before approval
and the leak gate hold exactly as on the command line.

DuckDB lets one process hold a file open one way at a time, and the domain functions open
and close it as they go: every piece of work that touches the database runs in a worker
thread under one lock (`_DESK_LOCK`), so two browser tabs queue instead of colliding.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from innsyn import cases, clock, commands, deadlines, review
from innsyn.db import open_db, transaction
from innsyn.desk import accounts, security, wording
from innsyn.desk.accounts import Account
from innsyn.request import BadInput, InnsynRequest, case_id_for
from innsyn.resources import TEMPLATES_DIR

_DESK_LOCK = threading.RLock()
CASE_ID = "{case_id:str}"
#: A bulk case's review grid shows in full only the classes with remarks (sql/case_classes_with_remarks.sql).
BULK_CLASSES = 12


class Forbidden(Exception):
    """The account's role does not allow this: a 403 page in Norwegian."""


# ----------------------------------------------------------------------------- plumbing


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "desk"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(dato=wording.norsk_dato, kort_dato=wording.kort_dato, tidspunkt=wording.tidspunkt,
                       flagg=wording.flag_text, samtykke=wording.consent_state_text,
                       regel=wording.rule_text, hjemmel=wording.short_basis)
    env.globals.update(STATUS=wording.STATUS, OUTCOME=wording.OUTCOME, DEADLINE_STATE=wording.DEADLINE_STATE,
                       REQUESTER_KIND=wording.REQUESTER_KIND, ROLE=wording.ROLE, FIELD=wording.FIELD,
                       EVENT=wording.EVENT, same_actor=cases.same_actor)
    return env


def _page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    account = getattr(request.state, "account", None)
    html = _templates().get_template(template).render(
        account=account, csrf=security.csrf_token(request), flash=request.session.pop("flash", None),
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)


def _settings(request: Request):
    return request.app.state.settings


async def _locked(function, *args, **kwargs):
    """Run database work in a worker thread, one piece at a time."""
    def work():
        with _DESK_LOCK:
            return function(*args, **kwargs)
    return await run_in_threadpool(work)


def _current_account(request: Request) -> Account | None:
    session_id = request.session.get("sid")
    if not session_id:
        return None
    with open_db(_settings(request).db, read_only=True) as con:
        return accounts.session_account(con, session_id)


def page_view(role: str | None = None, *, post: bool = False):
    """An endpoint for signed-in accounts (of `role`, when given: 'reviewer' admits admins too).

    A signed-out browser is sent to the sign-in page and sees nothing; a POST without the
    session's CSRF token is refused before anything else happens."""
    def decorate(handler):
        async def endpoint(request: Request) -> Response:
            form = await request.form() if post else None
            if post and not security.csrf_ok(request, form):
                return _refused(request, "Skjemaet manglet et gyldig sikkerhetsmerke (CSRF). Last siden på nytt "
                                         "og prøv igjen.", status_code=403)
            account = await _locked(_current_account, request)
            if account is None:
                request.session.pop("sid", None)
                if post:
                    return _refused(request, "Du er ikke logget inn.", status_code=403)
                return RedirectResponse("/logg-inn", status_code=303)
            request.state.account = account
            if role == "reviewer" and not account.may_review():
                return _refused(request, "Bare jurister kan gjøre dette.", status_code=403)
            if role == "admin" and account.role != "admin":
                return _refused(request, "Bare administratorer kan gjøre dette.", status_code=403)
            try:
                return await (handler(request, account, form) if post else handler(request, account))
            except Forbidden as refused:
                return _refused(request, str(refused), status_code=403)
            except HTTPException:
                raise
            except Exception as error:  # noqa: BLE001 - a failure's text may quote a value: its type only
                return _failed_page(request, error)
        return endpoint
    return decorate


def _refused(request: Request, message: str, *, status_code: int) -> HTMLResponse:
    heading = {404: "Finnes ikke", 500: "Noe gikk galt"}.get(status_code, "Ikke tillatt")
    return _page(request, "avvist.html", status_code=status_code, message=message, heading=heading)


def _back_to_case(request: Request, case_id: str, message: str | None = None, *, anchor: str = "") -> Response:
    if message:
        request.session["flash"] = message
    return RedirectResponse(f"/saker/{case_id}{anchor}", status_code=303)


def refusal_text(error: BadInput) -> str:
    """A refusal from the domain, for staff: the known ones in Norwegian, any other as it is."""
    text = str(error)
    if text.startswith("four eyes") and "registered case" in text:
        return "Fire øyne: du registrerte denne saken og kan ikke også endre eller godkjenne den."
    if text.startswith("four eyes") and "released" in text:
        return "Fire øyne: du ga selv ut denne verdien; en annen jurist må bekrefte den."
    if "wait for a second reviewer" in text:
        return ("Godkjenning avvist: en utlevering av en verdi med gradert adresse eller uten spor venter "
                "på bekreftelse fra en annen jurist.")
    if "the register changed since it was screened" in text:
        return ("Godkjenning avvist: registeret er endret siden saken ble kontrollert. Saken er kontrollert "
                "på nytt og venter på ny vurdering.")
    if text.startswith("--reason"):
        return "Oppgi en begrunnelse."
    if "name the policy rule" in text:
        return "Velg regelen med hjemmelen som gjelder når du holder tilbake en verdi."
    if "not awaiting review" in text:
        return "Saken venter ikke på juridisk vurdering."
    return f"Avvist: {text}"


# ----------------------------------------------------------------------------- sign-in


async def sign_in_page(request: Request) -> Response:
    if await _locked(_current_account, request):
        return RedirectResponse("/", status_code=303)
    return _page(request, "logg_inn.html", error=None, name="")


async def sign_in(request: Request) -> Response:
    form = await request.form()
    if not security.csrf_ok(request, form):
        return _refused(request, "Skjemaet manglet et gyldig sikkerhetsmerke (CSRF). Last siden på nytt og prøv igjen.",
                        status_code=403)
    name, password = str(form.get("name", "")), str(form.get("password", ""))

    def check() -> str:
        with open_db(_settings(request).db) as con:
            return accounts.open_session(con, accounts.sign_in(con, name, password))
    try:
        session_id = await _locked(check)
    except accounts.SignInRefused as refused:
        return _page(request, "logg_inn.html", status_code=401, error=str(refused), name=name)
    request.session.clear()  # a new session on sign-in: a token planted before it is worth nothing
    request.session["sid"] = session_id
    request.session[security.CSRF_FIELD] = secrets.token_urlsafe(32)
    return RedirectResponse("/", status_code=303)


@page_view(post=True)
async def sign_out(request: Request, account: Account, form) -> Response:
    def close() -> None:
        with open_db(_settings(request).db) as con:
            accounts.close_session(con, request.session["sid"])
    await _locked(close)
    request.session.clear()
    return RedirectResponse("/logg-inn", status_code=303)


# ----------------------------------------------------------------------------- case list


@page_view()
async def case_list(request: Request, account: Account) -> Response:
    status = request.query_params.get("status") or ""
    school = request.query_params.get("skole") or ""
    settings = _settings(request)

    def read():
        target = deadlines.target_working_days(settings.target_days)
        with open_db(settings.db, read_only=True) as con:
            rows = deadlines.case_deadlines(con, on=deadlines.today(), target_days=target)
            extra = {case_id: (school_id, registered_by) for case_id, school_id, registered_by in con.execute(
                "SELECT case_id, scope_school_id, registered_by FROM cases").fetchall()}
            # who holds an open case: the reviewer who last acted on it (else, by status, the
            # registrant or nobody yet)
            holders = dict(con.execute(
                """SELECT case_id, arg_max(actor, event_id) FROM case_events
                   WHERE event IN ('overridden', 'release_confirmed', 'approved') GROUP BY case_id""").fetchall())
            schools = dict(con.execute("SELECT school_id, name FROM schools ORDER BY name").fetchall())
        return target, rows, extra, holders, schools
    target, rows, extra, holders, schools = await _locked(read)
    past_limit = sum(1 for row in rows if row.is_open and row.deadline_state == "past_limit")
    overdue = sum(1 for row in rows if row.overdue)
    listed = [row for row in rows
              if (not status or row.status == status) and (not school or extra.get(row.case_id, ("",))[0] == school)]
    return _page(request, "saker.html", rows=listed, extra=extra, holders=holders, schools=schools,
                 status=status, school=school, past_limit=past_limit, overdue=overdue, total=len(rows),
                 target=target, limit=deadlines.STATUTORY_WORKING_DAYS)


# ----------------------------------------------------------------------------- register a request

FIELD_OF = {("request_id",): "request_id", ("received_at",): "received", ("requester", "name"): "name",
            ("requester", "email"): "email", ("requester", "kind"): "kind",
            ("requester", "organisation"): "organisation", ("requester", "reference"): "reference",
            ("scope", "school_id"): "school", ("scope", "classes"): "classes", ("scope",): "classes",
            ("requester",): "name"}


def _field_message(error: dict) -> str:
    kind, message = error.get("type", ""), str(error.get("msg", ""))
    if kind == "missing":
        return "Må fylles ut."
    if kind == "string_too_long":
        return "For lang tekst."
    if kind in ("literal_error", "enum"):
        return "Velg en av verdiene i listen."
    if "in the future" in message:
        return "Tidspunktet ligger i fremtiden."
    if "is before" in message:
        return "Tidspunktet ligger før 1. januar 2000."
    if "must be 1-64" in message:
        return "Saksnummeret kan ha 1–64 bokstaver, sifre, mellomrom og _ - . / (ikke .. eller //)."
    if "class names" in message or kind == "too_short":
        return "Velg minst én klasse, eller alle."
    return message.removeprefix("Value error, ")


def _form_values(form) -> dict[str, Any]:
    return {"request_id": str(form.get("request_id", "")).strip(), "name": str(form.get("name", "")),
            "email": str(form.get("email", "")), "kind": str(form.get("kind", "journalist")),
            "organisation": str(form.get("organisation", "")), "reference": str(form.get("reference", "")),
            "school": str(form.get("school", "")), "classes": [str(c) for c in form.getlist("classes")],
            "received_date": str(form.get("received_date", "")), "received_time": str(form.get("received_time", ""))}


def request_from_form(values: dict[str, Any]) -> tuple[dict | None, dict[str, str]]:
    """The request as the JSON file a case handler would write, or the errors by form field."""
    errors: dict[str, str] = {}
    try:
        received = datetime.fromisoformat(f"{values['received_date']}T{values['received_time'] or '00:00'}")
        received = received.replace(tzinfo=clock.OSLO)
    except ValueError:
        errors["received"] = "Oppgi dato og klokkeslett for når kravet kom inn."
        received = None
    classes: str | list[str] = "all" if "__all__" in values["classes"] else values["classes"]
    request = {
        "request_id": values["request_id"] or None,
        "received_at": received.isoformat() if received else None,
        "requester": {"name": values["name"], "email": values["email"] or None, "kind": values["kind"],
                      "organisation": values["organisation"] or None, "reference": values["reference"] or None},
        "scope": {"school_id": values["school"], "classes": classes},
    }
    if values["kind"] != "anonymous" and not values["name"].strip():
        errors.setdefault("name", "Oppgi navnet, eller velg «anonym».")
    if not values["school"]:
        errors.setdefault("school", "Velg en skole.")
    try:
        parsed = InnsynRequest.model_validate(request)
    except ValidationError as invalid:
        for error in invalid.errors():
            loc = tuple(str(part) for part in error["loc"])
            field = next((FIELD_OF[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in FIELD_OF), "form")
            errors.setdefault(field, _field_message(error))
        return None, errors
    if errors:
        return None, errors
    return json.loads(parsed.model_dump_json(exclude_none=True)), errors


def _register_choices(settings, school: str) -> tuple[dict[str, str], list[str]]:
    with open_db(settings.db, read_only=True) as con:
        schools = dict(con.execute("SELECT school_id, name FROM schools ORDER BY name").fetchall())
        names = [name for (name,) in con.execute(
            "SELECT name FROM classes WHERE school_id = ? ORDER BY grade, name", [school]).fetchall()]
    return schools, names


@page_view()
async def register_page(request: Request, account: Account) -> Response:
    settings = _settings(request)
    now = clock.now()
    values = {"request_id": "", "name": "", "email": "", "kind": "journalist", "organisation": "",
              "reference": "", "school": request.query_params.get("skole", ""), "classes": [],
              "received_date": now.date().isoformat(), "received_time": f"{now:%H:%M}"}
    schools, class_names = await _locked(_register_choices, settings, values["school"])
    return _page(request, "ny_sak.html", values=values, errors={}, schools=schools, class_names=class_names)


@page_view(post=True)
async def register(request: Request, account: Account, form) -> Response:
    """Register and process a request, as `innsyn process` does, in the account's name."""
    settings = _settings(request)
    values = _form_values(form)
    request_json, errors = request_from_form(values)

    def work() -> dict[str, str] | str:
        if request_json is not None:
            found = _scope_errors(settings, request_json)
            if found:
                return found
            try:
                return _process(settings, request_json, account.name)
            except (BadInput, *commands.USER_ERRORS, commands.SERVICE_ERRORS) as refused:
                return {"form": refusal_text(refused)}  # what `innsyn process` would refuse, in one line
        return errors
    outcome = await _locked(work) if request_json is not None else errors
    if isinstance(outcome, str):
        return _back_to_case(request, outcome, "Kravet er registrert og behandlet.")
    schools, class_names = await _locked(_register_choices, settings, values["school"])
    return _page(request, "ny_sak.html", status_code=400, values=values, errors=outcome, schools=schools,
                 class_names=class_names)


def _scope_errors(settings, request_json: dict) -> dict[str, str]:
    """What the CLI would refuse about the request's scope and number, by form field."""
    request = InnsynRequest.model_validate(request_json)
    with open_db(settings.db, read_only=True) as con:
        try:
            cases.resolve_scope(con, request)
        except BadInput as bad:
            field = "school" if "school_id" in str(bad) and "unknown school" in str(bad) else "classes"
            return {field: "Skolen finnes ikke i registeret." if field == "school"
                    else "Klassen finnes ikke ved skolen, eller skolen har ingen klasser."}
        if request.request_id:
            if cases.request_with_case_number(con, request.request_id) is not None or con.execute(
                    "SELECT 1 FROM cases WHERE case_id = ?", [case_id_for(request.request_id)]).fetchone():
                return {"request_id": "Saksnummeret er allerede brukt."}
    return {}


def _process(settings, request_json: dict, actor: str) -> str:
    """The request written as the file `innsyn process` reads (owner-only, removed after), and
    processed by the same code path; the case id."""
    from innsyn.files import atomic_write_bytes

    folder = Path(settings.out) / ".desk-requests"
    path = folder / f"{secrets.token_hex(8)}.json"
    atomic_write_bytes(path, json.dumps(request_json, ensure_ascii=False).encode(), private=True)
    try:
        result = commands.process(path, Path(settings.db), Path(settings.out), settings.policy, actor=actor)
    finally:
        path.unlink(missing_ok=True)
    return result["case_id"]


# ----------------------------------------------------------------------------- the case page


def _case_page_data(settings, case_id: str, account: Account) -> dict | None:
    from innsyn.case_documents import CasePaths, build_answer, public_answer
    from innsyn.policy import graded_rules, load_policy

    policy = load_policy(settings.policy)
    with open_db(settings.db, read_only=True) as con:
        row = con.execute(
            """SELECT case_id, request_id, status, outcome, registered_by, received_at, registered_at,
                      requester_name, requester_email, requester_kind, requester_org, requester_reference,
                      scope_school_id, scope_classes, policy_name, policy_version, decided_at, released_at
               FROM cases WHERE case_id = ?""", [case_id]).fetchone()
        if row is None:
            return None
        case = dict(zip(["case_id", "request_id", "status", "outcome", "registered_by", "received_at",
                         "registered_at", "requester_name", "requester_email", "requester_kind", "requester_org",
                         "requester_reference", "scope_school_id", "scope_classes", "policy_name", "policy_version",
                         "decided_at", "released_at"], row))
        case["scope_classes"] = json.loads(case["scope_classes"])
        events = [dict(zip(["event", "actor", "occurred_at", "policy_version", "reason", "detail"], e)) for e in
                  con.execute("""SELECT event, actor, occurred_at, policy_version, reason, detail FROM case_events
                                 WHERE case_id = ? ORDER BY event_id""", [case_id]).fetchall()]
        for event in events:
            event["detail"] = json.loads(event["detail"]) if event["detail"] else {}
        deadline = next((d for d in deadlines.case_deadlines(
            con, on=deadlines.today(), target_days=deadlines.target_working_days(settings.target_days))
            if d.case_id == case_id), None)
        classes = con.execute("SELECT school_id, school_name, class_name FROM case_classes WHERE case_id = ? "
                              "ORDER BY school_name, class_name", [case_id]).fetchall()
        graded = graded_rules(policy)
        (sensitive,) = con.execute(
            "SELECT count(*) FROM case_items WHERE case_id = ? AND (no_trace OR list_contains(?, rule))",
            [case_id, sorted(graded)]).fetchone()
        data: dict[str, Any] = {"case": case, "events": events, "deadline": deadline, "classes": classes,
                                "sensitive": sensitive > 0, "answer": None, "public": None, "rest": {},
                                "pending": {}, "rules": policy.rules, "bulk": False}
        reviewing = case["status"] in ("awaiting_review", "approved")
        if account.may_review() and reviewing:
            data.update(_review_grid(con, case_id, policy, classes))
            data["pending"] = review.pending_second_reviews(con, case_id)
        if case["status"] == "released":
            answer = build_answer(con, case_id, policy)
            data["public"] = public_answer(answer)
    paths = CasePaths.under(Path(settings.out), case_id)
    data["progress"] = _render_progress(paths.staging_dir, classes, case["status"])
    data["files"] = {"public": paths.public_pdf.is_file(), "review": paths.review_pdf.is_file(),
                     "log": paths.redaction_log.is_file()}
    return data


def _render_progress(staging: Path, classes: list[tuple], status: str) -> dict | None:
    """How many schools' parts of a bulk case are rendered (render_answer stages one public
    part per school under the decisions' hash): the desk shows it while the case is worked on."""
    schools = {school_id for school_id, _, _ in classes}
    if len(schools) < 2 or status == "released" or not staging.is_dir():
        return None
    done = max((len({part.stem for part in folder.glob("public/*.pdf")} & schools)
                for folder in staging.iterdir() if folder.is_dir()), default=0)
    return {"done": done, "total": len(schools), "working": status in ("received", "screened", "approved")}


def _review_grid(con, case_id: str, policy, classes: list[tuple]) -> dict:
    """Every class list with every consented value (a bulk case: only those with remarks, and
    the rest named by school), with glyph flags."""
    from innsyn.case_documents import build_answer, classes_with_remarks
    from innsyn.render import with_font_flags

    if len(classes) <= BULK_CLASSES:
        return {"answer": with_font_flags(build_answer(con, case_id, policy)), "bulk": False}
    remarks = classes_with_remarks(con, case_id)
    front = build_answer(con, case_id, policy, rows=False)
    lists = []
    for school_id in sorted(set(remarks.values())):
        part = build_answer(con, case_id, policy, school_id=school_id)
        lists.extend(c for c in part.classes if c.class_id in remarks)
    from dataclasses import replace

    answer = with_font_flags(replace(front, classes=tuple(lists)))
    rest: dict[str, list[str]] = defaultdict(list)
    for class_list in front.classes:
        if class_list.class_id not in remarks:
            rest[class_list.school_name].append(class_list.class_name)
    return {"answer": answer, "bulk": True, "rest": dict(sorted(rest.items()))}


def _record_view(settings, case_id: str, account: Account, what: str) -> None:
    """Who looked at a case with graded or no-trace values, and when: an event."""
    with open_db(settings.db) as con, transaction(con):
        cases.record_event(con, case_id, "viewed", account.name, clock.now(), detail={"page": what})


@page_view()
async def case_page(request: Request, account: Account) -> Response:
    settings = _settings(request)
    case_id = request.path_params["case_id"]

    def read():
        data = _case_page_data(settings, case_id, account)
        if data is not None and data["sensitive"]:
            _record_view(settings, case_id, account, "case")
        return data
    data = await _locked(read)
    if data is None:
        raise HTTPException(404)
    return _page(request, "sak.html", **data)


# ----------------------------------------------------------------------------- review actions


def _namespace(settings, case_id: str, **fields) -> argparse.Namespace:
    return argparse.Namespace(case_id=case_id, policy=settings.policy, **fields)


@page_view("reviewer", post=True)
async def change_item(request: Request, account: Account, form) -> Response:
    """Release or withhold one value, with a reason: `innsyn review release|withhold`."""
    settings = _settings(request)
    case_id = request.path_params["case_id"]
    decision = str(form.get("decision", ""))
    item = str(form.get("item", ""))
    reason = str(form.get("reason", "")).strip()
    rule = str(form.get("rule", "")) or None
    if decision not in ("release", "withhold") or not item:
        return _back_to_case(request, case_id, "Velg en verdi og om den skal gis ut eller holdes tilbake.")
    if not reason:
        return _back_to_case(request, case_id, "Oppgi en begrunnelse for endringen.", anchor="#rutenett")
    args = _namespace(settings, case_id, items=[item], review_command=decision, reviewer=account.name,
                      reason=reason, rule=rule if decision == "withhold" else None)
    try:
        result = await _locked(commands.review_change, args, Path(settings.db), Path(settings.out))
    except BadInput as refused:
        return _back_to_case(request, case_id, refusal_text(refused), anchor="#rutenett")
    message = "Verdien gis ut." if decision == "release" else "Verdien holdes tilbake."
    if item in result.get("awaiting_second_reviewer", []):
        message = "Utleveringen er registrert og venter på bekreftelse fra en annen jurist."
    return _back_to_case(request, case_id, message, anchor="#rutenett")


@page_view("reviewer", post=True)
async def confirm_item(request: Request, account: Account, form) -> Response:
    """Confirm, as the second reviewer, a colleague's release: `innsyn review confirm`."""
    settings = _settings(request)
    case_id = request.path_params["case_id"]
    items = [str(item) for item in form.getlist("item")]
    if not items:
        return _back_to_case(request, case_id, "Velg en utlevering å bekrefte.")
    args = _namespace(settings, case_id, items=items, reviewer=account.name,
                      reason=str(form.get("reason", "")).strip() or None)
    try:
        await _locked(commands.review_confirm, args, Path(settings.db), Path(settings.out))
    except BadInput as refused:
        return _back_to_case(request, case_id, refusal_text(refused))
    return _back_to_case(request, case_id, "Utleveringen er bekreftet.")


@page_view("reviewer", post=True)
async def approve(request: Request, account: Account, form) -> Response:
    """Approve and release: `innsyn review approve` (rescreen, leak gate, release)."""
    settings = _settings(request)
    case_id = request.path_params["case_id"]
    args = _namespace(settings, case_id, reviewer=account.name, reason=str(form.get("reason", "")).strip() or None)
    try:
        await _locked(commands.review_approve, args, Path(settings.db), Path(settings.out))
    except BadInput as refused:
        return _back_to_case(request, case_id, refusal_text(refused))
    return _back_to_case(request, case_id, "Saken er godkjent og svaret er sendt ut.")


# ----------------------------------------------------------------------------- files


def _case_file(settings, case_id: str, which: str) -> Path | None:
    from innsyn.case_documents import CasePaths

    with open_db(settings.db, read_only=True) as con:
        row = cases.find_case(con, case_id)
    if row is None:
        return None
    paths = CasePaths.under(Path(settings.out), row.case_id)
    if which == "public":
        path = paths.public_pdf if row.status == "released" else None
    elif which == "review":
        path = paths.review_pdf
    else:
        path = paths.redaction_log
    return path if path is not None and path.is_file() else None


def _file_view(which: str, filename: str, media_type: str, role: str | None = None):
    @page_view(role)
    async def download(request: Request, account: Account) -> Response:
        settings = _settings(request)
        case_id = request.path_params["case_id"]

        def find():
            path = _case_file(settings, case_id, which)
            if path is not None and which == "review":
                _record_view(settings, case_id, account, "intern.pdf")
            return path
        path = await _locked(find)
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=media_type, filename=f"{case_id}-{filename}")
    return download


# ----------------------------------------------------------------------------- reports


def _previous_week() -> tuple[date, date]:
    today = deadlines.today()
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


@page_view()
async def reports_page(request: Request, account: Account) -> Response:
    first, last = _previous_week()
    return _page(request, "rapporter.html", date_from=first.isoformat(), date_to=last.isoformat(), error=None)


@page_view(post=True)
async def make_report(request: Request, account: Account, form) -> Response:
    """The compliance report for the period, as `innsyn report compliance` writes it."""
    settings = _settings(request)
    try:
        first = date.fromisoformat(str(form.get("from", "")))
        last = date.fromisoformat(str(form.get("to", "")))
    except ValueError:
        return _page(request, "rapporter.html", status_code=400, date_from=str(form.get("from", "")),
                     date_to=str(form.get("to", "")), error="Oppgi fra- og til-dato.")
    args = argparse.Namespace(date_from=first, date_to=last, target_days=settings.target_days)
    try:
        await _locked(commands.report_compliance, args, Path(settings.db), Path(settings.out))
    except BadInput as refused:
        message = "Fra-datoen ligger etter til-datoen." if "is after" in str(refused) else refusal_text(refused)
        return _page(request, "rapporter.html", status_code=400, date_from=first.isoformat(),
                     date_to=last.isoformat(), error=message)
    return RedirectResponse(f"/rapporter/{first.isoformat()}/{last.isoformat()}", status_code=303)


def _report_period(request: Request) -> tuple[date, date]:
    try:
        return (date.fromisoformat(request.path_params["first"]), date.fromisoformat(request.path_params["last"]))
    except ValueError:
        raise HTTPException(404) from None


@page_view()
async def report_view(request: Request, account: Account) -> Response:
    """The written report as a page: the same HTML the PDF is rendered from, with its charts."""
    from innsyn import compliance_report

    settings = _settings(request)
    first, last = _report_period(request)
    pdf, _ = compliance_report.report_paths(settings.out, first, last)
    if not pdf.is_file():
        raise HTTPException(404)

    def build() -> str:
        target = deadlines.target_working_days(settings.target_days)
        figures = compliance_report.read_figures(settings.db, first, last, as_of=deadlines.today(), target_days=target)
        return compliance_report.report_html(figures)
    html = await _locked(build)
    body = html.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
    return _page(request, "rapport.html", report=body, first=first.isoformat(), last=last.isoformat())


def _report_file(suffix: str, media_type: str):
    @page_view()
    async def download(request: Request, account: Account) -> Response:
        from innsyn import compliance_report

        first, last = _report_period(request)
        pdf, csv = compliance_report.report_paths(_settings(request).out, first, last)
        path = pdf if suffix == "pdf" else csv
        if not path.is_file():
            raise HTTPException(404)
        return FileResponse(path, media_type=media_type, filename=path.name)
    return download


# ----------------------------------------------------------------------------- static, errors, routes


async def stylesheet(request: Request) -> Response:
    name = request.path_params["name"]
    files = {"desk.css": TEMPLATES_DIR / "desk" / "desk.css", "rapport.css": TEMPLATES_DIR / "rapport" / "rapport.css"}
    if name not in files:
        raise HTTPException(404)
    return FileResponse(files[name], media_type="text/css")


async def _not_found(request: Request, exc: Exception) -> Response:
    request.state.account = getattr(request.state, "account", None)
    code = getattr(exc, "status_code", 404)
    return _refused(request, "Siden finnes ikke." if code == 404 else "Forespørselen ble avvist.", status_code=code)


def _failed_page(request: Request, error: Exception) -> Response:
    """One line for the operator, without the exception's text or traceback (either may quote
    a value), and a page that says so in Norwegian."""
    security.access_log.error("%s %s failed: %s", request.method, request.url.path, type(error).__name__,
                              exc_info=error if os.environ.get("INNSYN_DEBUG") else None)  # as the CLI's INNSYN_DEBUG
    return _refused(request, "Noe gikk galt. Prøv igjen, eller kontakt driftsansvarlig; hendelsene på saken "
                             "viser hva som er gjort.", status_code=500)


async def _failed(request: Request, exc: Exception) -> Response:
    security.access_log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return HTMLResponse("<!DOCTYPE html><title>Feil</title><p>Noe gikk galt. Prøv igjen, eller kontakt "
                        "driftsansvarlig.</p>", status_code=500)


def exception_handlers() -> dict:
    return {HTTPException: _not_found, 500: _failed}


def routes() -> list[Route]:
    return [
        Route("/", case_list),
        Route("/logg-inn", sign_in_page, methods=["GET"]),
        Route("/logg-inn", sign_in, methods=["POST"]),
        Route("/logg-ut", sign_out, methods=["POST"]),
        Route("/saker/ny", register_page, methods=["GET"]),
        Route("/saker/ny", register, methods=["POST"]),
        Route(f"/saker/{CASE_ID}", case_page),
        Route(f"/saker/{CASE_ID}/endre", change_item, methods=["POST"]),
        Route(f"/saker/{CASE_ID}/bekreft", confirm_item, methods=["POST"]),
        Route(f"/saker/{CASE_ID}/godkjenn", approve, methods=["POST"]),
        Route(f"/saker/{CASE_ID}/svar.pdf", _file_view("public", "svar.pdf", "application/pdf")),
        Route(f"/saker/{CASE_ID}/sladdelogg.csv", _file_view("log", "sladdelogg.csv", "text/csv; charset=utf-8")),
        Route(f"/saker/{CASE_ID}/intern.pdf", _file_view("review", "intern.pdf", "application/pdf", "reviewer")),
        Route("/rapporter", reports_page, methods=["GET"]),
        Route("/rapporter", make_report, methods=["POST"]),
        Route("/rapporter/{first:str}/{last:str}", report_view),
        Route("/rapporter/{first:str}/{last:str}/rapport.pdf", _report_file("pdf", "application/pdf")),
        Route("/rapporter/{first:str}/{last:str}/rapport.csv", _report_file("csv", "text/csv; charset=utf-8")),
        Route("/static/{name:str}", stylesheet),
    ]
