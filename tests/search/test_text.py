"""What search reads and how words compare (quartapp/search/text.py): pure functions."""

from __future__ import annotations

import re

import pytest

from quartapp.journal.render import render_markdown
from quartapp.search.text import (
    QUERY_MAX,
    PgQuery,
    QueryError,
    Term,
    document,
    fold,
    fts5_match,
    highlighted,
    pairs,
    parse_query,
    plain_text,
    reading,
    tsquery,
    words,
)


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Café", "cafe"),
        ("ÉLAN", "elan"),
        ("Straße", "strasse"),
        ("naïve Zoë", "naive zoe"),
        ("Ångström", "angstrom"),
        ("ﬁne", "fine"),  # a ligature
        ("İstanbul", "istanbul"),
    ],
)
def test_case_and_accents_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_words_are_letters_and_digits_and_nothing_else_counts() -> None:
    assert words("e-mail: me@example.com, snake_case 3.5 — “quoted”") == [
        "e", "mail", "me", "example", "com", "snake", "case", "3", "5", "quoted",
    ]  # fmt: skip
    assert document("  Hello,\nWORLD!  ") == "hello world"


def test_markdown_syntax_and_addresses_are_not_words() -> None:
    html = render_markdown(
        "# Heading\n\nSome **bold** and [a link](https://example.com/hidden-path).\n\n"
        "- one\n- two\n\n![alt words](/uploads/aaaaaaaaaaaaaaaaaaaaaa.jpg)\n\n`code stays`"
    )
    text = plain_text(html)
    assert "**" not in text
    assert "#" not in text
    assert "hidden" not in text
    assert "example" not in text
    assert words(text) == [
        "heading", "some", "bold", "and", "a", "link", "one", "two", "code", "stays",
    ]  # fmt: skip
    # Paragraphs do not run together.
    assert words(plain_text("<p>end</p><p>start</p>")) == ["end", "start"]
    assert "code" not in words(reading(html).prose)


def test_a_query_has_words_phrases_exclusions_and_a_prefix_last() -> None:
    query = parse_query('Café "long walk" -rain -"grey sky" hom')
    assert query.wanted == (Term(("cafe",)), Term(("long", "walk")), Term(("hom",), prefix=True))
    assert query.unwanted == (Term(("rain",)), Term(("grey", "sky")))
    # A phrase is looked up by its pairs of words.
    assert fts5_match(query) == (
        '(("cafe" AND "_long_walk" AND "hom"*) NOT "rain") NOT "_grey_sky"'
    )
    assert tsquery(query) == PgQuery("'cafe' & 'hom':* & !'rain'", "'_long_walk' & !'_grey_sky'")
    # With a language that stems words, a phrase is its words in order.
    assert tsquery(query, with_pairs=False) == PgQuery(
        "'cafe' & ('long' <-> 'walk') & 'hom':* & !'rain' & !('grey' <-> 'sky')", ""
    )


def test_a_longer_phrase_is_narrowed_by_its_pairs_and_confirmed_in_order() -> None:
    query = parse_query('"one fine day" -"a b c"')
    assert fts5_match(query) == (
        '(("_one_fine" AND "_fine_day" AND "one fine day")) NOT ("_a_b" AND "_b_c" AND "a b c")'
    )
    assert tsquery(query) == PgQuery(
        "('one' <-> 'fine' <-> 'day') & !('a' <-> 'b' <-> 'c')", "'_one_fine' & '_fine_day'"
    )
    assert pairs(["a", "b", "c"]) == ["_a_b", "_b_c"]
    assert pairs(["a"]) == []


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [
        ("walk", True),
        ("walk ", False),  # typed on: the word is whole
        ("wa", False),  # too short to stand for every word it begins
        ('"long walk"', False),
        ("walk -rain", False),  # the last is left out, not looked for
        ("rain walk", True),
    ],
)
def test_only_the_last_plain_word_is_a_prefix(typed: str, prefix: bool) -> None:
    assert parse_query(typed).wanted[-1].prefix is prefix


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ('"unclosed phrase', "quotation mark is not closed"),
        ("-rain -snow", "not only what to leave out"),
        ("- * ! ( )", "punctuation alone finds nothing"),
        ('""', "punctuation alone finds nothing"),
        ("x" * (QUERY_MAX + 1), f"at most {QUERY_MAX} characters"),
        ("a " * 13, "at most 12 words"),
    ],
)
def test_a_query_that_cannot_run_says_why(typed: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason):
        parse_query(typed)


def test_operators_typed_are_words_not_syntax() -> None:
    """FTS5 and to_tsquery have syntax of their own; a query is only ever quoted words."""
    query = parse_query("NOT AND OR NEAR(a b) col:x ^y 'q' & | ! <->")
    assert all(word.isalnum() for term in query.wanted for word in term.words)
    quoted = re.findall(r'"([^"]*)"', fts5_match(query))
    assert quoted
    assert all(re.fullmatch(r"[a-z0-9_ ]+", part) for part in quoted)
    pg = tsquery(query)
    lexemes = re.findall(r"'([^']*)'", pg.words + pg.pairs)
    assert all(re.fullmatch(r"[a-z0-9_]+", lexeme) for lexeme in lexemes)


def test_highlighting_marks_the_words_found_and_escapes_the_rest() -> None:
    query = parse_query("cafe walk")
    marked = highlighted("<b>Café</b> & a long Walking <script>", query, limit=None)
    assert str(marked) == (
        "&lt;b&gt;<mark>Café</mark>&lt;/b&gt; &amp; a long <mark>Walking</mark> &lt;script&gt;"
    )


def test_highlighting_keeps_the_original_letters_when_folding_changes_length() -> None:
    marked = highlighted("Die Straße und die ﬁne Zeit", parse_query("strasse fine"), limit=None)
    assert str(marked) == "Die <mark>Straße</mark> und die <mark>ﬁne</mark> Zeit"


def test_a_snippet_is_a_window_around_the_first_word_found() -> None:
    text = (
        " ".join(f"w{n}" for n in range(100)) + " harbour " + " ".join(f"v{n}" for n in range(100))
    )
    snippet = str(highlighted(text, parse_query("harbour"), limit=20))
    assert "<mark>harbour</mark>" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet.split()) <= 21
