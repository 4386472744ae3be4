"""Commands: ``python -m quartapp db upgrade`` and ``python -m quartapp create-user``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from alembic import command
from werkzeug.datastructures import MultiDict

from quartapp.config import ConfigError, load_settings
from quartapp.migrations import alembic_config


def db_upgrade(revision: str) -> None:
    command.upgrade(alembic_config(load_settings().database_url), revision)


def db_downgrade(revision: str) -> None:
    command.downgrade(alembic_config(load_settings().database_url), revision)


async def create_user(username: str, email: str, password: str) -> str:
    """Validate like the register form, then store; returns an error message or ''."""
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
    args = parser.parse_args(argv)

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
