"""Library log records never carry document text.

WeasyPrint logs every character its fonts lack, quoting it (".notdef glyph rendered for
Unicode string unsupported by fonts: "…" (U+10570)"), fontTools logs glyph names while it
subsets a font, and the others may quote a URL, a CSS value or a piece of text. Those records
reach stderr, Prefect's log handlers and Prefect's API: a withheld name written in a script
the fonts lack would be spelt out there, one character at a time.

`install()` puts a log record factory in front of the process's: every record of these
libraries' loggers (and their children, whichever handler takes them) keeps its message's
kind, the format string, and loses its arguments, its traceback and its stack (an exception
keeps its type's name). Our own loggers and Prefect's are left alone: they log ids, paths
and counts.
"""

from __future__ import annotations

import logging
import re

#: Top-level names of the loggers whose records are scrubbed.
LIBRARIES = ("weasyprint", "fontTools", "PIL", "pydyf", "cssselect2", "tinycss2", "html5lib", "pypdf",
             "fontconfig", "pango", "harfbuzz")

_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


def _is_library(name: str) -> bool:
    return name.split(".", 1)[0] in LIBRARIES


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message's arguments, traceback and stack dropped (in place)."""
    if not _is_library(record.name):
        return record
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    message = _PLACEHOLDER.sub(lambda m: "%" if m.group(0) == "%%" else "…", template)
    if record.exc_info and record.exc_info[0] is not None:
        message = f"{message} [{record.exc_info[0].__name__}]"
    record.msg, record.args = message, ()
    record.exc_info = record.exc_text = record.stack_info = None
    return record


_installed = False


def install() -> None:
    """Scrub every library record made from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
