"""A sign-in waiting for its second step, kept in the signed session cookie.

The password was right; the cookie names the account, whether to remember the login,
where to go next, and a keyed mark of the password hash, so changing the password (a
reset from another device) voids every half-finished sign-in. It lasts ten minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from quart import current_app, session

from quartapp.security.redirects import safe_next

_KEY = "second_step"
LIFETIME_SECONDS = 600


@dataclass(frozen=True)
class PendingLogin:
    user_id: int
    remember: bool
    next_url: str
    password_mark: str

    def holds_for(self, password_hash: str) -> bool:
        return hmac.compare_digest(self.password_mark, password_mark(password_hash))


def password_mark(password_hash: str) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def begin(user_id: int, password_hash: str, remember: bool, next_url: str) -> None:
    session[_KEY] = {
        "user": user_id,
        "remember": remember,
        "next": next_url,
        "mark": password_mark(password_hash),
        "until": int(time.time()) + LIFETIME_SECONDS,
    }


def current() -> PendingLogin | None:
    """The sign-in waiting for its second step, or None (none, or expired)."""
    kept = session.get(_KEY)
    if not isinstance(kept, dict):
        return None
    user, remember, next_url = kept.get("user"), kept.get("remember"), kept.get("next")
    mark, until = kept.get("mark"), kept.get("until")
    if (
        not (
            isinstance(user, int)
            and isinstance(remember, bool)
            and isinstance(next_url, str)
            and isinstance(mark, str)
            and isinstance(until, int)
        )
        or until < time.time()
    ):
        session.pop(_KEY, None)
        return None
    return PendingLogin(user, remember, safe_next(next_url), mark)


def clear() -> None:
    session.pop(_KEY, None)
