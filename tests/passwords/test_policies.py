"""Saved policies: a writer's named rules (criteria only), generated from in one click."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.passwords.generator import wordlist
from quartapp.passwords.store import MAX_POLICIES_PER_USER
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text
from tests.passwords.test_api import TEN_CHAR_RULE, assert_meets
from tests.passwords.test_page import (
    assert_no_store,
    browser_form,
    error_shown,
    load,
    shown_password,
)

CRITERIA_FIELDS = {
    "mode", "length", "lowercase", "uppercase", "digits", "symbols", "min_lowercase",
    "min_uppercase", "min_digits", "min_symbols", "symbol_set", "avoid_ambiguous", "exclude",
    "include", "max_lowercase", "max_uppercase", "max_digits", "max_symbols", "min_classes",
    "max_consecutive", "first_character", "require", "words", "separator", "capitalize",
    "add_capital", "add_digit", "add_symbol", "phrase_symbols", "max_length",
}  # fmt: skip
TEN_CHAR_FORM: dict[str, str | None] = {
    "length": "10",
    "symbols": None,
    "min_symbols": "0",
    "min_digits": "3",
}


def rows(database: TestDatabase) -> list[dict[str, Any]]:
    """The saved policies, read from the database outside the app."""
    return database.dicts(
        "SELECT id, user_id, name, name_key, criteria FROM saved_policies ORDER BY id"
    )


def user_id(database: TestDatabase, username: str) -> int:
    value: int = database.scalar("SELECT id FROM users WHERE username = :name", name=username)
    return value


def changed(fields: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """The form after the user's changes; None unchecks a checkbox."""
    result = dict(fields)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


async def save(
    client: Client,
    name: str,
    changes: dict[str, str | None] | None = None,
    *,
    action: str = "/passwords/policies",
    page: str = "/passwords",
) -> Response:
    """Fill the generator form on ``page``, name it and press a save button."""
    _, fields = await load(client, page)
    return await client.post(action, form={**changed(fields, changes or {}), "name": name})


def saved_id(response: Response) -> int:
    assert response.status_code == 303
    assert_no_store(response)
    location = response.headers["Location"]
    assert location.startswith("/passwords?policy=")
    return int(location.removeprefix("/passwords?policy="))


async def create(client: Client, name: str, changes: dict[str, str | None] | None = None) -> int:
    return saved_id(await save(client, name, changes))


async def post_with_token(
    client: Client, path: str, data: dict[str, str] | None = None
) -> Response:
    _, fields = await load(client)
    return await client.post(path, form={"csrf_token": fields["csrf_token"], **(data or {})})


@pytest.fixture
async def alice(client: Client, auth: AuthActions) -> Client:
    await auth.register_and_login("alice")
    return client


@pytest.fixture
async def bob(app: Quart) -> Client:
    other = app.test_client()
    await AuthActions(other).register_and_login("bob")
    return other


# --- create, list, generate ----------------------------------------------------------------


async def test_create_then_generate_in_one_click(
    alice: Client, test_database: TestDatabase
) -> None:
    policy_id = await create(alice, "Payroll", TEN_CHAR_FORM)
    [row] = rows(test_database)
    assert row["id"] == policy_id
    assert row["user_id"] == user_id(test_database, "alice")
    assert (row["name"], row["name_key"]) == ("Payroll", "payroll")
    criteria = json.loads(row["criteria"])
    assert set(criteria) == CRITERIA_FIELDS
    assert criteria["length"] == 10
    assert criteria["symbols"] is False
    assert criteria["min_digits"] == 3
    assert criteria["lowercase"] is True

    response = await alice.get(f"/passwords?policy={policy_id}")
    assert response.status_code == 200
    assert_no_store(response)
    page = await page_text(response)
    assert "Saved the rules “Payroll”." in page
    first = shown_password(page)
    assert first is not None
    assert_meets(first, TEN_CHAR_RULE)
    form = browser_form(page)
    assert (form["length"], form["min_digits"], form["name"]) == ("10", "3", "Payroll")
    assert "symbols" not in form
    assert f'formaction="/passwords/policies/{policy_id}">Update “Payroll”' in page

    again = shown_password((await load(alice, f"/passwords?policy={policy_id}"))[0])
    assert again is not None
    assert again != first
    assert_meets(again, TEN_CHAR_RULE)


