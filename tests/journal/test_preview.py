"""``POST /api/preview`` (quartapp/journal/preview.py): the renderer's own HTML for what is
being written, for a signed-in writer with the page's token, rate limited."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.config import RateLimitSpec
from tests.database import TestDatabase
from tests.helpers import AuthActions, csrf_token

MARKDOWN = (
    "# A day\n\nSee https://example.com, ~~not~~ this.\n\n- [x] walked\n- [ ] wrote\n\n"
    "A note.[^1]\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n[^1]: Footnote.\n"
)


async def preview(client: Client, body: Any, token: str | None) -> Any:
    headers = {"X-CSRF-Token": token} if token is not None else {}
    response = await client.post("/api/preview", json={"body": body}, headers=headers)
    return response.status_code, await response.get_json()


async def test_the_preview_is_exactly_the_posted_entry(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    token = await csrf_token(client, "/")
    status, answer = await preview(client, MARKDOWN, token)
    assert status == 200
    entry_id = await auth.post_entry(MARKDOWN)
    ((stored,),) = test_database.rows("SELECT body_html FROM entries WHERE id = :id", id=entry_id)
    assert answer["html"] == stored
    assert "<h3>A day</h3>" in stored
    assert test_database.rows("SELECT COUNT(*) FROM drafts") == [(0,)]  # nothing kept


async def test_a_preview_needs_the_pages_token_and_a_writer(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    visitor = app.test_client()
    status, answer = await preview(visitor, "x", await csrf_token(visitor, "/login"))
    assert status == 401
    await auth.register_and_login("alice")
    token = await csrf_token(client, "/")
    for wrong in (None, "", "x" * len(token)):
        status, answer = await preview(client, "x", wrong)
        assert status == 403, wrong
        assert "X-CSRF-Token" in answer["error"]["message"]
    not_json = await client.post("/api/preview", data="body=x", headers={"X-CSRF-Token": token})
    assert not_json.status_code == 415
    for bad in (None, 5, ["x"]):
        status, answer = await preview(client, bad, token)
        assert status == 400, bad
    status, answer = await preview(client, "x" * 20_001, token)
    assert status == 400
    assert "at most 20,000 characters" in answer["error"]["message"]


async def test_previews_are_rate_limited(started: Any, test_database: TestDatabase) -> None:
    app: Quart = await started(rate_limit_drafts=RateLimitSpec.parse("X", "2/minute"))
    client = app.test_client()
    auth = AuthActions(client)
    await auth.register_and_login("alice")
    token = await csrf_token(client, "/")
    assert [(await preview(client, "x", token))[0] for _ in range(3)] == [200, 200, 429]
