"""Redirects only to this site: ``?next=`` and the like are checked before they are used."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_safe_redirect(target: str) -> bool:
    """Only a path on this site: no scheme, no host, no backslash or control character.

    Browsers read ``/\\host`` as ``//host`` and drop tabs and newlines, so those count
    as leaving the site too.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(char == "\\" or ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    return target if target and is_safe_redirect(target) else default


def referring_page(referrer: str | None, host: str) -> str | None:
    """The page a request was sent from (its ``Referer``), when that page is on this
    site (``host``): its path and query, safe to redirect to; else None."""
    parts = urlsplit(referrer or "")
    if parts.netloc != host or not parts.path:
        return None
    page = parts.path + (f"?{parts.query}" if parts.query else "")
    return page if is_safe_redirect(page) else None
