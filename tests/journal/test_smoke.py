from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from tests.helpers import AuthActions, page_text


async def test_writer_posts_and_sees_entry(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Hello **world**", title="First")
    home = await page_text(await client.get("/"))
    assert "<strong>world</strong>" in home
    assert f'id="entry-{entry_id}"' in home
    profile = await page_text(await client.get("/u/alice"))
    assert "First" in profile
