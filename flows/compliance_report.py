"""The compliance report: do we keep the law's deadlines, and what do we withhold?

Every Monday at 07:00 Oslo time the school office and the legal department get a report on
the past week. It answers, in Norwegian, what a school leader asks:

- how many requests came in and were answered, from whom (requester kind), with which
  outcome;
- how many working days the answers took: median, 90th percentile, the share within our
  target, the cases answered after the five-day limit of offentleglova § 32 (a request with
  no answer by then counts as refused), and the cases still open and how late they are;
- what we withheld, by policy rule and legal basis;
- how many pupils' names the class lists show (consent coverage) per school and class,
  lowest first, since the seed asks schools to encourage guardians to tick;
- which consent conflicts the school must follow up (a guardian ticked, we withheld).

The report holds no personal data: counts, case numbers, internal ids, class and school
names only. `gather_figures` reads them from DuckDB (sql/compliance_*.sql over the
working-day deadlines of sql/case_deadlines.sql); `write_report` renders the PDF
(templates/rapport, charts as inline SVG from innsyn.charts) and the same figures as CSV, and
writes both atomically to out/reports/compliance-<from>-<to>.pdf and .csv, owner-only like
every internal document. Prefect sees the period, paths, ids and counts.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from innsyn import charts, deadlines, render, spreadsheet
from innsyn.config import FLOW_OPTIONS
from innsyn.files import atomic_write_bytes
from innsyn.db import default_db_path, open_db
from innsyn.resources import TEMPLATES_DIR, sql
from innsyn.weasyprint_loader import load_weasyprint

#: The weekly schedule: Monday 07:00 in Oslo, whatever the season (Prefect keeps the zone).
WEEKLY_CRON = "0 7 * * 1"
TIME_ZONE = "Europe/Oslo"
CSV_COLUMNS = ("section", "key", "measure", "value")

REQUESTER_KINDS = {
    "journalist": "Journalist", "private": "Privatperson", "commercial": "Kommersiell aktør",
    "organisation": "Organisasjon", "anonymous": "Anonym",
}
OUTCOMES = {"innvilget": "Innvilget", "delvis_innvilget": "Delvis innvilget", "avslatt": "Avslått"}
STATUSES = {
    "received": "Mottatt", "screened": "Vurdert", "awaiting_review": "Til juridisk vurdering",
    "approved": "Godkjent", "released": "Besvart",
}
DEADLINE_STATES = {"within_target": "Innen målet", "past_target": "Over målet", "past_limit": "Over fristen",
                   "unknown": "Ugyldig mottaksdato"}
RULES = {
    "strengt_fortrolig_adresse": "Strengt fortrolig adresse (kode 6/19)",
    "fortrolig_adresse": "Fortrolig adresse (kode 7)",
    "institusjonsadresse": "Institusjonsadresse",
    "spesialundervisning": "Spesialundervisning",
    "hemmelig_telefonnummer": "Hemmelig telefonnummer",
}
FIELDS = {"pupil_name": "elevens navn", "guardian_name": "foresattes navn", "email": "e-post",
          "phone": "telefon", "address": "adresse"}


# ----------------------------------------------------------------------------- config


class ReportConfig(BaseModel):
    """Where to read and write, and our target. Paths and a number: safe as Prefect parameters."""

    db: str
    out: str
    target_days: int = Field(default=deadlines.DEFAULT_TARGET_WORKING_DAYS, ge=0,
                             le=deadlines.STATUTORY_WORKING_DAYS)

    @classmethod
    def from_environment(cls) -> ReportConfig:
        return cls(db=str(default_db_path()), out=os.environ.get("INNSYN_OUT") or "out",
                   target_days=deadlines.target_working_days())


class ReportResult(BaseModel):
    """The contract's JSON summary of a written report."""

    report_pdf: str
    report_csv: str
    period: dict[str, str]
    cases_received: int
    cases_decided: int
    open_cases: int


def previous_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the week before `today`'s week: what the Monday run reports on."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def report_period(date_from: date | None, date_to: date | None, today: date) -> tuple[date, date]:
    if date_from is None and date_to is None:
        return previous_week(today)
    if date_from is None or date_to is None:
        raise ValueError("give both ends of the period, or neither for the previous week")
    if date_from > date_to:
        raise ValueError(f"the period starts ({date_from}) after it ends ({date_to})")
    return date_from, date_to


