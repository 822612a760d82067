"""The one clock: Oslo time, fixed by INNSYN_NOW in tests so documents are deterministic."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def now() -> datetime:
    fixed = os.environ.get("INNSYN_NOW")
    if fixed:
        moment = datetime.fromisoformat(fixed)
        return (moment if moment.tzinfo else moment.replace(tzinfo=OSLO)).astimezone(OSLO)
    return datetime.now(OSLO)
