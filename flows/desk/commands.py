"""`innsyn users add|list` and `innsyn desk`: the desk's accounts and its server, from the CLI.

Like every `innsyn` command: one JSON object on success, exit 2 with one line on bad input.
A password is never an argument (it would stay in the shell's history and the process list):
it is asked for twice on a terminal, or read as one line from standard input otherwise.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from innsyn.db import init_schema, open_db
from innsyn.errors import BadInput

#: The demo database's accounts (`innsyn demo`), all with DEMO_PASSWORD: documented in the README.
DEMO_ACCOUNTS = (("saksbehandler", "handler"), ("jurist", "reviewer"), ("jurist2", "reviewer"), ("admin", "admin"))
DEMO_PASSWORD = "demo-passord-2026"


def add_parsers(commands, common, parser_class) -> None:
    """The `users` and `desk` subcommands, on the CLI's parser."""
    users = commands.add_parser("users", help="the case desk's accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True, parser_class=parser_class)
    add = user_commands.add_parser("add", help="add an account (password asked for, or read from stdin)")
    common(add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("handler", "reviewer", "admin"))
    common(user_commands.add_parser("list", help="the accounts, their roles, and which are locked"))

    desk = commands.add_parser("desk", help="run the case desk (a web page) in the foreground")
    common(desk, writes_files=True)
    desk.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)")
    desk.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    desk.add_argument("--secure-cookies", action="store_true",
                      help="send the session cookie over HTTPS only (behind a TLS reverse proxy)")
    desk.add_argument("--target-days", type=int, default=None,
                      help="target in working days (default: $INNSYN_TARGET_WORKING_DAYS or 3)")


def run(args: argparse.Namespace, *, db: Path, out: Path) -> dict:
    if args.command == "desk":
        return desk(args, db, out)
    if args.users_command == "add":
        return users_add(args, db)
    return users_list(db)


def _require_db(db: Path) -> None:
    if not db.exists():
        raise BadInput(f"no database at {db}: run `innsyn db init` (or `innsyn demo`) first")


def read_password(name: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Passord for {name}: ")
        if getpass.getpass("Gjenta passordet: ") != first:
            raise BadInput("password: the two entries differ")
        return first
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def users_add(args: argparse.Namespace, db: Path) -> dict:
    from innsyn.desk import accounts

    _require_db(db)
    name = accounts.check_name(args.name)
    with open_db(db, read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "desk_accounts" in tables and accounts.find_account(con, name):
            raise BadInput(f"NAME: an account {name!r} exists already")
    password = accounts.check_password(read_password(name))
    with open_db(db) as con:
        init_schema(con)
        account = accounts.add_account(con, name, args.role, password)
    return {"db": str(db), "account": {"name": account.name, "role": account.role}}


def users_list(db: Path) -> dict:
    from innsyn.desk import accounts

    _require_db(db)
    with open_db(db) as con:
        init_schema(con)
        return {"db": str(db), "accounts": accounts.list_accounts(con)}


def add_demo_accounts(db: Path) -> list[str]:
    """The demo accounts, in the demo database only (the caller knows it made it)."""
    from innsyn.desk import accounts

    added = []
    with open_db(db) as con:
        init_schema(con)
        con.execute("INSERT INTO desk_secrets VALUES ('demo_database', 'true') ON CONFLICT DO NOTHING")
        for name, role in DEMO_ACCOUNTS:
            if accounts.find_account(con, name) is None:
                accounts.add_account(con, name, role, DEMO_PASSWORD)
                added.append(name)
    return added


def is_demo_database(db: Path) -> bool:
    with open_db(db, read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return "desk_secrets" in tables and bool(
            con.execute("SELECT 1 FROM desk_secrets WHERE name = 'demo_database'").fetchone())


def desk(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn import deadlines
    from innsyn.commands import checked_policy
    from innsyn.desk.app import DeskSettings, run_desk

    _require_db(db)
    if not 1 <= args.port <= 65535:
        raise BadInput(f"--port: expected 1 to 65535, got {args.port}")
    target = deadlines.target_working_days(args.target_days)
    checked_policy(args.policy)
    settings = DeskSettings(db=db, out=out, policy=args.policy, host=args.host, port=args.port,
                            secure_cookies=args.secure_cookies, target_days=target)
    run_desk(settings)
    return {"desk": f"http://{args.host}:{args.port}/", "stopped": True}
