"""GET /search through the app, on the test database (SQLite, or PostgreSQL with
TEST_DATABASE_URL): what it finds, what it never shows, and the index kept in step."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from quart.typing import TestClientProtocol as Client

from quartapp.search import index, routes
from tests.conftest import ON_POSTGRES, Start
from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, page_text, post_form


async def found_titles(client: Client, query: str, **params: str) -> list[str]:
    response = await client.get("/search", query_string={"q": query, **params})
    text = await page_text(response)
    assert response.status_code == 200, text
    titles = re.findall(r'<h3 class="entry-title"><a href="/entries/\d+">(.*?)</a></h3>', text)
    return [re.sub(r"</?mark>", "", title) for title in titles]


@pytest.fixture
async def alice(auth: AuthActions, test_database: TestDatabase) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def test_words_are_found_without_their_accents_or_case(
    client: Client, alice: AuthActions
) -> None:
    await alice.post_entry("We had coffee at the **Café** de Flore.", title="Paris")
    await alice.post_entry("Nothing about drinks here.", title="Other")
    assert await found_titles(client, "cafe") == ["Paris"]
    assert await found_titles(client, "CAFÉ") == ["Paris"]
    assert await found_titles(client, "caf") == ["Paris"]  # as typed, the start of a word
    assert await found_titles(client, '"de flore"') == ["Paris"]
    assert await found_titles(client, '"flore de"') == []
    assert await found_titles(client, "paris") == ["Paris"]  # the title counts
    assert await found_titles(client, "cafe -flore") == []


async def test_phrases_find_their_words_together_and_in_order(
    client: Client, alice: AuthActions
) -> None:
    """Phrases are looked up by their pairs of neighbouring words (``text.pairs``); the
    answers must be those of the words themselves, in order."""
    await alice.post_entry("The path of to and fro, then up the hill.", title="Walk")
    await alice.post_entry("To of the sea, fro and to.", title="Sea")
    await alice.post_entry("A fine day by the harbour.", title="Fine day")
    newest = {"sort": "newest"}
    assert await found_titles(client, '"of to"') == ["Walk"]
    assert await found_titles(client, '"to of"') == ["Sea"]
    assert await found_titles(client, '"and fro then"') == ["Walk"]
    assert await found_titles(client, '"fro and to"') == ["Sea"]
    assert await found_titles(client, '"and to fro"') == []  # each pair is there, apart
    assert await found_titles(client, '"fine day"') == ["Fine day"]  # title and text
    assert await found_titles(client, '"day fine"') == []
    assert await found_titles(client, 'the -"of to"', **newest) == ["Fine day", "Sea"]
    assert await found_titles(client, 'the -"of to the"', **newest) == ["Fine day", "Sea", "Walk"]
    assert await found_titles(client, '"sea fro"') == ["Sea"]  # punctuation is no break


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: SQLite has no languages")
async def test_a_language_that_stems_words_finds_a_phrase_by_its_stems(started: Start) -> None:
    """Pairs hold the words as written: with a stemming language, a phrase is matched word
    by word, as the language's stems, and not by its pairs."""
    app = await started(search_language="english")
    writer = AuthActions(app.test_client())
    await writer.register_and_login("alice")
    await writer.post_entry("We were walking the dogs by the river.", title="Evening")
    assert await found_titles(writer.client, '"walk dog"') == []  # "the" stands between
    assert await found_titles(writer.client, '"walked the dog"') == ["Evening"]
    assert await found_titles(writer.client, '-"walked the dog" river') == []


async def test_the_snippet_marks_the_words_and_cannot_carry_markup(
    client: Client, alice: AuthActions
) -> None:
    await alice.post_entry(
        "A <script>alert(1)</script> tag written as text, and the word harbour.",
        title="<b>bold?</b>",
    )
    text = await page_text(await client.get("/search?q=harbour"))
    assert "<mark>harbour</mark>" in text
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;bold?&lt;/b&gt;" in text
    assert "<b>bold?" not in text


async def test_nobody_sees_another_writers_private_entry(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("A secret lighthouse.", title="Mine", visibility="private")
    await auth.post_entry("A public lighthouse.", title="Shared", visibility="public")
    assert await found_titles(client, "lighthouse", sort="newest") == ["Shared", "Mine"]
    await auth.logout()
    assert await found_titles(client, "lighthouse") == ["Shared"]  # a visitor
    await auth.register_and_login("bob")
    assert await found_titles(client, "lighthouse") == ["Shared"]
    assert await found_titles(client, "secret") == []
    assert await found_titles(client, "lighthouse", mine="1") == []


async def test_filters_narrow_by_writer_tag_and_dates(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("Rain on the #sea", title="A")
    await post_form(
        client,
        "/entries",
        {"title": "B", "body": "Rain in the #hills", "visibility": "public",
         "written_at": "2024-03-02T10:00", "time_zone": "UTC"},
        token_from="/",
    )  # fmt: skip
    await auth.logout()
    await auth.register_and_login("bob")
    await auth.post_entry("Rain by the #sea too", title="C")
    assert sorted(await found_titles(client, "rain")) == ["A", "B", "C"]
    assert sorted(await found_titles(client, "rain", author="alice")) == ["A", "B"]
    assert sorted(await found_titles(client, "rain", tag="#Sea")) == ["A", "C"]
    assert await found_titles(client, "rain", **{"from": "2024-03-01", "to": "2024-03-02"}) == ["B"]
    assert await found_titles(client, "rain", mine="1") == ["C"]
    assert await found_titles(client, "hills") == ["B"]  # a tag's word is a word too


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"q": '"open'}, "quotation mark is not closed"),
        ({"q": "-only -out"}, "not only what to leave out"),
        ({"q": "x" * 1_000}, "at most 200 characters; this one has 1,000"),
        ({"q": "rain", "author": "nobody"}, "No writer here is called “nobody”"),
        ({"q": "rain", "tag": "a b"}, "A tag is letters"),
        ({"q": "rain", "from": "yesterday"}, "From: give a date as YYYY-MM-DD"),
        ({"q": "rain", "from": "2024-05-02", "to": "2024-05-01"}, "is before the “from” date"),
        ({"q": "rain", "page": "0"}, "The page must be a number from 1 to 15"),
        ({"q": "rain", "sort": "random"}, "Sort by “relevance” or “newest”"),
        ({"q": "rain", "mine": "1"}, "Log in to search only your own entries"),
        ({"q": "rain", "tag": "t" * 101}, "at most 100 characters"),
    ],
)
async def test_a_bad_search_is_a_400_that_says_why_and_keeps_the_words(
    client: Client, params: dict[str, str], reason: str
) -> None:
    response = await client.get("/search", query_string=params)
    text = await page_text(response)
    assert response.status_code == 400
    assert reason in text
    assert 'name="q" value="' + str(escape(params["q"]))[:50] in text