async def test_the_list_shows_only_ones_own_rules_by_name(alice: Client, bob: Client) -> None:
    zeta = await create(alice, "zeta")
    alpha = await create(alice, "Alpha")
    await create(bob, "Bob's mail")
    page, _ = await load(alice)
    assert page.index(">Alpha<") < page.index(">zeta<")
    assert f'href="/passwords?policy={alpha}">Generate' in page
    assert f'href="/passwords?policy={zeta}">Generate' in page
    assert "Bob&#39;s mail" not in page
    assert "Bob's mail" not in page


async def test_a_visitor_sees_no_save_form_and_a_login_link(client: Client) -> None:
    page, fields = await load(client)
    assert "name" not in fields
    assert "Save these rules" not in page
    assert 'href="/login?next=%2Fpasswords"' in page or 'href="/login?next=/passwords"' in page


async def test_a_passphrase_policy(alice: Client, test_database: TestDatabase) -> None:
    changes: dict[str, str | None] = {"mode": "passphrase", "words": "4", "separator": "."}
    policy_id = await create(alice, "Wi-Fi", changes)
    assert json.loads(rows(test_database)[0]["criteria"])["mode"] == "passphrase"
    page, _ = await load(alice, f"/passwords?policy={policy_id}")
    passphrase = shown_password(page)
    assert passphrase is not None
    words = passphrase.split(".")
    assert len(words) == 4
    assert set(words) <= set(wordlist())


# --- edit, rename, delete ------------------------------------------------------------------


async def test_edit_and_rename(alice: Client, test_database: TestDatabase) -> None:
    policy_id = await create(alice, "Bank")
    response = await save(
        alice,
        "Bank (new card)",
        {"length": "20", "min_digits": "4"},
        action=f"/passwords/policies/{policy_id}",
        page=f"/passwords?policy={policy_id}",
    )
    assert saved_id(response) == policy_id
    [row] = rows(test_database)
    assert row["name"] == "Bank (new card)"
    criteria = json.loads(row["criteria"])
    assert (criteria["length"], criteria["min_digits"]) == (20, 4)
    page, _ = await load(alice, f"/passwords?policy={policy_id}")
    password = shown_password(page)
    assert password is not None
    assert len(password) == 20
    assert sum(char.isdigit() for char in password) >= 4
    assert "Bank (new card)" in page


async def test_renaming_to_the_same_name_in_another_case(
    alice: Client, test_database: TestDatabase
) -> None:
    policy_id = await create(alice, "bank")
    response = await save(alice, "BANK", action=f"/passwords/policies/{policy_id}")
    assert saved_id(response) == policy_id
    assert [row["name"] for row in rows(test_database)] == ["BANK"]


