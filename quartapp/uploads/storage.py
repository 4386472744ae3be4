"""Where uploaded images' bytes live. ``LocalStorage`` keeps them as files under the
instance folder; another ``Storage`` (object storage, say) can stand in for it without
the routes or the store knowing."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    async def put(self, name: str, data: bytes) -> None: ...

    async def read(self, name: str) -> bytes | None: ...

    async def delete(self, names: Iterable[str]) -> None: ...


def new_name(extension: str) -> str:
    """128 random bits: a name nobody can guess, so none is listed or probed."""
    return f"{secrets.token_urlsafe(16)}.{extension}"


class LocalStorage:
    """Files in one folder (mode 0700, each file 0600), written whole or not at all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        path = self.folder / name
        if path.parent != self.folder or name.startswith("."):
            raise ValueError(f"not a stored name: {name!r}")
        return path

    def _put(self, name: str, data: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self._path(name)
        partial = final.with_name(f".{name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, final)

    async def put(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, name, data)

    def _read(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    async def read(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, name)

    def _delete(self, names: list[str]) -> None:
        for name in names:
            self._path(name).unlink(missing_ok=True)

    async def delete(self, names: Iterable[str]) -> None:
        await asyncio.to_thread(self._delete, list(names))
