"""Every supervisor a cockpit test started in this process ends with the test."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tui.supervised import close_all


@pytest.fixture(autouse=True)
def _end_supervisors() -> Iterator[None]:
    yield
    close_all()