# ----------------------------------------------------------------------------- figures


class KindCount(BaseModel):
    requester_kind: str
    received: int
    decided: int


class OutcomeCount(BaseModel):
    outcome: str
    decided: int


class DecisionTime(BaseModel):
    decided: int
    median_working_days: float | None
    p90_working_days: float | None
    within_target: int
    decided_past_limit: int
    open_cases: int
    open_past_target: int
    open_past_limit: int

    @property
    def share_within_target(self) -> float | None:
        return self.within_target / self.decided if self.decided else None


class CaseDays(BaseModel):
    """None for dates and days: a case registered with a day of receipt no deadline counts from
    (deadline_state "unknown", see sql/case_deadlines.sql); it is listed, never counted."""

    case_id: str
    status: str
    received_date: date | None
    target_date: date | None
    implied_refusal_date: date | None
    decided_date: date | None
    working_days_used: int | None
    is_open: bool
    deadline_state: str
    overdue: bool


class WithheldByRule(BaseModel):
    rule: str
    legal_basis: str
    items: int
    cases: int
    no_trace: bool


class ClassCoverage(BaseModel):
    school_id: str
    school_name: str
    class_id: str
    class_name: str
    grade: int
    pupils: int
    visible: int
    share: float


class SchoolCoverage(BaseModel):
    school_id: str
    school_name: str
    classes: int
    pupils: int
    visible: int
    share: float


class ConsentConflict(BaseModel):
    school_name: str
    class_id: str
    class_name: str
    student_id: str
    guardian_id: str | None
    rule: str
    fields: list[str]
    case_ids: list[str]


class ComplianceFigures(BaseModel):
    """Every figure of the report: ids, dates, counts, class and school names only."""

    date_from: date
    date_to: date
    as_of: date
    target_days: int
    limit_days: int = deadlines.STATUTORY_WORKING_DAYS
    requests: list[KindCount]
    outcomes: list[OutcomeCount]
    decision_time: DecisionTime
    cases: list[CaseDays]
    withheld: list[WithheldByRule]
    coverage_by_school: list[SchoolCoverage]
    coverage_by_class: list[ClassCoverage]
    conflicts: list[ConsentConflict]
    no_trace_conflict_items: int

    @property
    def received(self) -> int:
        return sum(row.received for row in self.requests)

    @property
    def open_cases(self) -> list[CaseDays]:
        return sorted((case for case in self.cases if case.is_open),
                      key=lambda case: (not case.overdue, case.implied_refusal_date is not None,
                                        case.implied_refusal_date or date.min, case.case_id))

    @property
    def overall_coverage(self) -> float | None:
        pupils = sum(school.pupils for school in self.coverage_by_school)
        return sum(school.visible for school in self.coverage_by_school) / pupils if pupils else None


def _rows(con, name: str, params: dict, model: type[BaseModel]) -> list:
    cursor = con.execute(sql(name), params)
    columns = [d[0] for d in cursor.description]
    return [model(**dict(zip(columns, row))) for row in cursor.fetchall()]


def read_figures(db: Path | str, date_from: date, date_to: date, *, as_of: date, target_days: int) -> ComplianceFigures:
    """All the report's figures, read from the database as it stands on `as_of`."""
    period = {"date_from": date_from, "date_to": date_to}
    with open_db(db, read_only=True) as con:
        deadlines.load_case_deadlines(con, on=as_of, target_days=target_days)
        (no_trace_items, _cases) = con.execute(sql("compliance_no_trace_conflicts"), period).fetchone()
        return ComplianceFigures(
            date_from=date_from, date_to=date_to, as_of=as_of, target_days=target_days,
            requests=_rows(con, "compliance_requests", period, KindCount),
            outcomes=_rows(con, "compliance_outcomes", period, OutcomeCount),
            decision_time=_rows(con, "compliance_decision_time", period, DecisionTime)[0],
            cases=_rows(con, "compliance_case_days", period, CaseDays),
            withheld=_rows(con, "compliance_withheld", period, WithheldByRule),
            coverage_by_school=_rows(con, "compliance_consent_coverage_by_school", {}, SchoolCoverage),
            coverage_by_class=_rows(con, "compliance_consent_coverage_by_class", {}, ClassCoverage),
            conflicts=_rows(con, "compliance_consent_conflicts", period, ConsentConflict),
            no_trace_conflict_items=no_trace_items,
        )


