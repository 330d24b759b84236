"""One name per metric: `val_acc_at_best` (val_acc at the monitored best epoch) and `max_val_acc` (the best
val_acc of any epoch) differ on a crafted history, and every surface shows each under its own name: the
store, the cockpit's table model, `tunedeck show`, `tunedeck trials`, `tunedeck export`, a sweep's line."""
from __future__ import annotations

import random
from dataclasses import fields
from pathlib import Path

import polars as pl

from engine.config.groups import Config
from engine.config.presets import to_toml
from engine.events import SUMMARY_COLUMNS, EpochEnded, Summary, TrialFinished, TrialStarted
from engine.metric_names import (
    EPOCH_METRICS,
    MAX_VAL_ACC,
    MEANINGS,
    VAL_ACC_AT_BEST,
    objective_name,
    summary_stand_in,
    summary_text,
)
from engine.states import TrialState
from engine.store import Store
from engine.store.schema import TRIAL_COLUMNS, sql_column
from engine.store.script_runs import ScriptProgress
from engine.tables.formatting import fmt_value
from engine.tables.frames import trial_frame
from engine.training.loop import train
from tests.cli.clirunner import Cli
from tui.screens.compare import summary_rows
from tui.tablemodel import choose_columns, column_kind, format_rows, header_labels

# (val_loss, val_acc) per epoch: the lowest val_loss is at epoch 2 (val_acc 0.6), the highest val_acc at 3.
CRAFTED = ((0.9, 0.55), (0.5, 0.60), (0.7, 0.80), (0.6, 0.70))


def crafted_trial(store: Store) -> int:
    """A trial fed its epochs as the runner feeds them; its end says nothing of max_val_acc (as a script's
    or an older loop's end does not): the store keeps it from the epochs."""
    trial_id = store.create_trial(Config.from_dict({"name": "crafted"}))
    store.start_trial(trial_id, TrialStarted("cpu", 10, 70, 15, 15, 2, "binary", 1), {"hostname": "box"})
    best = None
    for epoch, (loss, acc) in enumerate(CRAFTED, 1):
        improved = best is None or loss < best
        best = loss if improved else best
        store.record(trial_id, EpochEnded(epoch, epoch * 2, loss + 0.1, loss, acc, 0.01, 0.1, improved))
    summary = Summary(best_epoch=2, best_val_loss=0.5, val_acc_at_best=0.6, epochs_run=4, steps=8)
    store.record(trial_id, TrialFinished(TrialState.COMPLETED, "ran all 4 epochs", summary, 1.0))
    return trial_id


def test_every_summary_name_has_one_meaning() -> None:
    assert set(SUMMARY_COLUMNS) | set(EPOCH_METRICS) == set(MEANINGS)
    assert {VAL_ACC_AT_BEST, MAX_VAL_ACC} <= set(SUMMARY_COLUMNS)
    assert {sql_column(name) for name in SUMMARY_COLUMNS} <= {name for name, _ in TRIAL_COLUMNS}
    assert "best_val_acc" not in SUMMARY_COLUMNS and all(MEANINGS[name] for name in MEANINGS)
    assert {f.name for f in fields(Summary)} == set(SUMMARY_COLUMNS)


