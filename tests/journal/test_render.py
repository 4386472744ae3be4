"""Markdown rendered and sanitized at write time; everything else autoescaped; UTC times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.config import RateLimitSpec
from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.render import ALLOWED_TAGS, render_markdown
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions, post_form
from tests.test_security import checked_page, scan_html


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """These tests post dozens of entries in a second; the writes limit is tested on its own."""
    return {"rate_limit_writes": RateLimitSpec(1000, timedelta(minutes=1))}


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '<div onclick="alert(1)">x</div>',
    "<a href='x' onclick='alert(1)'>x</a>",
    '<a href="javascript:alert(1)">raw html link</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](data:image/png;base64,iVBORw0KGgo=)",  # markdown-it allows it; nh3 must not
    "[x](DATA:image/svg+xml;base64,PHN2Zz4=)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,x>",
    "<data:image/png;base64,AAAA>",
    "[a][r]\n\n[r]: javascript:alert(1)",
    "[a][r]\n\n[r]: data:image/png;base64,AAAA",
    "[a][r]\n\n[r]: vbscript:msgbox(1)",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,AAAA)",
    '[x](https://example.com "t\\" onclick=\\"alert(1)")',
    '[x](https://example.com/" onmouseover="alert(1))',
    "```js onclick=alert(1)\ncode\n```",
    "`<script>alert(1)</script>`",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "**<img src=x onerror=alert(1)>**",
    "> <script>alert(1)</script>",
]


def stored_html(test_database: TestDatabase, entry_id: int) -> str:
    value: str = test_database.scalar("SELECT body_html FROM entries WHERE id = :id", id=entry_id)
    return value


def assert_harmless(fragment: str, payload: str) -> None:
    scanner = scan_html(fragment)
    assert scanner.problems == [], (payload, fragment)
    assert {tag for tag, _ in scanner.tags} <= ALLOWED_TAGS, (payload, fragment)
    assert "<script" not in fragment.lower(), (payload, fragment)


async def test_xss_payloads_never_survive(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    for payload in XSS_PAYLOADS:
        entry_id = await auth.post_entry(payload)
        body_html = stored_html(test_database, entry_id)
        assert_harmless(body_html, payload)
        page = await checked_page(await client.get(f"/entries/{entry_id}"))  # scans the page
        assert body_html in page, payload
    home = await checked_page(await client.get("/"))
    assert home.count('class="entry-body"') == 20


async def test_editing_sanitizes_too(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("harmless")
    for payload in ("[x](javascript:alert(1))", "<img src=x onerror=alert(1)>"):
        response = await post_form(
            client, f"/entries/{entry_id}/edit", {"body": payload}, token_from="/"
        )
        assert response.status_code == 303
        assert_harmless(stored_html(test_database, entry_id), payload)
        await checked_page(await client.get(f"/entries/{entry_id}"))


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold** and _it_", "<p><strong>bold</strong> and <em>it</em></p>"),
        ("~~gone~~", "<p><s>gone</s></p>"),
        # An entry's headings start below its title (an h2 on its card).
        ("# Title", "<h3>Title</h3>"),
        ("## Part", "<h4>Part</h4>"),
        ("#### Deep", "<h6>Deep</h6>"),
        ("###### Deepest", "<h6>Deepest</h6>"),
        # Bare links, in text and as www.
        (
            "See https://example.com/a and www.example.org.",
            '<p>See <a href="https://example.com/a" rel="nofollow noopener noreferrer">'
            'https://example.com/a</a> and <a href="http://www.example.org" '
            'rel="nofollow noopener noreferrer">www.example.org</a>.</p>',
        ),
        # Task lists: checkboxes that cannot be changed or sent.
        (
            "- [ ] to do\n- [x] done",
            '<ul class="contains-task-list">\n<li class="task-list-item">'
            '<input class="task-list-item-checkbox" disabled="disabled" type="checkbox">'
            " to do</li>\n"
            '<li class="task-list-item"><input class="task-list-item-checkbox" checked="checked" '
            'disabled="disabled" type="checkbox"> done</li>\n</ul>',
        ),
        # A column's alignment, as a class (no inline style gets past the CSP).
        (
            "| a | b | c |\n|:-|:-:|-:|\n| 1 | 2 | 3 |",
            '<table>\n<thead>\n<tr>\n<th class="align-left">a</th>\n'
            '<th class="align-center">b</th>\n<th class="align-right">c</th>\n</tr>\n'
            '</thead>\n<tbody>\n<tr>\n<td class="align-left">1</td>\n'
            '<td class="align-center">2</td>\n<td class="align-right">3</td>\n</tr>\n'
            "</tbody>\n</table>",
        ),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("3. c", '<ol start="3">\n<li>c</li>\n</ol>'),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("`a < b`", "<p><code>a &lt; b</code></p>"),
        ("<em>raw</em> HTML is text", "<p>&lt;em&gt;raw&lt;/em&gt; HTML is text</p>"),
        (
            "[site](https://example.com)",
            '<p><a href="https://example.com" rel="nofollow noopener noreferrer">site</a></p>',
        ),
        (
            "<https://example.com/a?b=1&c=2>",
            '<p><a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
            "https://example.com/a?b=1&amp;c=2</a></p>",
        ),
        (
            "![a cat](https://example.com/cat.png)",
            '<p><a href="https://example.com/cat.png" rel="nofollow noopener noreferrer">'
            "a cat</a></p>",
        ),
        (
            "[mail](mailto:me@example.com)",
            '<p><a href="mailto:me@example.com" rel="nofollow noopener noreferrer">mail</a></p>',
        ),
    ],
)
async def test_markdown_is_rendered_and_stored(
    client: Client, auth: AuthActions, test_database: TestDatabase, markdown: str, expected: str
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry(markdown)
    assert stored_html(test_database, entry_id).strip() == expected
    assert expected in await checked_page(await client.get(f"/entries/{entry_id}"))


async def test_the_page_serves_the_html_stored_at_write_time(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    """Rendering happens once, on write: the page shows the stored column as it is."""
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("**rendered on write**")
    database: Database = services_of(app).database
    async with database.transaction() as session:
        entry = await store.get_entry(session, entry_id)
        assert entry is not None
        entry.body_html = "<p>stored marker 5d1e</p>"
    page = await checked_page(await client.get(f"/entries/{entry_id}"))
    assert "stored marker 5d1e" in page
    assert "rendered on write" not in page


async def test_titles_usernames_and_about_are_escaped(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    title = '<script>alert("t")</script><b onclick="x">T</b>'
    entry_id = await auth.post_entry("body", title=title)
    about = '<img src=x onerror="alert(1)"> about me'
    response = await post_form(client, "/account/profile", {"about": about}, token_from="/account")
    assert response.status_code == 303
    # Usernames are restricted at registration; escaping must not depend on that, so the
    # name is written behind the app's back.
    evil_name = '<script>alert("u")</script>'
    _set_username(test_database, "alice", evil_name)

    pages = {
        "home": await client.get("/"),
        "entry": await client.get(f"/entries/{entry_id}"),
        "edit": await client.get(f"/entries/{entry_id}/edit"),
        "profile": await client.get("/u/alice"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = await checked_page(response)
        assert "<script>alert" not in page, name
        assert "<b onclick" not in page, name
        assert "&lt;script&gt;alert(" in page, name
    profile = await checked_page(pages["profile"])
    assert "&lt;img src=x onerror=" in profile
    assert "<img" not in profile


def _set_username(test_database: TestDatabase, key: str, username: str) -> None:
    test_database.execute(
        "UPDATE users SET username = :username WHERE username_key = :key",
        username=username,
        key=key,
    )


# --- times ----------------------------------------------------------------------------


async def test_times_are_stored_in_utc_and_shown_as_utc(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    before = datetime.now(UTC).replace(microsecond=0)
    entry_id = await auth.post_entry("when?")
    after = datetime.now(UTC)

    database: Database = services_of(app).database
    async with database.transaction() as session:
        entry = await store.get_entry(session, entry_id)
    assert entry is not None
    assert entry.created_at.utcoffset() == timedelta(0)
    assert before <= entry.created_at <= after
    # The column holds the UTC wall time whatever the server's zone.
    raw = test_database.scalar("SELECT created_at FROM entries WHERE id = :id", id=entry_id)
    assert test_database.timestamp(raw) == entry.created_at

    page = await checked_page(await client.get(f"/entries/{entry_id}"))
    stamps = re.findall(r'<time datetime="([^"]+)">', page)
    assert entry.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") in stamps
    assert all(stamp.endswith("Z") for stamp in stamps)
    assert all(datetime.fromisoformat(stamp).tzinfo == UTC for stamp in stamps)


async def test_the_time_script_is_linked_and_served(client: Client) -> None:
    page = await checked_page(await client.get("/"))
    assert '<script type="module" src="/static/time.js"></script>' in page
    response = await client.get("/static/time.js")
    assert response.status_code == 200
    assert response.mimetype in {"text/javascript", "application/javascript"}
    script = await checked_page(response)
    assert 'querySelectorAll("time[datetime]")' in script


def test_footnotes_link_both_ways_with_ids_of_their_own_entry() -> None:
    first = render_markdown("A claim.[^1]\n\n[^1]: The source.")
    second = render_markdown("Another.[^1]\n\n[^1]: Elsewhere.")
    ref = re.search(
        r'<sup class="footnote-ref"><a href="#(fn-[0-9a-f]{12}-1)" id="(fnref-[0-9a-f]{12}-1)"',
        first,
    )
    assert ref is not None, first
    assert f'<li id="{ref.group(1)}" class="footnote-item">' in first
    assert f'href="#{ref.group(2)}" class="footnote-backref"' in first
    assert ref.group(1) not in second  # two entries on one page: no id twice
    assert render_markdown("A claim.[^1]\n\n[^1]: The source.") == first  # the same each time


def test_only_the_renderers_own_classes_and_ids_are_kept() -> None:
    # Raw HTML is off, so these are text; the sanitizer would drop them anyway.
    html = render_markdown('<a id="csrf_token" class="button">x</a>')
    assert "<a" not in html
    # A language class on code is kept, nothing else is.
    assert 'class="language-python"' in render_markdown("```python\nx\n```")
