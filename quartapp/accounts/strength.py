"""Is a new password too easy to guess? zxcvbn's estimate, with the user's own names as
context: it knows the common passwords, words and names of its frequency lists, keyboard
patterns, dates, repeats and sequences, and here also the username and e-mail address.

NIST SP 800-63B and ASVS 6.2.4/6.2.11 ask for exactly this instead of composition rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from zxcvbn import zxcvbn

# zxcvbn's scale: 2 is "somewhat guessable" (about a million guesses and up), enough
# against online guessing with the rate limits; 0 and 1 are the lists' common passwords,
# repeats, sequences and the user's own names.
MIN_SCORE = 2
# zxcvbn's time grows steeply with length (measured: 4 ms at 16 characters, 22-38 ms at
# 40, 540 ms at 72). The first 40 decide: a longer password whose first 40 characters
# are hard to guess is harder still, and one whose start is weak is refused on it.
CHECKED_LENGTH = 40
_WORD_SPLIT = re.compile(r"[\W_]+")


def context_words(*texts: str) -> list[str]:
    """The user's own words zxcvbn should treat as known: each text and its parts
    (``jane.doe@example.com`` also gives ``jane``, ``doe`` and ``example``)."""
    words: list[str] = []
    for text in texts:
        lowered = text.strip().lower()
        if not lowered:
            continue
        words.append(lowered)
        words.extend(part for part in _WORD_SPLIT.split(lowered) if len(part) >= 3)
    return list(dict.fromkeys(words))


def _uses_context(matches: Iterable[Mapping[str, Any]]) -> bool:
    for match in matches:
        if match.get("dictionary_name") == "user_inputs":
            return True
        if _uses_context(match.get("base_matches", ())):
            return True
    return False


def weakness(password: str, context: Iterable[str]) -> str | None:
    """Why ``password`` is too easy to guess, in one line; None when it is not."""
    result = zxcvbn(password[:CHECKED_LENGTH], user_inputs=list(context))
    if result["score"] >= MIN_SCORE:
        return None
    if _uses_context(result["sequence"]):
        return "That password is built from your username or e-mail address: choose another."
    warning = str(result["feedback"].get("warning") or "").strip()
    reason = f" ({warning.rstrip('.')})" if warning else ""
    return f"That password is too easy to guess{reason}: add words or characters."
