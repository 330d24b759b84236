from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.clirunner import BIN, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    assert BIN.exists(), f"the console script is not installed at {BIN}: install as the README says"
    return Cli(tmp_path)
