"""What search reads and how it compares words: pure functions, the same on SQLite and
PostgreSQL.

An entry is searched by the words a reader sees: the text of its rendered HTML (so
Markdown's syntax, link addresses and image addresses are not words), its title and its
tags. Words are compared folded: case folded and accents taken off (``Café`` is ``cafe``),
done here rather than by either database, so that both find the same entries and the
snippet marks exactly the words that matched. A word is a run of letters and digits;
anything else separates words, as SQLite's ``unicode61`` tokenizer has it.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

from markupsafe import Markup, escape

_WORD = re.compile(r"[^\W_]+")
# Elements whose end is a break between words: without it "</p><p>" would join two words.
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
))  # fmt: skip


def fold(text: str) -> str:
    """Case folded, accents off: what two words are compared as (the same, character by
    character, as ``_fold_char``: the snippets rely on it)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(part for part in decomposed if not unicodedata.combining(part)).casefold()


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(part for part in decomposed if not unicodedata.combining(part)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


def document(text: str) -> str:
    """``text``'s folded words, one space apart, as PostgreSQL indexes them (so that
    neither database's own idea of a word, or of an e-mail address, gets a say)."""
    return " ".join(words(text))


# Two neighbouring words, indexed as one more term: a phrase of two words is then one
# lookup, where matching it word by word read every entry with both words in it (both
# databases; "of to" took 200 ms on PostgreSQL). "_" is never part of a word; the one in
# front keeps the pairs out of prefix searches ("wor*" would read "word_of" too).
PAIR = "_"


def pairs(folded: list[str] | tuple[str, ...]) -> list[str]:
    """Each two neighbouring words of ``folded`` as one term: ``a b c`` gives ``_a_b _b_c``."""
    return [PAIR + first + PAIR + second for first, second in itertools.pairwise(folded)]


class _TextOf(HTMLParser):
    """The text of HTML, twice: all of it, and all but what is in code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.outside_code: list[str] = []
        self.in_code = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._break(tag)
        if tag == "code":
            self.in_code += 1

    def handle_endtag(self, tag: str) -> None:
        self._break(tag)
        if tag == "code" and self.in_code:
            self.in_code -= 1

    def _break(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
            self.outside_code.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if not self.in_code:
            self.outside_code.append(data)


@dataclass(frozen=True)
class Reading:
    """What a reader sees of an entry's HTML: its ``text``, paragraphs a line apart, and
    the same without what is in code spans and blocks (``prose``)."""

    text: str
    prose: str


def reading(body_html: str) -> Reading:
    parser = _TextOf()
    parser.feed(body_html)
    parser.close()
    return Reading(_lines(parser.parts), _lines(parser.outside_code))


def plain_text(body_html: str) -> str:
    """The text a reader sees in an entry's (sanitized) HTML, paragraphs a line apart."""
    return reading(body_html).text


def _lines(parts: list[str]) -> str:
    lines = "".join(parts).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


# --- queries ---------------------------------------------------------------------------------

QUERY_MAX = 200  # characters
TERMS_MAX = 12  # words and phrases, kept and left out
PREFIX_MIN = 3  # a last word this long also finds longer words ("walk" finds "walking")


class QueryError(ValueError):
    """A search that cannot be run; the message says why, to the person who typed it."""


@dataclass(frozen=True)
class Term:
    """Words that must come together (one word, or a phrase); ``prefix``: the last of
    them may be the start of a longer word."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    wanted: tuple[Term, ...]
    unwanted: tuple[Term, ...]

    def marks(self, word: str) -> bool:
        """Whether ``word`` (folded) is one the query looks for, for highlighting."""
        whole, starts = self._marked
        return word in whole or (bool(starts) and word.startswith(starts))

    @functools.cached_property
    def _marked(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """The words looked for, and the starts of words a prefix looks for."""
        whole = frozenset(word for term in self.wanted for word in term.words)
        return whole, tuple(term.words[-1] for term in self.wanted if term.prefix)


_PIECE = re.compile(r'(-?)"([^"]*)"|(-?)([^\s"]+)|(")')


def parse_query(text: str) -> Query:
    """``text`` as typed: words, "phrases in quotes", ``-word`` or ``-"phrase"`` to leave
    out; the last plain word also finds words it begins. QueryError when it cannot run."""
    if len(text) > QUERY_MAX:
        raise QueryError(f"A search is at most {QUERY_MAX} characters; this one has {len(text):,}.")
    if text.count('"') % 2:
        raise QueryError("A quotation mark is not closed: put a phrase between two of them.")
    wanted: list[Term] = []
    unwanted: list[Term] = []
    ends_with_a_word = False  # the last thing typed is a word being looked for
    for found in _PIECE.finditer(text):
        negated_phrase, phrase, negated_word, word, _stray = found.groups()
        negated = bool(negated_phrase or negated_word)
        folded = tuple(words(phrase if phrase is not None else word or ""))
        if not folded:
            continue  # punctuation alone, or a lone "-"
        (unwanted if negated else wanted).append(Term(folded))
        ends_with_a_word = not negated and word is not None
    if len(wanted) + len(unwanted) > TERMS_MAX:
        raise QueryError(f"A search has at most {TERMS_MAX} words and phrases.")
    if not wanted:
        if unwanted:
            raise QueryError("Say what to look for, not only what to leave out.")
        raise QueryError("Type a word to look for (punctuation alone finds nothing).")
    last = wanted[-1]
    if ends_with_a_word and len(last.words[-1]) >= PREFIX_MIN and not text[-1:].isspace():
        wanted[-1] = Term(last.words, prefix=True)
    return Query(tuple(wanted), tuple(unwanted))


def _pairable(t: Term) -> bool:
    """A phrase looked up by its pairs of words (a prefix's last word is not a word yet)."""
    return len(t.words) > 1 and not t.prefix


def fts5_match(query: Query) -> str:
    """The query in SQLite FTS5's syntax. Every word is a run of letters and digits, so
    quoting it is all the escaping it needs. A phrase is found by its pairs of words (two
    words: the pair alone; more: the pairs narrow it and the phrase confirms the order)."""

    def term(t: Term) -> str:
        phrase = '"' + " ".join(t.words) + '"' + ("*" if t.prefix else "")
        if not _pairable(t):
            return phrase
        looked_up = [f'"{pair}"' for pair in pairs(t.words)]
        if len(t.words) > 2:
            looked_up.append(phrase)
        return looked_up[0] if len(looked_up) == 1 else "(" + " AND ".join(looked_up) + ")"

    expression = " AND ".join(term(t) for t in query.wanted)
    for t in query.unwanted:
        expression = f"({expression}) NOT {term(t)}"
    return expression


@dataclass(frozen=True)
class PgQuery:
    """The query for PostgreSQL, in two parts that must both match: ``words`` for
    ``to_tsquery`` (words in single quotes, letters and digits only; ``<->`` between a
    phrase's words; ``:*`` for a prefix), and ``pairs``, pairs of words as a ``tsquery``
    literal (they never meet the text parser, which would split them at "_"). Either may
    be empty."""

    words: str
    pairs: str


def tsquery(query: Query, *, with_pairs: bool = True) -> PgQuery:
    """The query for PostgreSQL. ``with_pairs``: a phrase is found by its pairs of words,
    which hold only with the ``simple`` language (another one stems the words, and its
    phrase matches words the pairs do not have)."""

    def phrase(t: Term) -> str:
        parts = [f"'{w}'" for w in t.words]
        if t.prefix:
            parts[-1] += ":*"
        joined = " <-> ".join(parts)
        return f"({joined})" if len(parts) > 1 else joined

    word_terms: list[str] = []
    pair_terms: list[str] = []
    for t in query.wanted:
        if with_pairs and _pairable(t):
            pair_terms.extend(f"'{pair}'" for pair in pairs(t.words))
            if len(t.words) > 2:
                word_terms.append(phrase(t))  # the order, beyond the pairs
        else:
            word_terms.append(phrase(t))
    for t in query.unwanted:
        if with_pairs and _pairable(t) and len(t.words) == 2:
            pair_terms.append(f"!'{pairs(t.words)[0]}'")
        else:
            word_terms.append(f"!{phrase(t)}")
    return PgQuery(" & ".join(word_terms), " & ".join(pair_terms))


# --- snippets --------------------------------------------------------------------------------

SNIPPET_WORDS = 32


def highlighted(text: str, query: Query, *, limit: int | None = SNIPPET_WORDS) -> Markup:
    """``text`` escaped, the words the query found in ``<mark>``; with ``limit``, only
    about that many words around the first of them, with "…" where text was left out.
    Built from the text itself, never from HTML: nothing in it can become markup."""
    spans = _word_spans(text)
    first, last = 0, len(spans)
    if limit is not None and len(spans) > limit:
        hit = next((n for n, (_, _, word) in enumerate(spans) if query.marks(word)), 0)
        first = max(0, min(hit - limit // 4, len(spans) - limit))
        last = first + limit
    if not spans:
        return escape(text)
    start_at = spans[first][0] if first > 0 else 0
    end_at = spans[last - 1][1] if last < len(spans) else len(text)
    out = [Markup("…") if first > 0 else Markup("")]
    position = start_at
    for start, end, word in spans[first:last]:
        if not query.marks(word):
            continue
        out.append(escape(text[position:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        position = end
    out.append(escape(text[position:end_at]))
    if last < len(spans):
        out.append(Markup("…"))
    return Markup("").join(out)


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    """Each word of ``text``: where it starts and ends in ``text``, and its folded form.
    Folding can change a character's length (``ß`` is ``ss``), so the words are found in
    the folded text and mapped back, character by character (but for ASCII text, which
    folds to its own length: the snippets of a search page spent 5 ms here)."""
    if text.isascii():
        return [
            (found.start(), found.end(), found.group()) for found in _WORD.finditer(text.lower())
        ]
    folded: list[str] = []
    origin: list[int] = []  # for each folded character, the index of the one it came from
    for index, char in enumerate(text):
        piece = _fold_char(char)
        folded.append(piece)
        origin.extend([index] * len(piece))
    flat = "".join(folded)
    return [
        (origin[found.start()], origin[found.end() - 1] + 1, found.group())
        for found in _WORD.finditer(flat)
    ]
