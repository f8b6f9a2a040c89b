"""Shared fixtures for the suite's own tests (not the conformance matrix)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_cases(tmp_path: Path):
    """Write YAML text (dedented) to a file under a temporary ``cases/`` folder."""
    root = tmp_path / "cases"
    root.mkdir()

    def write(text: str, name: str = "cases.yaml") -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    write.root = root
    return write
