"""Atom feeds (quartapp/feeds/): valid Atom 1.0 as a feed reader reads it (feedparser),
public entries only, edits in <updated>, and 304 when nothing changed."""

from __future__ import annotations

import feedparser
from quart.typing import TestClientProtocol as Client

from tests.helpers import AuthActions, page_text, post_form


async def read_feed(client: Client, path: str) -> feedparser.FeedParserDict:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(await response.get_data())
    assert not parsed.bozo, parsed.bozo_exception  # well-formed
    assert parsed.version == "atom10"
    return parsed


async def test_feeds_hold_public_entries_only_with_their_html(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    public_id = await auth.post_entry("Out at **sea**. #sea", title="Sea <b>day</b>")
    await auth.post_entry("Secret harbour. #sea", title="Private", visibility="private")
    await auth.post_entry("An untitled walk along the cliffs at dawn with the dog and a flask")

    # Asked while signed in as the writer: a feed is what anyone may read all the same.
    for path in ("/feed.atom", "/u/alice/feed.atom", "/tags/sea/feed.atom"):
        feed = await read_feed(client, path)
        titles = [entry.title for entry in feed.entries]
        assert "Private" not in titles
        assert all("Secret" not in entry.content[0].value for entry in feed.entries)
    feed = await read_feed(client, "/feed.atom")
    assert [entry.title for entry in feed.entries] == [
        "An untitled walk along the cliffs at dawn with the…",  # its first ten words
        "Sea <b>day</b>",  # a title is text, whatever it looks like
    ]
    sea = feed.entries[1]
    assert sea.link == f"http://localhost/entries/{public_id}"
    assert sea.author == "alice"
    assert "<strong>sea</strong>" in sea.content[0].value
    assert sea.content[0].type == "text/html"
    tagged = await read_feed(client, "/tags/sea/feed.atom")
    assert [entry.title for entry in tagged.entries] == ["Sea <b>day</b>"]
    assert tagged.feed.links[0].href == "http://localhost/tags/sea/feed.atom"

    home = await page_text(await client.get("/"))
    assert '<link rel="alternate" type="application/atom+xml"' in home
    assert (await client.get("/u/nobody/feed.atom")).status_code == 404
    assert (await client.get("/tags/123/feed.atom")).status_code == 404


async def test_an_unchanged_feed_answers_304_and_an_edit_changes_it(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("First words.", title="Day")
    first = await client.get("/u/alice/feed.atom")
    etag = first.headers["ETag"]
    again = await client.get("/u/alice/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert await again.get_data() == b""
    since = await client.get(
        "/u/alice/feed.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304

    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": "Day", "body": "Better words.", "visibility": "public"},
        token_from=f"/entries/{entry_id}/edit",
    )
    changed = await client.get("/u/alice/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    feed = feedparser.parse(await changed.get_data())
    entry = feed.entries[0]
    assert entry.updated_parsed >= entry.published_parsed
    assert "Better words." in entry.content[0].value
