"""Fixtures shared by every test package."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty trial store of its own, closed after the test."""
    with Store(tmp_path / "trials.db") as s:
        yield s
