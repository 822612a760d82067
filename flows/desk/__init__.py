"""The case desk: a web page where case handlers answer requests and reviewers decide redactions.

School office staff and municipal lawyers work in a browser, not a terminal. The desk is a
small Starlette application (FastAPI's foundation, already installed with Prefect) served by
uvicorn, with pages rendered from Jinja2 templates in `templates/desk/`:

- `accounts`: local accounts with roles (handler, reviewer, admin), Argon2id password hashes
  and lock-out after repeated failures, in the innsyn database;
- `security`: signed session cookies, a CSRF token on every form, and the headers every
  response carries (no-store, Content-Security-Policy);
- `wording`: the Norwegian words for statuses, outcomes, consent states and flags;
- `views`: the pages; every action calls the same domain functions as the CLI
  (`innsyn.commands`), so the desk and the command line are two front ends of one product;
- `app`: `create_app(settings)` builds the application, `run_desk(settings)` serves it.

Nothing personal travels in a URL: pages are addressed by case id and item id only.
"""
