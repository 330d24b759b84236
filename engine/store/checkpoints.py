"""The checkpoints half of the store: which files a trial wrote, where, how large, their checksum.

The files themselves live beside the store (`tunedeck.db` -> `tunedeck.artifacts/<trial id>/`);
these rows say what each should be, so that a truncated or altered file is told from a good one
before it is loaded, and so that `tunedeck gc` knows what is whose.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from engine.metric_names import MAX_VAL_ACC
from engine.store.schema import MAX_VAL_ACC_OF_ROWS


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    trial_id: int
    kind: str  # "last" (to resume) or "best" (to export)
    path: Path
    epoch: int
    size: int
    sha256: str
    created_at: float


def artifacts_dir(store_path: Path) -> Path:
    """`tunedeck.db` -> `tunedeck.artifacts`: the folder of the store's checkpoints."""
    return store_path.with_name(store_path.stem + ".artifacts")


class CheckpointRecords:
    """Mixed into `Store`: it supplies `_write`, `_read` and `path`."""

    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    path: Path

    @property
    def artifacts(self) -> Path:
        return artifacts_dir(self.path.resolve())

    def record_checkpoint(self, trial_id: int, kind: str, path: Path, epoch: int, size: int, sha256: str) -> int:
        """Record a file just written; a `best` replaces the trial's earlier best (the same file, rewritten)."""
        with self._write() as conn:
            if kind == "best":
                conn.execute("DELETE FROM checkpoints WHERE trial_id = ? AND kind = 'best'", (trial_id,))
            cur = conn.execute("INSERT INTO checkpoints (trial_id, kind, path, epoch, size, sha256, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", (trial_id, kind, self._relative(path), epoch, size,
                                                                sha256, time.time()))
            assert cur.lastrowid is not None
            return cur.lastrowid

    def checkpoints(self, trial_id: int | None = None, kind: str | None = None) -> list[CheckpointRecord]:
        """Newest first."""
        where: list[str] = []
        params: list[int | str] = []
        if trial_id is not None:
            where.append("trial_id = ?")
            params.append(trial_id)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        query = "SELECT * FROM checkpoints" + (" WHERE " + " AND ".join(where) if where else "") + \
            " ORDER BY epoch DESC, id DESC"
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        folder = self.artifacts
        return [CheckpointRecord(r["id"], r["trial_id"], r["kind"], folder / r["path"], r["epoch"], r["size"],
                                 r["sha256"], r["created_at"]) for r in rows]

    def _relative(self, path: Path) -> str:
        """Recorded relative to the artifacts folder, so that a store moved with its folder still finds them."""
        try:
            return str(Path(path).resolve().relative_to(self.artifacts))
        except ValueError:
            return str(Path(path).resolve())

    def forget_checkpoint(self, checkpoint_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM checkpoints WHERE id = ?", (checkpoint_id,))

    def set_note(self, trial_id: int, note: str | None) -> None:
        """A warning about a running trial that the cockpit and `show` display (it does not stop it)."""
        with self._write() as conn:
            conn.execute("UPDATE trials SET note = ? WHERE id = ?", (note, trial_id))

    def note_resume(self, trial_id: int, epoch: int, earlier: list[dict]) -> None:
        """Add to the trial's run info (which start_trial just wrote afresh) every epoch it resumed from."""
        with self._write() as conn:
            row = conn.execute("SELECT run_info_json FROM trials WHERE id = ?", (trial_id,)).fetchone()
            info = json.loads(row[0] or "{}") if row is not None else {}
            info["resumed"] = [*earlier, {"epoch": epoch, "at": time.time()}]
            conn.execute("UPDATE trials SET run_info_json = ? WHERE id = ?", (json.dumps(info), trial_id))

    def note_run_info(self, trial_id: int, facts: Mapping[str, object]) -> None:
        """Add facts known only as a trial ends (its peak GPU memory) to the run info that start_trial wrote."""
        with self._write() as conn:
            row = conn.execute("SELECT run_info_json FROM trials WHERE id = ?", (trial_id,)).fetchone()
            info = json.loads(row[0] or "{}") if row is not None else {}
            conn.execute("UPDATE trials SET run_info_json = ? WHERE id = ?", (json.dumps({**info, **facts}), trial_id))

    def rewind(self, trial_id: int, epoch: int, step: int) -> None:
        """Before a trial resumes from its checkpoint of `epoch`: forget what it logged after it (the
        resumed run logs those epochs again, the same values on a CPU), so its history has no seam. The
        highest val_acc is taken again from the epochs kept (NULL when none is)."""
        with self._write() as conn:
            conn.execute("DELETE FROM metrics WHERE trial_id = ? AND epoch > ?", (trial_id, epoch))
            conn.execute(f"UPDATE trials SET epochs_run = ?, steps = ?, {MAX_VAL_ACC} = {MAX_VAL_ACC_OF_ROWS} "
                         "WHERE id = ?", (epoch, step, trial_id))
