"""``GET /search``: entries by their words, narrowed by writer, tag and dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from markupsafe import Markup
from quart import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from quartapp.accounts import store as accounts
from quartapp.accounts.auth import current_account
from quartapp.journal import store
from quartapp.journal.store import ListedEntry
from quartapp.memories.calendar import day_start
from quartapp.search.index import NEWEST, RANKED, RELEVANCE, Filters, search_ids
from quartapp.search.text import Query, QueryError, highlighted, parse_query, plain_text
from quartapp.services import read_session, services
from quartapp.tags.parse import normal_tag
from quartapp.web import HtmlAnswer

blueprint = Blueprint("search", __name__, template_folder="templates")

PAGE_SIZE = 20
PAGES_MAX = RANKED // PAGE_SIZE  # further than that, a search wants more words
_PARAMETER_MAX = 100  # characters of any parameter but q (which has its own limit)


@dataclass(frozen=True)
class Found:
    """One result: the entry, its title and a snippet with the words found marked."""

    entry: ListedEntry
    title: Markup
    snippet: Markup


@dataclass
class Asked:
    """The search as the page's form holds it (to show it again), and what it means."""

    q: str = ""
    author: str = ""
    tag: str = ""
    written_from: str = ""
    written_to: str = ""
    mine: bool = False
    sort: str = RELEVANCE
    page: int = 1
    problems: list[str] = field(default_factory=list)


@blueprint.route("/search")
async def page() -> HtmlAnswer:
    viewer = await current_account()
    asked, filters = await _read(request.args, viewer.id if viewer else None)
    query: Query | None = None
    if asked.q.strip() and not asked.problems:
        try:
            query = parse_query(asked.q)
        except QueryError as error:
            asked.problems.append(str(error))
    results: list[Found] = []
    more = farthest = False
    if query is not None and not asked.problems:
        await services().search_index.up_to_date(read_session())
        ids = await search_ids(
            read_session(),
            query,
            viewer_id=viewer.id if viewer else None,
            filters=filters,
            order=asked.sort,
            limit=PAGE_SIZE + 1,
            offset=(asked.page - 1) * PAGE_SIZE,
        )
        more = len(ids) > PAGE_SIZE and asked.page < PAGES_MAX
        farthest = asked.page == PAGES_MAX and len(ids) >= PAGE_SIZE  # there may be more
        results = await _found(ids[:PAGE_SIZE], query)
    html = await render_template(
        "search/search.html",
        asked=asked,
        results=results,
        more=more,
        farthest=farthest,
        results_max=PAGES_MAX * PAGE_SIZE,
        searched=query is not None,
    )
    return html, 400 if asked.problems else 200


async def _found(ids: list[int], query: Query) -> list[Found]:
    by_id = {entry.id: entry for entry in await store.listed_entries(read_session(), ids)}
    return [
        Found(
            entry,
            highlighted(entry.title, query, limit=None),
            highlighted(plain_text(entry.body_html), query),
        )
        for entry in (by_id[entry_id] for entry_id in ids if entry_id in by_id)
    ]


async def _read(args: MultiDict[str, str], viewer_id: int | None) -> tuple[Asked, Filters]:
    """The parameters, each checked; every problem is named in ``Asked.problems``."""
    asked = Asked(
        q=args.get("q", ""),
        author=args.get("author", "").strip(),
        tag=args.get("tag", "").strip().lstrip("#"),
        written_from=args.get("from", "").strip(),
        written_to=args.get("to", "").strip(),
        mine=args.get("mine") == "1",
        sort=args.get("sort", RELEVANCE),
    )
    problems = asked.problems
    for name in ("author", "tag", "from", "to", "sort", "page"):
        if len(args.get(name, "")) > _PARAMETER_MAX:
            problems.append(f"The “{name}” parameter is at most {_PARAMETER_MAX} characters.")
            return asked, Filters()
    if asked.sort not in (RELEVANCE, NEWEST):
        problems.append("Sort by “relevance” or “newest”.")
        asked.sort = RELEVANCE
    raw_page = args.get("page", "1")
    if not raw_page.isascii() or not raw_page.isdigit() or not 1 <= int(raw_page) <= PAGES_MAX:
        problems.append(f"The page must be a number from 1 to {PAGES_MAX}.")
    else:
        asked.page = int(raw_page)
    if asked.mine and viewer_id is None:
        problems.append("Log in to search only your own entries.")
    author_id = None
    if asked.author:
        author = await accounts.get_user_by_username(read_session(), asked.author)
        if author is None:
            problems.append(f"No writer here is called “{asked.author}”.")
        else:
            author_id = author.id
    tag = None
    if asked.tag:
        tag = normal_tag(asked.tag)
        if tag is None:
            problems.append(
                "A tag is letters, digits, “_” and “-”, with at least one letter, "
                "up to 50 characters."
            )
    written_from = _day(asked.written_from, "From", problems)
    written_to = _day(asked.written_to, "To", problems)
    if written_from and written_to and written_to < written_from:
        problems.append("The “to” date is before the “from” date.")
    filters = Filters(
        author_id=author_id,
        tag=tag,
        written_from=day_start(written_from, UTC) if written_from else None,
        written_before=day_start(written_to + timedelta(days=1), UTC) if written_to else None,
        mine_only=asked.mine,
    )
    return asked, filters


def _day(text: str, label: str, problems: list[str]) -> date | None:
    try:
        if len(text) != len("YYYY-MM-DD"):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        if text:
            problems.append(f"{label}: give a date as YYYY-MM-DD.")
        return None
    if not date(1900, 1, 1) <= day < date(9999, 12, 31):
        problems.append(f"{label}: give a date from 1900 on.")
        return None
    return day
