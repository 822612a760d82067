"""innsyn: answers public-records requests (innsynskrav) for school class lists."""

__version__ = "0.1.0"
