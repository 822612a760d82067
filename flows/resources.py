"""Where the package's SQL and templates are, installed or editable.

A normal install carries them inside the package (`innsyn/sql`, `innsyn/templates`); an
editable install maps the package onto `flows/`, so they are its siblings in the checkout.
"""

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"innsyn is installed without its {name}/ folder")


SQL_DIR = _locate("sql")
TEMPLATES_DIR = _locate("templates")
POLICIES_DIR = _locate("policies")


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
