"""Dependencies point one way (docs: README "Design"): read from the code's imports.

Features publish through ``quartapp.live`` and never the reverse; stores and the password
generator know nothing of requests; only ``services.py`` keeps anything of ours in
``app.extensions``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "quartapp"
FEATURES = ("quartapp.accounts", "quartapp.journal", "quartapp.passwords", "quartapp.services")


def modules(pattern: str) -> list[Path]:
    found = sorted(PACKAGE.glob(pattern))
    assert found, pattern
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def named(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(PACKAGE)) for path in paths]


@pytest.mark.parametrize("path", modules("live/*.py"), ids=named(modules("live/*.py")))
def test_live_imports_no_feature(path: Path) -> None:
    assert not {name for name in imported(path) if name.startswith(FEATURES)}


@pytest.mark.parametrize(
    "path",
    [*modules("*/store.py"), PACKAGE / "passwords" / "generator.py"],
    ids=[*named(modules("*/store.py")), "passwords/generator.py"],
)
def test_stores_and_the_generator_know_no_request(path: Path) -> None:
    assert not {name for name in imported(path) if name == "quart" or name.startswith("quart.")}


@pytest.mark.parametrize("path", modules("**/routes.py"), ids=named(modules("**/routes.py")))
def test_feature_routes_do_not_announce_changes(path: Path) -> None:
    """Their stores record events in the transaction, which announces them."""
    if path.parent.name == "live":
        return
    assert not {name for name in imported(path) if name.startswith("quartapp.live")}


def test_only_services_keeps_our_things_in_app_extensions() -> None:
    users = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "extensions[" in path.read_text()
    ]
    assert users == ["services.py"]