# ----------------------------------------------------------------------------- CSV


def _value(value: object) -> str:
    """A CSV cell: dates in ISO form, shares to four decimals, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def csv_rows(figures: ComplianceFigures) -> list[tuple[str, str, str, str]]:
    """The report's figures as long rows (section, key, measure, value), in report order."""
    f = figures
    rows = [
        ("period", "report", "from", f.date_from.isoformat()),
        ("period", "report", "to", f.date_to.isoformat()),
        ("period", "report", "as_of", f.as_of.isoformat()),
        ("period", "report", "target_working_days", str(f.target_days)),
        ("period", "report", "limit_working_days", str(f.limit_days)),
    ]
    for kind in f.requests:
        rows += [("requests", kind.requester_kind, "received", str(kind.received)),
                 ("requests", kind.requester_kind, "decided", str(kind.decided))]
    rows += [("outcomes", outcome.outcome, "decided", str(outcome.decided)) for outcome in f.outcomes]
    t = f.decision_time
    for measure, value in (
        ("decided", t.decided), ("median_working_days", t.median_working_days),
        ("p90_working_days", t.p90_working_days), ("within_target", t.within_target),
        ("share_within_target", t.share_within_target), ("decided_past_limit", t.decided_past_limit),
        ("open_cases", t.open_cases), ("open_past_target", t.open_past_target),
        ("open_past_limit", t.open_past_limit),
    ):
        rows.append(("decision_time", "all", measure, _value(value)))
    for case in f.cases:
        rows += [("case", case.case_id, measure, _value(getattr(case, measure)))
                 for measure in ("status", "received_date", "target_date", "implied_refusal_date",
                                 "decided_date", "working_days_used", "deadline_state")]
    for rule in f.withheld:
        rows += [("withheld", rule.rule, "legal_basis", rule.legal_basis),
                 ("withheld", rule.rule, "items", str(rule.items)),
                 ("withheld", rule.rule, "cases", str(rule.cases))]
    for school in f.coverage_by_school:
        rows += [("coverage_school", school.school_id, measure, _value(getattr(school, measure)))
                 for measure in ("school_name", "classes", "pupils", "visible", "share")]
    for klass in f.coverage_by_class:
        rows += [("coverage_class", klass.class_id, measure, _value(getattr(klass, measure)))
                 for measure in ("class_name", "pupils", "visible", "share")]
    for conflict in f.conflicts:
        key = "/".join((conflict.class_id, conflict.student_id, conflict.guardian_id or "-", conflict.rule))
        rows += [("consent_conflict", key, "fields", " ".join(conflict.fields)),
                 ("consent_conflict", key, "cases", " ".join(conflict.case_ids))]
    rows.append(("consent_conflict", "no_trace", "items", str(f.no_trace_conflict_items)))
    return rows


def figures_csv(figures: ComplianceFigures) -> bytes:
    """The CSV, spreadsheet-safe: a class or school name that begins like a formula is quoted."""
    return spreadsheet.csv_text(CSV_COLUMNS, csv_rows(figures)).encode("utf-8")


# ----------------------------------------------------------------------------- PDF


