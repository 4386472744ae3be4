"""Pasting a photo into a page as a browser does: a paste event whose clipboard holds a
file (Chromium gives a page no way to fill the real clipboard with an image headless)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page


def photo_bytes(width: int = 120, height: int = 80) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "steelblue").save(out, "JPEG")
    return out.getvalue()


def paste_photo(page: Page, selector: str, name: str, photo: bytes) -> None:
    page.evaluate(
        """([selector, name, bytes]) => {
            const file = new File([new Uint8Array(bytes)], name, { type: "image/jpeg" });
            const data = new DataTransfer();
            data.items.add(file);
            const paste = { clipboardData: data, bubbles: true, cancelable: true };
            document.querySelector(selector).dispatchEvent(new ClipboardEvent("paste", paste));
        }""",
        [selector, name, list(photo)],
    )
