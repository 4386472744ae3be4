"""Commands: ``python -m quartapp db upgrade``, ``create-user``, ``serve`` and ``passwords``.

``serve``'s workers are spawned processes, and each imports this module again (as
``__mp_main__``): what only the other commands need is imported inside them, so that a
worker does not carry Alembic (about 10 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from quartapp.config import ConfigError, load_settings
from quartapp.serving import (
    APPLICATION,
    WORKER_CLASSES,
    AddressInUseError,
    ServeOptions,
    load_config,
    serve,
)


def db_upgrade(revision: str) -> None:
    from alembic import command

    from quartapp.migrations import alembic_config

    command.upgrade(alembic_config(load_settings().database_url), revision)


def db_downgrade(revision: str) -> None:
    from alembic import command

    from quartapp.migrations import alembic_config

    command.downgrade(alembic_config(load_settings().database_url), revision)


async def create_user(username: str, email: str, password: str) -> str:
    """Validate like the register form, then store; returns an error message or ''."""
    from werkzeug.datastructures import MultiDict

    from quartapp.accounts import store
    from quartapp.accounts.forms import RegisterForm
    from quartapp.accounts.hashing import PasswordHashing
    from quartapp.accounts.strength import context_words, weakness
    from quartapp.db import Database

    # As form data, like a browser's: given as ``data=`` InputRequired finds nothing.
    form = RegisterForm(
        MultiDict({"username": username, "email": email, "password": password, "confirm": password})
    )
    if not form.validate():
        return "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
    problem = weakness(password, context_words(form.username.data or "", form.email.data or ""))
    if problem is not None:  # as /register refuses it
        return f"password: {problem}"
    settings = load_settings()
    hashing = PasswordHashing(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
    database = Database(settings.database_url)
    await database.open()
    try:
        # The form's values: stripped of surrounding spaces, as /register stores them.
        new_user = store.NewUser(
            form.username.data or "", form.email.data or "", await hashing.hash(password)
        )
        async with database.transaction() as session:
            await store.create_user(session, new_user)
    except store.DuplicateUserError as taken:
        return f"{taken.field}: already registered"
    finally:
        hashing.close()
        await database.close()
    return ""


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the site under hypercorn; the master hands each connection to a worker",
        description="hypercorn's settings come from its TOML file; these options win over it.",
    )
    serve.add_argument("application", nargs="?", default=APPLICATION)
    serve.add_argument("-c", "--config", default="hypercorn.toml", help="hypercorn's TOML file")
    serve.add_argument(
        "-b", "--bind", action="append", default=[], help="host:port (repeatable), unix:PATH"
    )
    serve.add_argument("-w", "--workers", type=_at_least_one)
    serve.add_argument("-k", "--worker-class", choices=WORKER_CLASSES)
    serve.add_argument("--certfile")
    serve.add_argument("--keyfile")
    serve.add_argument("--access-logfile", help="'-' for standard output")
    serve.add_argument(
        "--backlog", type=_at_least_one, help="connections each listening socket queues"
    )


def _at_least_one(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return count


def _serve(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    if not config_path.is_file():
        print(f"error: no hypercorn configuration file at {config_path}", file=sys.stderr)
        return 2
    options = ServeOptions(
        config_path=config_path,
        application=args.application,
        binds=tuple(args.bind),
        workers=args.workers,
        worker_class=args.worker_class,
        certfile=args.certfile,
        keyfile=args.keyfile,
        access_logfile=args.access_logfile,
        backlog=args.backlog,
    )
    try:
        return serve(load_config(options))
    except AddressInUseError as error:
        print(f"error: {error.strerror}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quartapp")
    commands = parser.add_subparsers(dest="command", required=True)
    database = commands.add_parser("db", help="database migrations")
    db_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", help="migrate back")
    downgrade.add_argument("revision")
    new_user = commands.add_parser("create-user", help="add a user; asks for the password")
    new_user.add_argument("username")
    new_user.add_argument("email")
    _add_serve(commands)
    from quartapp.passwords import cli as passwords_cli

    passwords_cli.add_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _serve(args)
    if args.command == "passwords":
        return passwords_cli.run(args)
    try:
        if args.command == "db":
            if args.db_command == "upgrade":
                db_upgrade(args.revision)
            else:
                db_downgrade(args.revision)
            return 0
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            print("error: the two passwords do not match", file=sys.stderr)
            return 1
        problem = asyncio.run(create_user(args.username, args.email, password))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"created user {args.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
