"""Registration: what a valid account is, and what a bad form answers."""

from __future__ import annotations

import asyncio
import html
import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.accounts import store
from quartapp.db import Database
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form

GOOD = {
    "username": "keep_me-1",
    "email": "keep.me@example.com",
    "password": "Secret-Passphrase-1",
    "confirm": "Secret-Passphrase-1",
}


def count_users(database: TestDatabase) -> int:
    return database.count("users")


def field_error(page: str, name: str) -> str | None:
    """The error shown beside one field (the macro gives it the id ``<field>-error``)."""
    match = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else None


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    assert match is not None, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else None


async def register(client: Client, **changes: str) -> tuple[int, str]:
    response = await post_form(client, "/register", {**GOOD, **changes}, token_from="/register")
    return response.status_code, await page_text(response)


async def test_valid_form_creates_the_user_and_logs_in(
    client: Client, test_database: TestDatabase
) -> None:
    status, _ = await register(client)
    assert status == 303
    assert count_users(test_database) == 1
    assert (await client.get("/account")).status_code == 200
    assert (await client.get("/register")).status_code == 303  # already has an account


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "ab", "3 to 32 characters"),
        ("username", "a" * 33, "3 to 32 characters"),
        ("username", "has space", "Use only letters, digits, '_' and '-'."),
        ("username", "bad!name", "Use only letters, digits, '_' and '-'."),
        ("username", "<b>x</b>", "Use only letters, digits, '_' and '-'."),
        ("username", "", "Choose a username."),
        ("email", "not-an-email", "valid e-mail address"),
        ("email", "two@@example.com", "valid e-mail address"),
        ("email", "", "Enter your e-mail address."),
        ("password", "seven77", "8 to 256 characters"),
        ("password", "x" * 257, "8 to 256 characters"),
        ("confirm", "Secret-Passphrase-2", "The two passwords do not match."),
    ],
)
async def test_bad_field_is_explained_beside_it_and_nothing_is_written(
    client: Client, test_database: TestDatabase, field: str, value: str, message: str
) -> None:
    changes = {field: value}
    if field == "password":
        changes["confirm"] = value
    status, page = await register(client, **changes)

    assert status == 400
    error = field_error(page, field)
    assert error is not None, page
    assert message in error
    others = {"username", "email", "password", "confirm"} - {field}
    assert all(field_error(page, other) is None for other in others)
    assert count_users(test_database) == 0
    # What the user typed is kept, so only the bad field needs retyping...
    if field != "username":
        assert input_value(page, "username") == GOOD["username"]
    if field != "email":
        assert input_value(page, "email") == GOOD["email"]
    if field in {"username", "email"} and value:
        assert input_value(page, field) == value
    # ...but a password is never sent back.
    assert not input_value(page, "password")
    assert not input_value(page, "confirm")
    assert GOOD["password"] not in page
    if field in {"password", "confirm"}:
        assert value not in page


async def test_several_bad_fields_each_get_their_message(
    client: Client, test_database: TestDatabase
) -> None:
    status, page = await register(client, username="x", email="nope", password="short")
    assert status == 400
    assert "3 to 32" in (field_error(page, "username") or "")
    assert "valid e-mail" in (field_error(page, "email") or "")
    assert "8 to 256" in (field_error(page, "password") or "")
    assert count_users(test_database) == 0


@pytest.mark.parametrize(
    ("username", "email", "taken_field"),
    [
        ("ALICE", "other@example.com", "username"),
        ("aLiCe", "other@example.com", "username"),
        ("someone", "ALICE@EXAMPLE.COM", "email"),
        ("someone", "Alice@example.com", "email"),
    ],
)
async def test_username_and_email_are_unique_ignoring_case(
    client: Client,
    test_database: TestDatabase,
    username: str,
    email: str,
    taken_field: str,
) -> None:
    first = AuthActions(client)
    assert (await first.register("alice", email="alice@example.com")).status_code == 303
    stranger = client.app.test_client()

    status, page = await register(stranger, username=username, email=email)

    assert status == 400
    assert "already registered" in (field_error(page, taken_field) or "")
    assert input_value(page, "username") == username
    assert input_value(page, "email") == email
    assert count_users(test_database) == 1


async def test_allowed_username_characters(client: Client, test_database: TestDatabase) -> None:
    status, _ = await register(client, username="Az09_-" + "x" * 26)  # 32 characters
    assert status == 303
    assert count_users(test_database) == 1


async def test_form_without_csrf_token_writes_nothing(
    client: Client, test_database: TestDatabase
) -> None:
    await client.get("/register")
    response = await client.post("/register", form=GOOD)
    assert response.status_code == 400
    assert count_users(test_database) == 0


async def register_with_password(client: Client, password: str) -> AuthActions:
    auth = AuthActions(client)
    registered = await auth.register("pw_user", password=password)
    assert registered.status_code == 303, await page_text(registered)
    await auth.logout()
    return auth


async def can_log_in(auth: AuthActions, attempt: str) -> bool:
    response = await auth.login("pw_user", attempt)
    if response.status_code == 303:
        await auth.logout()
        return True
    assert response.status_code == 400
    return False


@pytest.mark.parametrize(
    "password",
    [
        "k9#Vq2!z",  # the shortest allowed
        "pässwörd ünïcødé 🔐 密码",
        "  spaces around, kept  ",
        "".join(chr(0x1F600 + i * 37 % 80) for i in range(256)),  # 256 characters, 1 KiB UTF-8
    ],
)
async def test_any_password_of_8_to_256_characters_works_exactly(
    client: Client, password: str
) -> None:
    auth = await register_with_password(client, password)
    assert await can_log_in(auth, password)


async def test_long_password_is_never_truncated(client: Client) -> None:
    password = "".join(f"{n}{chr(97 + n % 26)}-" for n in range(1000))[:256]  # 256 characters
    auth = await register_with_password(client, password)
    assert await can_log_in(auth, password)
    assert not await can_log_in(auth, password[:255])
    assert not await can_log_in(auth, password[:72])  # where bcrypt would cut
    assert not await can_log_in(auth, password + "x")


@pytest.mark.parametrize(
    ("password", "attempt"),
    [
        ("CorrectHorse99", "correcthorse99"),
        ("CorrectHorse99", "CORRECTHORSE99"),
        ("Straße-Passwort", "STRASSE-PASSWORT"),
        ("  spaces around  ", "spaces around"),
    ],
)
async def test_password_is_not_case_folded_or_stripped(
    client: Client, password: str, attempt: str
) -> None:
    auth = await register_with_password(client, password)
    assert not await can_log_in(auth, attempt)
    assert await can_log_in(auth, password)


async def register_alone(database: Database, new: store.NewUser) -> None:
    async with database.transaction() as session:
        await store.create_user(session, new)


async def test_a_registration_that_loses_a_race_names_the_taken_field(app: Quart) -> None:
    """The second of two registrations of one name, each checking before the other commits:
    on PostgreSQL its insert waits for the first and fails on the unique index (the check
    is asked again after a savepoint); on SQLite it waits for the write lock, then sees it."""
    database = services_of(app).database
    async with database.transaction() as first:
        await store.create_user(first, store.NewUser("bob", "bob@example.com", "x"))
        await first.flush()
        second = asyncio.create_task(
            register_alone(database, store.NewUser("Bob", "other@example.com", "x"))
        )
        await asyncio.sleep(0.5)
        assert not second.done()  # waiting for the first to commit
    with pytest.raises(store.DuplicateUserError) as taken:
        await second
    assert taken.value.field == "username"