async def test_delete(alice: Client, test_database: TestDatabase) -> None:
    keep = await create(alice, "Keep")
    policy_id = await create(alice, "Old system")
    response = await post_with_token(alice, f"/passwords/policies/{policy_id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/passwords"
    assert_no_store(response)
    assert [row["id"] for row in rows(test_database)] == [keep]
    page, _ = await load(alice)
    assert "Deleted the rules “Old system”." in page
    assert f"?policy={policy_id}" not in page
    assert (await alice.get(f"/passwords?policy={policy_id}")).status_code == 404


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("duplicate", ["Bank", "bANK", "BANK", "  bank  "])
async def test_a_duplicate_name_ignoring_case_is_refused(
    alice: Client, test_database: TestDatabase, duplicate: str
) -> None:
    await create(alice, "Bank")
    response = await save(alice, duplicate, {"length": "12"})
    assert response.status_code == 400
    assert_no_store(response)
    page = await page_text(response)
    assert error_shown(page, "name") == "You already have rules with that name."
    # The rules are fine: a password that meets them, and the top says what went wrong.
    password = shown_password(page)
    assert password is not None
    assert len(password) == 12
    assert "The rules are not saved:" in page
    assert "Fix the rules marked below" not in page
    kept = browser_form(page)
    assert (kept["name"], kept["length"]) == (duplicate.strip(), "12")
    assert len(rows(test_database)) == 1


async def test_renaming_onto_another_name_is_refused(
    alice: Client, test_database: TestDatabase
) -> None:
    await create(alice, "Bank")
    mail = await create(alice, "Mail")
    before = rows(test_database)
    response = await save(alice, "bank", action=f"/passwords/policies/{mail}")
    assert response.status_code == 400
    assert (
        error_shown(await page_text(response), "name") == "You already have rules with that name."
    )
    assert rows(test_database) == before


async def test_another_user_may_use_the_same_name(
    alice: Client, bob: Client, test_database: TestDatabase
) -> None:
    await create(alice, "Bank")
    await create(bob, "bank")
    assert [row["name_key"] for row in rows(test_database)] == ["bank", "bank"]


async def test_a_name_is_shown_escaped(alice: Client) -> None:
    policy_id = await create(alice, '<b>"Bank"</b>')
    page, _ = await load(alice, f"/passwords?policy={policy_id}")
    assert "<b>" not in page
    assert "&lt;b&gt;&#34;Bank&#34;&lt;/b&gt;" in page


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give these rules a name, like the system they are for."),
        ("   ", "Give these rules a name, like the system they are for."),
        ("x" * 61, "Names are at most 60 characters."),
    ],
)
async def test_a_missing_or_long_name_is_refused(
    alice: Client, test_database: TestDatabase, name: str, message: str
) -> None:
    response = await save(alice, name)
    assert response.status_code == 400
    assert error_shown(await page_text(response), "name") == message
    assert rows(test_database) == []


async def test_a_name_of_60_characters_is_kept_and_spaces_are_tidied(
    alice: Client, test_database: TestDatabase
) -> None:
    await create(alice, "x" * 60)
    await create(alice, "  My \t  bank  ")
    assert [row["name"] for row in rows(test_database)] == ["x" * 60, "My bank"]


async def test_rules_that_cannot_be_met_are_not_saved(
    alice: Client, test_database: TestDatabase
) -> None:
    response = await save(alice, "Bank", {"length": "3"})
    assert response.status_code == 400
    page = await page_text(response)
    assert error_shown(page, "length") == "Must be between 4 and 128"
    assert browser_form(page)["name"] == "Bank"
    assert rows(test_database) == []


# --- only one's own ------------------------------------------------------------------------


async def test_another_users_policy_is_404_as_a_missing_one_is(
    alice: Client, bob: Client, test_database: TestDatabase
) -> None:
    """A 403 would tell bob that alice's policy exists (ids are sequential)."""
    policy_id = await create(alice, "Alice's bank", TEN_CHAR_FORM)
    before = rows(test_database)
    await bob.get("/")  # shows (and so clears) the welcome message
    response = await bob.get(f"/passwords?policy={policy_id}")
    missing = await bob.get(f"/passwords?policy={policy_id + 1}")
    assert response.status_code == missing.status_code == 404
    assert await page_text(response) == await page_text(missing)
    assert_no_store(response)
    edit = await save(bob, "Mine now", action=f"/passwords/policies/{policy_id}")
    assert edit.status_code == 404
    delete = await post_with_token(bob, f"/passwords/policies/{policy_id}/delete")
    assert delete.status_code == 404
    assert rows(test_database) == before


@pytest.mark.parametrize("missing", ["999", "2147483647", "2147483648", "0"])
async def test_a_missing_policy_is_404(alice: Client, missing: str) -> None:
    await create(alice, "Bank")
    assert (await alice.get(f"/passwords?policy={missing}")).status_code == 404
    edit = await save(alice, "Other", action=f"/passwords/policies/{missing}")
    assert edit.status_code == 404
    delete = await post_with_token(alice, f"/passwords/policies/{missing}/delete")
    assert delete.status_code == 404


