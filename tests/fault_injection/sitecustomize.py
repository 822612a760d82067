"""Fault injection for `innsyn` subprocesses in tests (never installed, never imported by
the product): put this folder on PYTHONPATH and set INNSYN_KILL_AT_RENAME to a path fragment,
and the process kills itself with SIGKILL at the moment it is about to rename a finished file
to a path containing that fragment: the worst moment for a file that must appear whole.
"""

import os
import signal

_FRAGMENT = os.environ.get("INNSYN_KILL_AT_RENAME")

if _FRAGMENT:
    _replace = os.replace

    def _replace_or_die(src, dst, *args, **kwargs):
        if _FRAGMENT in os.fspath(dst):
            os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)

    os.replace = _replace_or_die
