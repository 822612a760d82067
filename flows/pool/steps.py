"""prefect.yaml's pull step: run in the worker's own $INNSYN_HOME, read when the run starts.

Prefect's `set_working_directory` step with `{{ $INNSYN_HOME }}` takes the value of the machine
that ran `prefect deploy`, so every worker would need its folder at that same path. This step
reads INNSYN_HOME from the environment of the worker that runs the flow, so each machine keeps
its data wherever it likes. The flows are the installed `innsyn` package's (entrypoints are
module paths): a worker needs the package in its virtualenv, not a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path


def work_in_innsyn_home() -> dict[str, str]:
    """chdir to this worker's $INNSYN_HOME; fails the run, in one line, when it is not set."""
    home = os.environ.get("INNSYN_HOME")
    if not home:
        raise RuntimeError("INNSYN_HOME is not set in this worker's environment: start the worker with "
                           "INNSYN_HOME=/path/to/its/folder")
    directory = Path(home).expanduser().resolve()
    os.chdir(directory)
    return {"directory": str(directory)}
