"""A process that opens the store twice keeps its locks while another process comes and goes.

Closing any descriptor of a file drops every POSIX lock the process holds on it: a second Store that
peeked at the file's header with open()/close() used to drop the first connection's locks, and the
next process to close the file took itself for the last user and deleted the WAL under the first
("disk I/O error"; found when a launched script closed its store beside the supervisor's).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.config.groups import Config
from engine.store import Store


def test_a_second_store_in_the_process_and_a_passing_process_leave_the_first_working(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = Store(path)
    first.create_trial(Config.from_dict({}))
    second = Store(path)  # a second connection in this process (the supervisor beside its executor)
    assert second.count() == 1
    second.close()
    code = ("from engine.store import Store; from engine.config.groups import Config; "
            f"s = Store({str(path)!r}); s.create_trial(Config.from_dict({{}})); s.close()")
    wal = Path(str(path) + "-wal")
    for _ in range(3):  # another process opens, writes and closes the store
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        assert wal.exists()  # it knew it was not the last user: the WAL the first connection uses stays
        first.create_trial(Config.from_dict({}))
    assert first.count() == 7
    first.close()
