from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.clirunner import BIN, Cli, stop_supervisor


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """The console script on a store of its own; a supervisor that a command started is shut down after."""
    assert BIN.exists(), f"the console script is not installed at {BIN}: install as the README says"
    runner = Cli(tmp_path)
    yield runner
    stop_supervisor(runner.store)
