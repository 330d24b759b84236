"""A store written by tunedeck with schema version 5 opens with this one: `max_val_acc` is filled in from
the stored val_acc epochs, and nothing is lost. The SQL column `best_val_acc` keeps its name (an older
tunedeck still writing to the store goes on working) and reads as `val_acc_at_best` above SQL.

data/store_v5.sqlite was written by the code of commit 865aecf (schema 5) with `tunedeck run`: trial 1
toy2d-mlp (4 epochs, val_acc 1.0 throughout), trial 2 the spirals plugin (8 epochs; val_acc 0.7 at epoch 1,
0.6333 at its best val_loss epoch 8), trial 3 curve (a regression, no val_acc), and trial 4 a script
trial through `tunedeck.init` that logged a crafted history (lowest val_loss at epoch 2 with val_acc 0.6,
highest val_acc 0.8 at epoch 3). The file was then vacuumed with a 512-byte page size to keep it small.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.errors import StoreError
from engine.events import EpochEnded, TrialStarted
from engine.metric_names import MAX_VAL_ACC, VAL_ACC_AT_BEST
from engine.store import Store
from engine.store.schema import SCHEMA_VERSION, WATCHED_COLUMNS, prepare, sql_column
from engine.tables.frames import trial_frame

FIXTURE = Path(__file__).parent / "data" / "store_v5.sqlite"


def _rows(path: Path, query: str) -> list[dict]:
    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in raw.execute(query)]
    finally:
        raw.close()


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_the_fixture_is_a_version_5_store() -> None:
    meta = {r["key"]: r["value"] for r in _rows(FIXTURE, "SELECT key, value FROM meta")}
    assert meta == {"app": "tunedeck", "schema_version": "5"}
    assert "best_val_acc" in _rows(FIXTURE, "SELECT * FROM trials")[0]


def test_a_version_5_store_opens_backfilled_with_nothing_lost(old_store: Path) -> None:
    before = _rows(old_store, "SELECT * FROM trials ORDER BY id")
    metrics = _rows(old_store, "SELECT * FROM metrics ORDER BY rowid")
    with Store(old_store) as store:
        records = store.trials()
        assert [r.name for r in records] == ["toy2d-mlp", "spirals", "curve", "crafted"]
        assert [r.val_acc_at_best for r in records] == [row["best_val_acc"] for row in before]
        assert [r.max_val_acc for r in records] == [1.0, pytest.approx(0.7), None, pytest.approx(0.8)]
        spirals, crafted = records[1], records[3]
        assert spirals.val_acc_at_best == pytest.approx(0.6333, abs=1e-4) and spirals.best_epoch == 8
        assert (crafted.best_epoch, crafted.val_acc_at_best) == (2, pytest.approx(0.6))
    after = _rows(old_store, "SELECT * FROM trials ORDER BY id")
    for old, new in zip(before, after):
        assert set(new) - set(old) == {MAX_VAL_ACC}
        assert {k: new[k] for k in old} == old  # every column as it was, best_val_acc and rev included
    assert _rows(old_store, "SELECT * FROM metrics ORDER BY rowid") == metrics
    meta = {r["key"]: r["value"] for r in _rows(old_store, "SELECT key, value FROM meta")}
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_the_change_triggers_watch_every_column_the_new_one_too(old_store: Path) -> None:
    Store(old_store).close()
    triggers = _rows(old_store, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    assert {t["name"] for t in triggers} == {"trials_rev_insert", "trials_rev_update"}
    update = next(t["sql"] for t in triggers if t["name"] == "trials_rev_update")
    assert MAX_VAL_ACC in WATCHED_COLUMNS and all(column in update for column in WATCHED_COLUMNS)
    with Store(old_store) as store:
        _, rev = store.trials_changed(0)
        raw = sqlite3.connect(old_store)
        with raw:
            raw.execute(f"UPDATE trials SET {MAX_VAL_ACC} = 0.9 WHERE id = 2")
        raw.close()
        changed, later = store.trials_changed(rev)
        assert [t.id for t in changed] == [2] and later > rev and changed[0].max_val_acc == 0.9
        # A trial trained into the upgraded store keeps its best val_acc of any epoch as it goes.
        trial_id = store.create_trial(Config.from_dict({}))
        store.start_trial(trial_id, TrialStarted("cpu", 1, 1, 1, 1, 1, "binary", 1), {})
        for epoch, (loss, acc, improved) in enumerate(((0.5, 0.9, True), (0.4, 0.8, True)), 1):
            store.record(trial_id, EpochEnded(epoch, epoch, loss, loss, acc, 0.1, 0.1, improved))
        fresh = store.trial(trial_id)
        assert (fresh.val_acc_at_best, fresh.max_val_acc) == (0.8, 0.9)
        assert [t.id for t in store.trials_changed(later)[0]] == [trial_id]


def test_an_older_tunedeck_still_writing_its_column_after_the_upgrade_is_read_as_val_acc_at_best(
        old_store: Path) -> None:
    Store(old_store).close()  # upgraded to this version while a schema-5 process keeps writing to it
    assert sql_column(VAL_ACC_AT_BEST) == "best_val_acc"
    raw = sqlite3.connect(old_store)
    with raw:  # as schema 5's Store._record_epoch and _record_finish write it
        raw.execute("UPDATE trials SET epochs_run = ?, steps = ?, best_epoch = ?, best_val_loss = ?, "
                    "best_val_acc = ? WHERE id = ?", (9, 90, 9, 0.25, 0.75, 2))
        raw.execute("UPDATE trials SET best_val_acc = ? WHERE id = ?", (0.5, 3))
    raw.close()
    with Store(old_store) as store:
        spirals, curve = store.trial(2), store.trial(3)
        assert (spirals.best_epoch, spirals.val_acc_at_best, spirals.max_val_acc) == (9, 0.75, pytest.approx(0.7))
        assert curve.val_acc_at_best == 0.5
        frame = trial_frame(store.trials())
        assert frame.filter(id=2)[VAL_ACC_AT_BEST].item() == 0.75 and "best_val_acc" not in frame.columns


def test_a_version_5_store_that_may_only_be_read_says_how_to_upgrade_it(old_store: Path) -> None:
    conn = sqlite3.connect(f"file:{old_store}?mode=ro", uri=True)
    try:
        with pytest.raises(StoreError, match="older than this tunedeck's .6. and the store is read-only here"):
            prepare(conn, str(old_store), read_only=True)
    finally:
        conn.close()
    assert _rows(old_store, "SELECT value FROM meta WHERE key = 'schema_version'") == [{"value": "5"}]