def tall(value: float | int | None, decimals: int = 1) -> str:
    """A number the Norwegian way: `1,5`; whole numbers without decimals; `–` for none."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{decimals}f}".replace(".", ",")


def prosent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f} %"


def flertall(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def kort_dato(value: date | None) -> str:
    return "–" if value is None else f"{value:%d.%m.%Y}"


def periode(date_from: date, date_to: date) -> str:
    text = f"{render.norsk_dato(date_from)} – {render.norsk_dato(date_to)}"
    if date_from.weekday() == 0 and date_to == date_from + timedelta(days=6):
        text += f" (uke {date_from.isocalendar().week})"
    return text


@cache
def _environment():
    env = render.environment().overlay()
    env.filters.update(tall=tall, prosent=prosent, kort_dato=kort_dato)
    env.globals.update(flertall=flertall, periode=periode, kinds=REQUESTER_KINDS, outcomes=OUTCOMES,
                       statuses=STATUSES, states=DEADLINE_STATES, rules=RULES, fields=FIELDS)
    return env


def _charts(figures: ComplianceFigures) -> dict:
    bars = [charts.CaseBar(case.case_id, case.received_date, case.working_days_used, case.deadline_state,
                           case.is_open) for case in figures.cases if case.working_days_used is not None]
    return {
        "days": charts.working_days_per_case(bars, target=figures.target_days, limit=figures.limit_days),
        "withheld": charts.horizontal_bars(
            [(RULES.get(row.rule, row.rule), row.items) for row in figures.withheld],
            title="Tilbakeholdte opplysninger per regel", empty="Ingen opplysninger holdt tilbake."),
        "coverage": charts.coverage_histogram([klass.share for klass in figures.coverage_by_class]),
    }


def report_html(figures: ComplianceFigures) -> str:
    template = _environment().get_template("rapport/rapport.html")
    return template.render(f=figures, charts=_charts(figures))


def report_pdf(figures: ComplianceFigures) -> bytes:
    """The report as PDF/A-2u; the same figures and the same day give the same bytes."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", render.SOURCE_DATE_EPOCH)
    weasyprint = load_weasyprint()

    stylesheet = weasyprint.CSS(filename=str(TEMPLATES_DIR / "rapport" / "rapport.css"),
                                url_fetcher=_offline)
    document = weasyprint.HTML(string=report_html(figures), base_url=str(TEMPLATES_DIR), url_fetcher=_offline)
    return document.write_pdf(stylesheets=[stylesheet], pdf_variant=render.PDF_VARIANT)


def _offline(url: str, *args, **kwargs):
    """The report needs nothing from outside: its charts are inline and its fonts local."""
    raise ValueError(f"the compliance report renders offline: refusing to fetch {url!r}")


def report_paths(out: Path | str, date_from: date, date_to: date) -> tuple[Path, Path]:
    stem = Path(out) / "reports" / f"compliance-{date_from.isoformat()}-{date_to.isoformat()}"
    return stem.with_suffix(".pdf"), stem.with_suffix(".csv")


# ----------------------------------------------------------------------------- flow

STEP = dict(cache_policy=NO_CACHE, persist_result=False)


@task(**STEP)
def gather_figures(date_from: date, date_to: date, config: ReportConfig) -> ComplianceFigures:
    """Read the period's figures from the database (ids and counts only)."""
    figures = read_figures(config.db, date_from, date_to, as_of=deadlines.today(), target_days=config.target_days)
    get_run_logger().info(
        "period %s to %s: %d received, %d decided, %d open, %d withheld values, %d consent conflicts",
        date_from, date_to, figures.received, figures.decision_time.decided, figures.decision_time.open_cases,
        # the log leaves for Prefect: no-trace values are counted in the report only
        sum(row.items for row in figures.withheld if not row.no_trace),
        len(figures.conflicts),
    )
    return figures


@task(**STEP)
def write_report(figures: ComplianceFigures, config: ReportConfig) -> ReportResult:
    """Render the PDF and the CSV and write both, each whole or not at all."""
    pdf_path, csv_path = report_paths(config.out, figures.date_from, figures.date_to)
    pdf = report_pdf(figures)
    atomic_write_bytes(csv_path, figures_csv(figures), private=True)
    atomic_write_bytes(pdf_path, pdf, private=True)
    get_run_logger().info("compliance report written to %s", pdf_path)
    return ReportResult(
        report_pdf=str(pdf_path), report_csv=str(csv_path),
        period={"from": figures.date_from.isoformat(), "to": figures.date_to.isoformat()},
        cases_received=figures.received, cases_decided=figures.decision_time.decided,
        open_cases=figures.decision_time.open_cases,
    )


@flow(name="compliance-report", **FLOW_OPTIONS)
def compliance_report(
    date_from: date | None = None, date_to: date | None = None, config: ReportConfig | None = None
) -> ReportResult:
    """The compliance report for a period (both days included); the previous week when no
    period is given, as on the scheduled Monday run."""
    config = config or ReportConfig.from_environment()
    date_from, date_to = report_period(date_from, date_to, deadlines.today())
    figures = gather_figures(date_from, date_to, config)
    return write_report(figures, config)


if __name__ == "__main__":
    from prefect.schedules import Cron

    compliance_report.serve(name="weekly-compliance-report", schedules=[Cron(WEEKLY_CRON, timezone=TIME_ZONE)])
