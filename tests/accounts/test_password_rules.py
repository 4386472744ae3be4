"""New passwords are checked against common passwords and the user's own names; passwords
are compared after NFKC, older hashes upgraded at the next login; e-mail addresses are
compared as email-validator normalises them (issue 11, items 4 and 12)."""

from __future__ import annotations

import unicodedata

import pytest
from alembic import command
from argon2 import PasswordHasher
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import Engine, text

from quartapp.accounts.strength import context_words, weakness
from quartapp.migrations import alembic_config
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form

NFC = unicodedata.normalize("NFC", "Crème brûlée für Zoë, 1999!")
NFD = unicodedata.normalize("NFD", NFC)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "password"),
        ("alice", " " * 8),
        ("weakpw2", "weakpw2weakpw2"),
        ("alice", "alice2024"),
        ("alice", "qwertyuiop"),
        ("alice", "Password1!"),
    ],
)
async def test_registration_refuses_common_and_own_name_passwords(
    client: Client, username: str, password: str
) -> None:
    response = await AuthActions(client).register(username, password=password)
    assert response.status_code == 400
    page = await page_text(response)
    assert "That password is" in page
    assert f'value="{username}@example.com"' in page  # what was typed stays
    assert (await client.get("/account")).status_code == 303  # no account, not signed in


def test_each_refusal_is_one_line_that_says_why() -> None:
    own = weakness("weakpw2weakpw2", context_words("weakpw2", "weakpw2@example.com"))
    assert own == "That password is built from your username or e-mail address: choose another."
    common = weakness("password", [])
    assert common is not None
    assert "\n" not in common
    assert "common password" in common
    assert weakness("correct horse battery", context_words("alice")) is None


async def test_a_password_change_is_checked_too(client: Client) -> None:
    auth = AuthActions(client)
    await auth.register_and_login("carol")
    response = await post_form(
        client,
        "/account/password",
        {
            "current_password": "correct horse battery",
            "password": "carol@example.com",
            "confirm": "carol@example.com",
        },
        token_from="/account",
    )
    assert response.status_code == 400
    assert "built from your username or e-mail address" in await page_text(response)


async def test_passwords_are_compared_after_nfkc(client: Client) -> None:
    auth = AuthActions(client)
    assert (await auth.register("zoe", password=NFC)).status_code == 303
    await auth.logout()
    assert (await auth.login("zoe", NFD)).status_code == 303
    await auth.logout()
    fullwidth = NFC.replace("1999", "１９９９")  # full-width digits: NFKC makes them ASCII
    assert (await auth.login("zoe", fullwidth)).status_code == 303


async def test_a_hash_made_before_normalising_is_upgraded_at_login(
    app: Quart, client: Client
) -> None:
    auth = AuthActions(client)
    assert (await auth.register("old", password="a placeholder pass 77")).status_code == 303
    await auth.logout()
    database = services_of(app).database
    legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(NFD)
    async with database.transaction() as session:
        await session.execute(
            text("UPDATE users SET password_hash = :h WHERE username = 'old'"), {"h": legacy}
        )
    assert (await auth.login("old", NFD)).status_code == 303  # as it was typed then
    await auth.logout()
    async with database.reader() as session:
        upgraded = await session.scalar(text("SELECT password_hash FROM users"))
    assert upgraded != legacy
    assert PasswordHasher().verify(upgraded, NFC)
    assert (await auth.login("old", NFC)).status_code == 303  # and now as NFC too


async def test_email_addresses_are_compared_normalised(client: Client) -> None:
    auth = AuthActions(client)
    first = await auth.register("zoe", email=unicodedata.normalize("NFC", "Zoë@Bücher.example"))
    assert first.status_code == 303
    await auth.logout()
    same = unicodedata.normalize("NFD", "zoë@xn--bcher-kva.EXAMPLE")
    second = await auth.register("zoe2", email=same)
    assert second.status_code == 400
    assert "That e-mail address is already registered." in await page_text(second)
    assert (await auth.login(same, "correct horse battery")).status_code == 303


def test_migration_0005_normalises_stored_keys(empty_database: TestDatabase) -> None:
    config = alembic_config(empty_database.url, configure_logging=False)
    command.upgrade(config, "0004")
    engine: Engine = empty_database.engine
    nfd = unicodedata.normalize("NFD", "Zoë@XN--BCHER-KVA.example")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, username_key, email, email_key, password_hash,"
                " about, created_at) VALUES ('zoe', 'zoe', :email, :key, 'x', '',"
                " CURRENT_TIMESTAMP)"
            ),
            {"email": nfd, "key": nfd.lower()},
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        email, key = connection.execute(text("SELECT email, email_key FROM users")).one()
    assert key == unicodedata.normalize("NFC", "zoë@bücher.example")
    assert email == unicodedata.normalize("NFC", "Zoë@bücher.example")
    command.downgrade(config, "0004")
