"""innsyn on a Prefect work pool, with one writer.

The database lives with one process, the writer (the pool's worker on the database host, or
`innsyn serve`); it registers, screens, pauses for review, merges and records. What is worth
spreading over machines, rendering the school parts of a bulk answer, runs on every worker of
the pool from files: a per-school Parquet snapshot in a shared exchange folder in, PDFs out
(innsyn.pool.exchange, innsyn.pool.parts). Prefect sees ids and paths only.

- `steps`: prefect.yaml's pull step, the worker's own $INNSYN_HOME read at run time.
- `paused`: a case's paused flow run, found by its tag, so an answer given from the command
  line ends the run that waits for it (innsyn.pool.paused).
"""
