"""Check the system libraries innsyn needs, and say what to install when one is missing."""

from __future__ import annotations

import shutil
import sys

APT_HINT = ("apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 poppler-utils fontconfig fonts-dejavu-core "
            "fonts-noto-core fonts-droid-fallback fonts-nanum (or: make system-deps)")


def problems() -> list[str]:
    found = []
    try:
        import weasyprint  # noqa: F401 - loads Pango through cffi; fails without it
    except OSError as error:
        found.append(f"WeasyPrint cannot load Pango ({error})")
    if shutil.which("pdftotext") is None:
        found.append("pdftotext (poppler-utils) is not installed: the leak gate needs a second extractor")
    if shutil.which("fc-list") is None:
        found.append("fc-list (fontconfig) is not installed: innsyn reads from it which characters the fonts draw")
    else:
        installed = _fonts()
        if "DejaVu" not in installed:
            found.append("the DejaVu fonts are not installed: letters like æ, ø, å and Sámi á, č, ŋ need them")
        for family, package, scripts in (("Noto Sans Arabic", "fonts-noto-core", "Arabic, Hebrew, Ethiopic, Indic"),
                                         ("Droid Sans Fallback", "fonts-droid-fallback", "Chinese and Japanese"),
                                         ("NanumGothic", "fonts-nanum", "Korean")):
            if family not in installed:
                found.append(f"{package} is not installed: names in {scripts} would be empty boxes")
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
