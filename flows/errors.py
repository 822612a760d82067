"""The one error every command answers the same way: the user's input is wrong.

Its own module so the command line can catch it without importing pydantic, DuckDB or
Prefect (a command handed to the background service imports none of them).
"""


class BadInput(ValueError):
    """The user's input is wrong: exit 2 with this one-line message."""
