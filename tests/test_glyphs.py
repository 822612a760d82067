"""Glyphs that cannot be drawn: never spelt out in a log, never a silent box.

A name in a script no installed font has is rendered for real (WeasyPrint, PDF/A, read back):
WeasyPrint and fontTools log such characters (and their glyph names), and those records must
not carry them; the review copy flags the item ids whose values hold them. The fonts
`make system-deps` installs cover the scripts of names in a Norwegian register.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from innsyn import fonts
from innsyn.case_documents import public_answer
from innsyn.render import UNDRAWABLE_FLAG, render_public_pdf, render_review_pdf
from innsyn.resources import TEMPLATES_DIR

sys.path.insert(0, str(Path(__file__).parent))
from test_render import make_answer  # noqa: E402

# Scripts of Unicode 14 and later that no font of `make system-deps` has (Vithkuqi, an
# Albanian alphabet; Toto; Tangsa; Kawi): the first one this machine cannot draw is used.
CANDIDATES = ["\U00010570\U00010597\U000105a0\U000105a1 \U00010572\U00010599\U000105a5",
              "\U0001e290\U0001e291\U0001e2a0 \U0001e292\U0001e2a5",
              "\U00016a70\U00016a71\U00016a80 \U00016a72\U00016a85",
              "\U00011f04\U00011f05\U00011f12 \U00011f06\U00011f13"]

# Names as a Norwegian register holds them, one per script the fonts must cover.
NAMES = {
    "Norwegian and Sámi": "Áile Ŋuvttáš Čoarvi Ææøå",
    "Vietnamese": "Nguyễn Thị Hồng",
    "Polish": "Łucja Wiśniewska",
    "Greek": "Ελένη Παπαδοπούλου",
    "Cyrillic": "Анна Ковальчук",
    "Arabic": "محمد عبد الله",
    "Persian": "زهرا رضایی",
    "Hebrew": "דוד כהן",
    "Tigrinya": "ሰላም ተስፋይ",
    "Hindi": "प्रिया शर्मा",
    "Tamil": "அருண் குமார்",
    "Thai": "สมชาย ใจดี",
    "Georgian": "ნინო ბერიძე",
    "Armenian": "Արամ Պետրոսյան",
    "Chinese": "王芳",
    "Japanese": "さくら 山田",
    "Korean": "김민준",
}


@pytest.fixture(scope="module")
def unwritable() -> str:
    for name in CANDIDATES:
        if all(fonts.undrawable(char) for char in name.replace(" ", "")):
            return name
    pytest.skip("every candidate script is drawable on this machine")


def forms_of(name: str) -> list[str]:
    """The name, each of its characters, and the ways a log would spell them."""
    forms = [name, *name.split()]
    for char in set(name.replace(" ", "")):
        code = ord(char)
        forms += [char, f"U+{code:04X}", f"u{code:04X}", f"uni{code:04X}", f"{code:04x}", f"{code:04X}"]
    return forms


class Everything(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def every_record():
    """Every record of every logger, down to DEBUG (fontTools logs glyph names there)."""
    handler = Everything()
    root = logging.getLogger()
    loggers = {name: logging.getLogger(name) for name in ("", "weasyprint", "fontTools", "PIL", "pydyf")}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    for name, logger in loggers.items():
        logger.setLevel(levels[name])


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_no_log_or_stderr_line_spells_out_what_the_fonts_cannot_draw(tmp_path, unwritable, every_record, capfd):
    answer = make_answer(pupil_name=unwritable)
    render_review_pdf(answer, tmp_path / "intern.pdf")
    render_public_pdf(public_answer(answer), tmp_path / "svar.pdf")

    lines = [every_record.format(record) for record in every_record.records]
    printed = capfd.readouterr()
    # the render really hit the missing glyphs, and said so (the kind of message stays)
    assert any(".notdef glyph rendered" in line for line in lines)
    everything = "\n".join([*lines, printed.out, printed.err])
    assert [form for form in forms_of(unwritable) if form in everything] == []


def test_a_value_no_font_can_draw_is_flagged_on_the_review_copy_by_id(tmp_path, unwritable):
    answer = make_answer(pupil_name=unwritable)
    render_review_pdf(answer, tmp_path / "intern.pdf")
    render_public_pdf(public_answer(answer), tmp_path / "svar.pdf")

    review = " ".join(pdf_text(tmp_path / "intern.pdf").split())
    assert f"{UNDRAWABLE_FLAG}: s1-name " in review  # the id, never the characters
    assert "Tegn som ingen installert skrift" not in pdf_text(tmp_path / "svar.pdf")  # review copy only
    # the coverage is read once per process: a set lookup per character after that
    assert fonts.drawable.cache_info().misses == 1


def test_a_requester_whose_name_cannot_be_drawn_is_flagged_too(tmp_path, unwritable):
    from dataclasses import replace

    answer = make_answer()
    answer = replace(answer, requester=replace(answer.requester, name=unwritable))
    render_review_pdf(answer, tmp_path / "intern.pdf")
    review = " ".join(pdf_text(tmp_path / "intern.pdf").split())
    assert f"{UNDRAWABLE_FLAG}: innsynskreverens navn" in review


@pytest.mark.parametrize("script", NAMES)
def test_the_installed_fonts_draw_names_in_the_scripts_of_the_register(script):
    assert not fonts.undrawable(NAMES[script]), f"no installed font draws the {script} name: make system-deps"


def test_names_in_every_script_render_without_a_flag_or_a_box(tmp_path, every_record):
    answer = make_answer(pupil_name=" ".join(NAMES.values()))
    render_review_pdf(answer, tmp_path / "intern.pdf")
    assert not any(".notdef" in record.getMessage() for record in every_record.records)
    assert UNDRAWABLE_FLAG.split(" (")[0] not in pdf_text(tmp_path / "intern.pdf")


def test_every_font_family_the_templates_name_is_installed():
    families = set()
    for css in TEMPLATES_DIR.glob("*/*.css"):
        for declaration in re.findall(r"font(?:-family)?:([^;]+);", css.read_text(encoding="utf-8")):
            families |= set(re.findall(r'"([^"]+)"', declaration))
    assert {"DejaVu Sans", "Noto Sans Arabic", "Droid Sans Fallback"} <= families
    matched = {family: subprocess.run(["fc-match", family, "family"], capture_output=True, text=True).stdout.strip()
               for family in families}
    assert {family: got for family, got in matched.items() if family not in got.split(",")} == {}


def test_the_makefile_installs_the_fonts():
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    packages = re.search(r"^APT_PACKAGES\s*=((?:.*\\\n)*.*)$", makefile, re.MULTILINE).group(1).replace("\\", " ").split()
    assert {"fonts-dejavu-core", "fonts-noto-core", "fonts-droid-fallback", "fonts-nanum", "fontconfig"} <= set(packages)