async def test_the_index_keeps_in_step_with_edits_deletions_and_accounts(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    entry_id = await alice.post_entry("The first draft mentions albatross.", title="Birds")
    assert await found_titles(client, "albatross") == ["Birds"]
    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": "Birds", "body": "Now only puffins. #seabirds", "visibility": "public"},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert await found_titles(client, "albatross") == []
    assert await found_titles(client, "puffins") == ["Birds"]
    assert test_database.rows("SELECT tag FROM entry_tags") == [("seabirds",)]
    await post_form(
        client, f"/entries/{entry_id}/delete", {}, token_from=f"/entries/{entry_id}/edit"
    )
    assert await found_titles(client, "puffins") == []
    assert test_database.rows("SELECT COUNT(*) FROM entry_search") == [(0,)]
    assert test_database.rows("SELECT COUNT(*) FROM entry_tags") == [(0,)]

    await alice.post_entry("Kept until the account goes. #last", title="Last")
    assert await found_titles(client, "last") == ["Last"]
    assert test_database.rows("SELECT COUNT(*) FROM entry_search") == [(1,)]
    deleted = await post_form(
        client, "/account/delete", {"password": DEFAULT_PASSWORD},
        token_from="/account",
    )  # fmt: skip
    assert deleted.status_code in (302, 303), await page_text(deleted)
    assert test_database.rows("SELECT COUNT(*) FROM entry_search") == [(0,)]
    assert test_database.rows("SELECT COUNT(*) FROM entry_tags") == [(0,)]


async def test_results_page_on(client: Client, alice: AuthActions) -> None:
    for n in range(23):
        await alice.post_entry(f"Walk number {n}", title=f"Walk {n}")
    first = await found_titles(client, "walk", sort="newest")
    second = await found_titles(client, "walk", sort="newest", page="2")
    assert first == [f"Walk {n}" for n in range(22, 2, -1)]
    assert second == ["Walk 2", "Walk 1", "Walk 0"]
    text = await page_text(await client.get("/search?q=walk&sort=newest"))
    assert 'rel="next"' in text
    text = await page_text(await client.get("/search?q=walk&sort=newest&page=2"))
    assert 'rel="next"' not in text
    assert 'rel="prev"' in text


async def test_the_last_page_says_how_to_find_what_is_further(
    client: Client, alice: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PAGES_MAX", 2)
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    for n in range(5):
        await alice.post_entry(f"Walk number {n}", title=f"Walk {n}")
    for sort in ("relevance", "newest"):
        text = await page_text(await client.get(f"/search?q=walk&sort={sort}&page=2"))
        assert 'rel="next"' not in text
        assert "A search shows its first 4 results: add a word" in text
        text = await page_text(await client.get(f"/search?q=walk&sort={sort}"))
        assert 'rel="next"' in text
        assert "A search shows its first" not in text


async def test_best_match_puts_title_and_tags_first_then_the_newest(
    client: Client, alice: AuthActions
) -> None:
    await alice.post_entry("Walked to the lock and back.", title="Plain")
    await alice.post_entry("Nothing about it here.", title="Heron at the lock")
    await alice.post_entry("Saw a heron by the lock.", title="Older mention")
    await alice.post_entry("Another heron, same lock.", title="Newer mention")
    assert await found_titles(client, "heron") == [
        "Heron at the lock",  # in the title: weighs most
        "Newer mention",  # the same in the text: newest first
        "Older mention",
    ]


async def test_best_match_ranks_the_newest_matches_only(
    client: Client, alice: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranking every match of a common word was too slow: the newest RANKED are ranked
    (300, as many as the result pages go to); "newest" order finds every match."""
    monkeypatch.setattr(index, "RANKED", 2)
    await alice.post_entry("Nothing else.", title="Heron first")  # the best, and the oldest
    await alice.post_entry("A heron here.", title="Second")
    await alice.post_entry("A heron there.", title="Third")
    assert await found_titles(client, "heron") == ["Third", "Second"]
    assert await found_titles(client, "heron", sort="newest") == [
        "Third",
        "Second",
        "Heron first",
    ]