def test_the_store_and_each_surface_show_the_right_one(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with Store(cli.store) as store:
        trial_id = crafted_trial(store)
        record = store.trial(trial_id)
        epochs = store.epochs(trial_id)
    assert (record.best_epoch, record.val_acc_at_best, record.max_val_acc) == (2, 0.6, 0.8)
    assert record.max_val_acc == max(e["val_acc"] for e in epochs)  # what a val_acc sweep ranks the trial by

    frame = trial_frame([record])
    keys = choose_columns(frame)
    assert header_labels(keys)[VAL_ACC_AT_BEST] == VAL_ACC_AT_BEST and header_labels(keys)[MAX_VAL_ACC] == MAX_VAL_ACC
    cells = dict(zip(keys, format_rows(frame.select(keys).rows(), [column_kind(k, frame.schema[k]) for k in keys])[0]))
    assert (cells[VAL_ACC_AT_BEST], cells[MAX_VAL_ACC]) == ("0.6", "0.8")

    show = cli("show", str(trial_id))
    assert show.returncode == 0, show.stderr
    summary = next(line for line in show.stdout.splitlines() if line.strip().startswith("summary"))
    assert "val_acc_at_best 0.6  max_val_acc 0.8" in summary and "best_val_acc" not in show.stdout

    listing = cli("trials", "--columns", f"id,{VAL_ACC_AT_BEST},{MAX_VAL_ACC}")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split() == ["id", VAL_ACC_AT_BEST, MAX_VAL_ACC]
    assert listing.stdout.splitlines()[2].split() == [str(trial_id), "0.6", "0.8"]

    rows = {what: (a, b) for what, a, b in summary_rows(record, record)}  # the cockpit's compare screen
    assert rows[VAL_ACC_AT_BEST] == ("0.6", "0.6") and rows[MAX_VAL_ACC] == ("0.8", "0.8")

    old_name = cli("trials", "--sort", "best_val_acc")  # the name before schema 6: one line saying where it went
    assert old_name.returncode == 2 and old_name.stderr.count("\n") == 1
    assert "unknown column (renamed val_acc_at_best; max_val_acc is the highest val_acc of any epoch)" in old_name.stderr

    out = tmp_path / "trials.csv"
    export = cli("export", "-o", str(out))
    assert export.returncode == 0, export.stderr
    exported = pl.read_csv(out).row(0, named=True)
    assert (exported[VAL_ACC_AT_BEST], exported[MAX_VAL_ACC]) == (0.6, 0.8) and "best_val_acc" not in exported

    # A sweep maximising val_acc names its objective as the column that holds it, and a trial it pruned
    # reads that column for its line; one minimising val_loss has no such column and says so by its name.
    assert objective_name("val_acc", "maximize") == MAX_VAL_ACC
    assert getattr(Summary.of(record), summary_stand_in("val_acc", "maximize") or "") == 0.8
    assert objective_name("val_loss", "minimize") == "min_val_loss"
    assert summary_stand_in("val_loss", "minimize") == "best_val_loss" and summary_stand_in("lr", "minimize") is None
    assert "val_acc_at_best 0.6  max_val_acc 0.8" in summary_text(record, fmt_value)


def test_max_val_acc_only_rises_whichever_write_brings_an_epoch(tmp_path: Path) -> None:
    """A script's batches of rows and a trial's end each keep the larger value; a batch without val_acc
    and an end that does not know it leave it alone."""
    with Store(tmp_path / "t.db") as store:
        trial_id = store.create_trial(Config.from_dict({}))
        store.take_trial(trial_id, {}, {})
        seen = []
        for rows in ([(1, 1, "val_acc", 0.5), (2, 2, "val_acc", 0.8)], [(3, 3, "val_acc", 0.7)],
                     [(4, 4, "train_loss", 0.1)]):
            store.log_script(trial_id, rows, ScriptProgress(rows[-1][0], rows[-1][1]))
            seen.append(store.trial(trial_id).max_val_acc)
        assert seen == [0.8, 0.8, 0.8]
        store.record(trial_id, TrialFinished(TrialState.COMPLETED, "done", Summary(max_val_acc=0.6), 1.0))
        assert store.trial(trial_id).max_val_acc == 0.8
        store.record(trial_id, TrialFinished(TrialState.COMPLETED, "done", Summary(max_val_acc=0.9), 1.0))
        assert store.trial(trial_id).max_val_acc == 0.9


def noisy_task(tmp_path: Path) -> dict:
    """A noisy two-class text task whose epoch with the lowest val_loss (at this seed) is not the most accurate."""
    rng = random.Random(0)
    words = ["good", "bad", "fine", "poor", "great", "dull", "nice", "meh"]
    lines = ["text,label"]
    for _ in range(160):
        label = rng.choice(["pos", "neg"])
        cue = words[0 if label == "pos" else 1] if rng.random() < 0.6 else rng.choice(words)
        lines.append(f"{cue} {rng.choice(words)} {rng.choice(words)},{label}")
    path = tmp_path / "noisy.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"task": {"name": "text-csv", "path": str(path), "text_column": "text", "label_column": "label",
                     "vectorizer": "bow"},
            "model": {"kind": "mlp", "hidden": [8]}, "optim": {"max_epochs": 8, "lr": 0.05, "batch_size": 16},
            "run": {"device": "cpu", "seed": 0}}


def test_the_loop_reports_both_from_a_real_run(tmp_path: Path) -> None:
    events = list(train(Config.from_dict(noisy_task(tmp_path))))
    end = events[-1]
    assert isinstance(end, TrialFinished) and end.state is TrialState.COMPLETED, end.reason
    accuracy = {e.epoch: e.val_acc for e in events if isinstance(e, EpochEnded)}
    s = end.summary
    assert s.val_acc_at_best == accuracy[s.best_epoch] and s.max_val_acc == max(accuracy.values())
    assert s.max_val_acc > s.val_acc_at_best  # this seed's history: the two names would have hidden a difference


def test_a_val_acc_sweep_prints_and_ranks_by_max_val_acc(tmp_path: Path) -> None:
    """The same trial as a one-point sweep maximising val_acc: its line and top table say max_val_acc and
    show the stored max_val_acc, not the accuracy at the best val_loss epoch."""
    task = noisy_task(tmp_path)
    preset = tmp_path / "sweep.toml"
    preset.write_text(to_toml(Config.from_dict(task)) + '\n[search]\nstrategy = "grid"\nmetric = "val_acc"\n'
                      'pruner = "none"\nparallel = 1\n"optim.lr" = [0.05]\n', encoding="utf-8")
    cli = Cli(tmp_path)
    result = cli("sweep", str(preset))
    assert result.returncode == 0, result.stderr
    with Store(cli.store) as store:
        (record,) = store.trials()
    assert record.max_val_acc is not None and record.val_acc_at_best is not None
    assert record.max_val_acc > record.val_acc_at_best
    line = next(line for line in result.stdout.splitlines() if line.startswith("[1/1]"))
    assert f"max_val_acc {fmt_value(record.max_val_acc)} " in line
    assert f"top 1 of 1 by {MAX_VAL_ACC}:" in result.stdout
