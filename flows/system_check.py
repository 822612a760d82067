"""Check the system libraries innsyn needs, and say what to install when one is missing."""

from __future__ import annotations

import shutil
import sys

APT_HINT = "apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 poppler-utils fonts-dejavu-core (or: make system-deps)"


def problems() -> list[str]:
    found = []
    try:
        import weasyprint  # noqa: F401 - loads Pango through cffi; fails without it
    except OSError as error:
        found.append(f"WeasyPrint cannot load Pango ({error})")
    if shutil.which("pdftotext") is None:
        found.append("pdftotext (poppler-utils) is not installed: the leak gate needs a second extractor")
    if shutil.which("fc-list") and "DejaVu" not in _fonts():
        found.append("the DejaVu fonts are not installed: letters like æ, ø, å and Sámi á, č, ŋ need them")
    return found


def _fonts() -> str:
    import subprocess

    return subprocess.run(["fc-list"], capture_output=True, text=True, check=False).stdout


def main() -> int:
    missing = problems()
    for problem in missing:
        print(f"innsyn: missing: {problem}", file=sys.stderr)
    if missing:
        print(f"innsyn: install with: {APT_HINT}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