async def test_visitors_are_sent_to_log_in(
    alice: Client, app: Quart, test_database: TestDatabase
) -> None:
    policy_id = await create(alice, "Bank")
    before = rows(test_database)
    visitor = app.test_client()
    for action in (
        "/passwords/policies",
        f"/passwords/policies/{policy_id}",
        f"/passwords/policies/{policy_id}/delete",
    ):
        response = await save(visitor, "Visitor's", action=action)
        assert response.status_code == 303, action
        assert response.headers["Location"].startswith("/login?next="), action
    assert rows(test_database) == before
    response = await visitor.get(f"/passwords?policy={policy_id}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next=/passwords?policy%3D{policy_id}"


async def test_saving_needs_the_csrf_token(alice: Client, test_database: TestDatabase) -> None:
    policy_id = await create(alice, "Bank")
    for action in (
        "/passwords/policies",
        f"/passwords/policies/{policy_id}",
        f"/passwords/policies/{policy_id}/delete",
    ):
        response = await alice.post(action, form={"name": "Forged", "length": "4"})
        assert response.status_code == 400, action
    assert [row["name"] for row in rows(test_database)] == ["Bank"]


# --- criteria only -------------------------------------------------------------------------


async def test_the_stored_criteria_never_contain_a_password(
    alice: Client, test_database: TestDatabase
) -> None:
    page, fields = await load(alice)
    shown = shown_password(page)
    assert shown is not None
    # Even a client that sends the password along has only the criteria stored.
    form = {**fields, "name": "Bank", "password": shown, "passwords": shown}
    policy_id = saved_id(await alice.post("/passwords/policies", form=form))
    generated = shown_password((await load(alice, f"/passwords?policy={policy_id}"))[0])
    assert generated is not None
    [row] = rows(test_database)
    assert set(json.loads(row["criteria"])) == CRITERIA_FIELDS
    for password in (shown, generated):
        assert password not in row["criteria"]
        assert json.dumps(password)[1:-1] not in row["criteria"]


async def test_a_policy_saved_before_the_rules_tightened_shows_why(
    alice: Client, test_database: TestDatabase
) -> None:
    policy_id = await create(alice, "Legacy")
    criteria = json.loads(rows(test_database)[0]["criteria"])
    criteria["length"] = 500
    test_database.execute(
        "UPDATE saved_policies SET criteria = :criteria WHERE id = :id",
        criteria=json.dumps(criteria),
        id=policy_id,
    )
    response = await alice.get(f"/passwords?policy={policy_id}")
    assert response.status_code == 400
    page = await page_text(response)
    assert error_shown(page, "length") == "Must be between 4 and 128"
    assert shown_password(page) is None
    assert browser_form(page)["length"] == "500"


async def test_at_most_the_cap_is_kept_even_when_two_saves_race(
    alice: Client, test_database: TestDatabase
) -> None:
    """Two saves at once with one place left: on PostgreSQL both would see one place free
    unless the user's saves are serialized; one must be refused."""
    await create(alice, "first")
    [row] = rows(test_database)
    test_database.execute_many(
        "INSERT INTO saved_policies (user_id, name, name_key, criteria, created_at,"
        " updated_at) SELECT user_id, :name, :name, criteria, created_at, updated_at"
        " FROM saved_policies WHERE id = :id",
        [
            {"name": f"copy {number}", "id": row["id"]}
            for number in range(MAX_POLICIES_PER_USER - 2)  # one place left
        ],
    )
    first, second = await asyncio.gather(save(alice, "racer a"), save(alice, "racer b"))
    assert sorted([first.status_code, second.status_code]) == [303, 400]
    refused = first if first.status_code == 400 else second
    message = f"You can keep at most {MAX_POLICIES_PER_USER} saved rules."
    assert message in await page_text(refused)
    assert len(rows(test_database)) == MAX_POLICIES_PER_USER
