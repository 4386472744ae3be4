"""Tags on cards, a tag's page and a writer's tags on their profile."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, titles


async def test_a_tag_page_lists_what_the_viewer_may_read_newest_first(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("Out on the #Sea", title="First")
    await auth.post_entry("Only for me, #sea", title="Private", visibility="private")
    await auth.post_entry("Up in the #hills", title="Hills")
    await auth.post_entry("Back to the #sea", title="Second")

    mine = await page_text(await client.get("/tags/sea"))
    assert titles(mine) == ["Second", "Private", "First"]
    assert titles(await page_text(await client.get("/tags/SEA"))) == titles(mine)
    assert "data-live-seq" not in mine  # not kept live: live updates know nothing of tags

    await auth.logout()
    assert titles(await page_text(await client.get("/tags/sea"))) == ["Second", "First"]
    empty = await page_text(await client.get("/tags/nothing-here"))
    assert "No entry you can read has this tag." in empty
    assert (await client.get("/tags/1234")).status_code == 404  # no letter: never a tag
    assert (await client.get("/tags/sea?before=x")).status_code == 400


async def test_cards_link_their_tags_and_profiles_count_them(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("A #walk by the #Sea, `#notatag`", title="Walk")
    await auth.post_entry("Another #walk", title="Again")
    await auth.post_entry("A private #diary entry", title="Diary", visibility="private")

    card = await page_text(await client.get(f"/entries/{entry_id}"))
    assert re.findall(r'<a href="/tags/([^"]+)">#', card) == ["walk", "sea"]

    own = await page_text(await client.get("/u/alice"))
    counts = re.findall(r'<a href="/tags/([^"]+)">#[^<]+</a> <span class="count">(\d+)', own)
    assert counts == [("walk", "2"), ("diary", "1"), ("sea", "1")]
    await auth.logout()
    public = await page_text(await client.get("/u/alice"))
    counts = re.findall(r'<a href="/tags/([^"]+)">#[^<]+</a> <span class="count">(\d+)', public)
    assert counts == [("walk", "2"), ("sea", "1")]  # a private entry's tags are not told
