"""Writing, reading, editing and deleting entries."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.database import TestDatabase
from tests.helpers import AuthActions, csrf_token, page_text, post_form
from tests.test_security import checked_page, second_user


async def post_entry_form(client: Client, fields: dict[str, str]) -> Response:
    return await post_form(client, "/entries", fields, token_from="/")


def entry_row(test_database: TestDatabase, entry_id: int) -> tuple[str, str, str, Any]:
    rows = test_database.rows(
        "SELECT title, body, visibility, updated_at FROM entries WHERE id = :id", id=entry_id
    )
    assert len(rows) == 1
    title, body, visibility, updated_at = rows[0]
    return title, body, visibility, updated_at


def field_error(page: str, field: str) -> str:
    """The error shown next to a field (its ``<p class="error">``), or ''."""
    if field == "visibility":
        match = re.search(r'<fieldset[^>]*has-error.*?<p class="error">(.*?)</p>', page, re.S)
    else:
        match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


# --- writing --------------------------------------------------------------------------


async def test_posting_redirects_to_the_new_entry(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    response = await post_entry_form(
        client, {"title": "My day", "body": "It was *fine*.", "visibility": "public"}
    )
    assert response.status_code == 303
    match = re.fullmatch(r"/entries/(\d+)", response.headers["Location"])
    assert match is not None
    entry_id = int(match.group(1))
    assert entry_row(test_database, entry_id) == ("My day", "It was *fine*.", "public", None)
    author = test_database.rows(
        "SELECT users.username FROM entries JOIN users ON users.id = entries.author_id",
    )
    assert author == [("alice",)]

    page = await checked_page(await client.get(f"/entries/{entry_id}"))
    assert "My day" in page
    assert "<em>fine</em>" in page
    assert "Your entry is posted." in page


async def test_a_new_account_writes_privately_by_default_and_can_choose_otherwise(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    checked = re.compile(r'name="visibility" value="(\w+)" checked')
    assert checked.findall(await page_text(await client.get("/"))) == ["private"]
    response = await post_entry_form(client, {"body": "no visibility sent"})
    assert response.status_code == 303
    entry_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert entry_row(test_database, entry_id)[2] == "private"

    saved = await post_form(
        client,
        "/account/profile",
        {"about": "", "default_visibility": "public"},
        token_from="/account",
    )
    assert saved.status_code == 303
    assert test_database.rows("SELECT default_visibility FROM users") == [("public",)]
    assert checked.findall(await page_text(await client.get("/"))) == ["public"]
    refused = await post_form(
        client,
        "/account/profile",
        {"about": "kept", "default_visibility": "friends"},
        token_from="/account",
    )
    assert refused.status_code == 400
    assert "kept</textarea>" in await page_text(refused)


async def test_title_is_optional_and_private_is_kept(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("untitled", title="", visibility="private")
    assert entry_row(test_database, entry_id)[:3] == ("", "untitled", "private")


@pytest.mark.parametrize(
    ("title", "body"),
    [("t" * 200, "b"), ("", "b" * 20_000), ("  padded title  ", "  spaced body  ")],
)
async def test_the_largest_valid_entry_is_accepted(
    client: Client, auth: AuthActions, test_database: TestDatabase, title: str, body: str
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry(body, title=title)
    stored_title, stored_body, _, _ = entry_row(test_database, entry_id)
    assert stored_title == title.strip()
    assert stored_body == body


BAD_FORMS = [
    ({"title": "t" * 201, "body": "ok"}, "title", "at most 200"),
    ({"title": "ok", "body": ""}, "body", "Write something first."),
    ({"title": "ok", "body": "   \n\t  "}, "body", "Write something first."),
    ({"title": "ok"}, "body", "Write something first."),
    ({"title": "ok", "body": "b" * 20_001}, "body", "at most 20,000"),
    ({"title": "ok", "body": "ok", "visibility": "friends"}, "visibility", "'public' or 'private'"),
    ({"title": "ok", "body": "ok", "visibility": "PUBLIC"}, "visibility", "'public' or 'private'"),
    ({"title": "ok", "body": "ok", "visibility": ""}, "visibility", "'public' or 'private'"),
]


@pytest.mark.parametrize(("fields", "field", "message"), BAD_FORMS)
async def test_a_bad_entry_is_refused_with_the_error_by_its_field(
    client: Client,
    auth: AuthActions,
    test_database: TestDatabase,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    await auth.register_and_login("alice")
    before = test_database.snapshot()
    response = await post_entry_form(client, fields)
    assert response.status_code == 400
    page = await checked_page(response)
    assert message in field_error(page, field)
    for other in {"title", "body", "visibility"} - {field}:
        assert field_error(page, other) == ""
    assert test_database.snapshot() == before
    assert test_database.count("entries") == 0


async def test_a_bad_entry_keeps_what_the_writer_typed(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    body = "My <long> & careful\nentry " + "x" * 20_000
    response = await post_entry_form(
        client, {"title": 'A "quoted" title', "body": body, "visibility": "private"}
    )
    assert response.status_code == 400
    page = await checked_page(response)
    assert (
        'value="A &#34;quoted&#34; title"' in page or 'value="A &quot;quoted&quot; title"' in page
    )
    textarea = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea is not None
    assert html.unescape(textarea.group(1)).strip("\r\n") == body
    assert re.search(r'value="private" checked', page)
    assert not re.search(r'value="public" checked', page)
    assert test_database.count("entries") == 0


async def test_a_visitor_cannot_post(app: Quart, test_database: TestDatabase) -> None:
    visitor = app.test_client()
    token = await csrf_token(visitor, "/login")
    response = await visitor.post("/entries", form={"csrf_token": token, "body": "hi"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert test_database.count("entries") == 0


# --- reading --------------------------------------------------------------------------


MISSING_ENTRIES = [
    "/entries/0",
    "/entries/-1",
    "/entries/abc",
    "/entries/1.5",
    "/entries/99999999999999999999",
    "/entries/2147483648",
    "/entries/" + "9" * 5000,
    "/entries/12345",
]


async def test_missing_entries_are_404(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("exists")
    token = await csrf_token(client, "/")
    for path in MISSING_ENTRIES:
        for suffix in ("", "/edit"):
            response = await client.get(path + suffix)
            assert response.status_code == 404, path + suffix
            assert "Not found" in await checked_page(response)
        for suffix in ("/edit", "/delete"):
            response = await client.post(path + suffix, form={"csrf_token": token, "body": "x"})
            assert response.status_code == 404, path + suffix
            await checked_page(response)


async def test_entries_show_to_visitors(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Plain **text**", title="Hello")
    response = await app.test_client().get(f"/entries/{entry_id}")
    assert response.status_code == 200
    page = await checked_page(response)
    assert "<strong>text</strong>" in page
    assert 'href="/u/alice"' in page
    assert f"/entries/{entry_id}/edit" not in page  # no edit link for a visitor


# --- editing --------------------------------------------------------------------------


async def test_the_edit_form_is_prefilled(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry(
        "Body with <angle> & amp", title="Old title", visibility="private"
    )
    response = await client.get(f"/entries/{entry_id}/edit")
    assert response.status_code == 200
    page = await checked_page(response)
    assert 'value="Old title"' in page
    textarea = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea is not None
    assert html.unescape(textarea.group(1)).strip("\r\n") == "Body with <angle> & amp"
    assert 'value="private" checked' in page
    assert f'action="/entries/{entry_id}/edit"' in page


async def test_editing_saves_and_marks_the_entry_edited(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("first *draft*", title="Draft")
    page = await checked_page(await client.get(f"/entries/{entry_id}"))
    assert "edited" not in page

    response = await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": "Final", "body": "final **text**", "visibility": "private"},
        token_from="/",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/entries/{entry_id}"
    title, body, visibility, updated_at = entry_row(test_database, entry_id)
    assert (title, body, visibility) == ("Final", "final **text**", "private")
    assert updated_at is not None
    stored_html = test_database.rows("SELECT body_html FROM entries WHERE id = :id", id=entry_id)
    assert stored_html[0][0].strip() == "<p>final <strong>text</strong></p>"

    page = await checked_page(await client.get(f"/entries/{entry_id}"))
    assert re.search(r'class="edited">· edited <time datetime="[^"]+Z">', page)
    assert "<strong>text</strong>" in page
    assert "first *draft*" not in page
    assert "<em>draft</em>" not in page


async def test_a_bad_edit_changes_nothing(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("keep me", title="Keep")
    before = test_database.snapshot()
    response = await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": "New", "body": "   ", "visibility": "public"},
        token_from="/",
    )
    assert response.status_code == 400
    page = await checked_page(response)
    assert "Write something first." in field_error(page, "body")
    assert 'value="New"' in page
    assert test_database.snapshot() == before


async def test_deleting_removes_the_entry(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    keep = await auth.post_entry("keep")
    gone = await auth.post_entry("gone")
    response = await post_form(client, f"/entries/{gone}/delete", {}, token_from="/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert [row[0] for row in test_database.rows("SELECT id FROM entries")] == [keep]
    assert (await client.get(f"/entries/{gone}")).status_code == 404


async def test_another_user_cannot_edit_or_delete(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("alice's words", title="Alice")
    bob, _ = await second_user(app, "bob")
    before = test_database.snapshot()

    response = await bob.get(f"/entries/{entry_id}/edit")
    assert response.status_code == 403
    assert "Not yours" in await checked_page(response)
    token = await csrf_token(bob, "/")
    for path, form in [
        (f"/entries/{entry_id}/edit", {"title": "Bob", "body": "bob's words"}),
        (f"/entries/{entry_id}/delete", {}),
    ]:
        response = await bob.post(path, form={"csrf_token": token, **form})
        assert response.status_code == 403, path
        await checked_page(response)
    assert test_database.snapshot() == before
    page = await checked_page(await bob.get(f"/entries/{entry_id}"))
    assert f"/entries/{entry_id}/edit" not in page
    assert f"/entries/{entry_id}/delete" not in page


async def test_visitors_are_sent_to_log_in(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("alice's words")
    before = test_database.snapshot()
    visitor = app.test_client()

    response = await visitor.get(f"/entries/{entry_id}/edit")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next=/entries/{entry_id}/edit"
    await checked_page(response)

    token = await csrf_token(visitor, "/login")
    for path in (f"/entries/{entry_id}/edit", f"/entries/{entry_id}/delete"):
        response = await visitor.post(path, form={"csrf_token": token, "body": "visitor"})
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login?next=")
    assert test_database.snapshot() == before


async def test_logging_in_returns_to_the_edit_page(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("alice's words")
    await auth.logout()
    response = await auth.client.get(f"/entries/{entry_id}/edit")
    location = response.headers["Location"]
    response = await auth.login("alice", next_url=location.split("next=", 1)[1])
    assert response.status_code == 303
    assert response.headers["Location"] == f"/entries/{entry_id}/edit"
    assert (await auth.client.get(response.headers["Location"])).status_code == 200


@pytest.mark.parametrize("action", ["/entries", "/entries/{id}/edit", "/entries/{id}/delete"])
async def test_a_post_after_the_session_ended_leads_back_to_a_working_page(
    app: Quart, auth: AuthActions, action: str
) -> None:
    """The login page sends the writer on to a page a GET can show, never a 405."""
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("alice's words")
    await auth.logout()
    token = await csrf_token(auth.client, "/login")
    response = await auth.client.post(
        action.format(id=entry_id), form={"csrf_token": token, "body": "after logout"}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    response = await auth.login("alice", next_url=location.split("next=", 1)[1])
    assert response.status_code == 303
    landing = await auth.client.get(response.headers["Location"])
    assert landing.status_code == 200, response.headers["Location"]
    await checked_page(landing)


async def test_the_blank_compose_form_rendered_once_is_the_form_itself(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    """The home page's blank compose fields are rendered once per app (routes.py): they
    are what the form renders, and a refused post's text never becomes them."""
    await auth.register_and_login("alice")
    first = await (await client.get("/")).get_data(as_text=True)
    refused = await post_entry_form(client, {"title": "Kept title", "body": "", "visibility": "x"})
    refused_page = await refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Kept title" in refused_page
    assert field_error(refused_page, "body")
    again = await (await client.get("/")).get_data(as_text=True)
    assert "Kept title" not in again
    assert not field_error(again, "body")

    async with app.test_request_context("/"):
        from quart import render_template

        from quartapp.journal.forms import EntryForm

        fresh = await render_template("journal/_entry_fields.html", form=EntryForm())
    for page in (first, again):
        assert fresh.strip() in page
        assert '<textarea aria-describedby="body-hint" data-max="20000" id="body"' in page
