"""The background service: `innsyn` answers warm, without anyone starting anything.

A fresh Python that imports Prefect (over a second), WeasyPrint and its fonts (another half
second) and starts a temporary Prefect server (5-8 s) pays thirty times the work of a
one-class answer. So the CLI keeps that cost in the background, the way a build daemon does:

- `innsyn process` (one school) and `innsyn review approve|release|withhold|confirm` check
  their input in the command's own process, which imports neither Prefect nor WeasyPrint,
  and exit 2 on bad input before anything starts. Then they hand the command to the
  service for their database (client.py), starting it if none runs (daemon.py). The
  service is the warm worker `innsyn serve` runs too (innsyn.warm_worker): one process per
  user and database, on an owner-only Unix socket, with Prefect, the flows, the templates
  and every font face loaded once. The flow runs are the same, in the caller's name.
- The flows need a Prefect API. With PREFECT_API_URL set, the service uses it. Without,
  it starts one Prefect server for the user (prefect_server.py) on a free loopback port,
  with the user's private PREFECT_HOME and telemetry off, and every service of the user
  shares it: flow runs are real and visible in its UI.
- Everything idles out: a service stops after INNSYN_SERVICE_IDLE_SECONDS (default 900)
  without a command, and the Prefect server the same time after the last service using it
  stopped. `innsyn status` lists what runs (pids, sockets, the API, the timeouts) and
  `innsyn stop` stops it all. INNSYN_USE_SERVICE=0 runs every command in its own process,
  as before; INNSYN_USE_SERVICE=running uses a service only when one runs already.

What runs in the service is a list of front ends (daemon.py `FRONT_ENDS`): today the warm
worker; a later web desk can be started beside it in the same process.
"""
