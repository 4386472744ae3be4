"""An entry's history (quartapp/journal/history.py, history_routes.py): every edit keeps
the text before it; the author lists versions, reads what changed and restores one."""

from __future__ import annotations

import html

from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.journal.history import DiffLine, line_diff
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form


async def edit(
    client: Client, entry_id: int, body: str, title: str = "Day", visibility: str = "private"
) -> None:
    response = await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": title, "body": body, "visibility": visibility},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert response.status_code == 303


def test_the_diff_shows_changed_lines_with_a_little_context() -> None:
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 2\n", "line two\n").replace("line 19", "line nineteen")
    lines = line_diff(old, new)
    assert DiffLine("removed", "line 2") in lines
    assert DiffLine("added", "line two") in lines
    assert DiffLine("added", "line nineteen") in lines
    assert DiffLine("gap", "") in lines  # lines 6 to 15 are not shown
    assert DiffLine("same", "line 10") not in lines
    assert line_diff("same\ntext", "same\ntext") == []


async def test_edits_keep_versions_that_can_be_compared_and_restored(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("First draft of the day.", title="Day", visibility="private")
    await edit(client, entry_id, "Second go at the day.")
    await edit(client, entry_id, "Second go at the day.")  # no change: no new version
    await edit(client, entry_id, "Third, and <b>final</b>.")
    rows = test_database.rows(
        "SELECT id, body FROM entry_versions WHERE entry_id = :id ORDER BY id", id=entry_id
    )
    assert [body for _, body in rows] == ["First draft of the day.", "Second go at the day."]

    page = await page_text(await client.get(f"/entries/{entry_id}/history"))
    assert page.count('class="version"') == 3
    first_id = rows[0][0]
    diff = await page_text(await client.get(f"/entries/{entry_id}/history?from={first_id}&to=now"))
    assert '<del class="diff-line">− First draft of the day.</del>' in diff
    assert '<ins class="diff-line">+ Third, and &lt;b&gt;final&lt;/b&gt;.</ins>' in diff

    restored = await post_form(
        client,
        f"/entries/{entry_id}/history/{first_id}/restore",
        {},
        token_from=f"/entries/{entry_id}/history",
    )
    assert restored.status_code == 303
    assert test_database.rows("SELECT body FROM entries") == [("First draft of the day.",)]
    # Restoring is an edit: what it replaced is a version too.
    assert len(test_database.rows("SELECT id FROM entry_versions")) == 3
    entry_page = await page_text(await client.get(f"/entries/{entry_id}"))
    assert "<p>First draft of the day.</p>" in entry_page
    assert "edited" in entry_page

    deleted = await post_form(
        client, f"/entries/{entry_id}/delete", {}, token_from=f"/entries/{entry_id}/edit"
    )
    assert deleted.status_code == 303
    assert test_database.rows("SELECT id FROM entry_versions") == []


async def test_only_the_author_sees_or_restores_the_history(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Public words.", visibility="public")
    await edit(client, entry_id, "Changed words.", visibility="public")
    ((version_id,),) = test_database.rows("SELECT id FROM entry_versions")
    bob = AuthActions(app.test_client())
    await bob.register_and_login("bob")
    assert (await bob.client.get(f"/entries/{entry_id}/history")).status_code == 403
    refused = await post_form(
        bob.client, f"/entries/{entry_id}/history/{version_id}/restore", {}, token_from="/"
    )
    assert refused.status_code == 403
    visitor = app.test_client()
    assert (await visitor.get(f"/entries/{entry_id}/history")).status_code == 303  # log in
    assert test_database.rows("SELECT body FROM entries") == [("Changed words.",)]
    for query in ("from=abc", "from=999", f"from={version_id}&to=x"):
        response = await client.get(f"/entries/{entry_id}/history?{query}")
        assert response.status_code in (400, 404), query
    page = html.unescape(await page_text(await client.get(f"/entries/{entry_id}/history")))
    assert "2 words · 14 characters · public" in page  # now: "Changed words."
    assert "2 words · 13 characters · public" in page  # before: "Public words."
