"""innsyn: answers public-records requests (innsynskrav) for school class lists."""

__version__ = "0.1.0"

# before any library logs: their records never carry document text (innsyn/quiet.py)
from innsyn import quiet as _quiet  # noqa: E402

_quiet.install()
