"""A built wheel holds every template and static file of every package, not only the
top-level ones (an installed, non-editable copy must serve the same pages)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def test_the_wheel_holds_every_template_and_static_file(tmp_path: Path) -> None:
    # A copy: setuptools keeps a build/ folder beside the sources and packs from it.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "quartapp", source / "quartapp", ignore=IGNORED)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("quartapp-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    ours = {
        str(path.relative_to(ROOT))
        for folder in ("templates", "static")
        for path in (ROOT / "quartapp").rglob(f"{folder}/**/*")
        if path.is_file()
    }
    assert ours, "no templates or static files found"
    assert ours - packaged == set()
