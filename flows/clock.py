"""The one clock: Oslo time, fixed by INNSYN_NOW in tests so documents are deterministic."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")

#: Font subsets embedded by WeasyPrint's fontTools fallback (used when HarfBuzz-Subset is
#: not installed) carry a "modified" timestamp, taken from SOURCE_DATE_EPOCH when set and
#: from the clock otherwise, which would make every render differ. A fixed epoch (2026-01-01
#: UTC) keeps the output byte-identical; a deployment may set its own (innsyn.render sets it).
SOURCE_DATE_EPOCH = "1767225600"


def now() -> datetime:
    fixed = os.environ.get("INNSYN_NOW")
    if fixed:
        moment = datetime.fromisoformat(fixed)
        return (moment if moment.tzinfo else moment.replace(tzinfo=OSLO)).astimezone(OSLO)
    return datetime.now(OSLO)
