"""The store follower reads only what changed, and its patched frame equals a full re-read."""
from __future__ import annotations

import random
from pathlib import Path

from engine.config.groups import Config
from engine.events import EpochEnded, Summary, TrialFinished, TrialStarted
from engine.states import TrialState
from engine.store import Store
from engine.tables.follower import StoreFollower
from engine.tables.frames import trial_frame

STARTED = TrialStarted("cpu", 10, 70, 15, 15, 2, "binary", 1)


def test_a_poll_reads_nothing_when_nobody_wrote_and_only_the_changed_rows_when_someone_did(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    writer = Store(path)
    for i in range(50):
        writer.create_trial(Config.from_dict({"optim": {"lr": 0.001 * (i + 1)}}))
    reader = Store(path)
    follower = StoreFollower(reader)
    assert len(follower.poll().trials) == 50  # the first look reads every row once
    assert not follower.poll()  # nobody committed: nothing read
    writer.start_trial(7, STARTED, {})
    writer.record(7, EpochEnded(1, 2, 0.5, 0.4, 0.8, 0.01, 0.1, improved=True))
    update = follower.poll()
    assert [r.id for r in update.trials] == [7] and update.trials[0].epochs_run == 1
    assert [(m[0], m[3]) for m in update.metrics if m[3] == "val_loss"] == [(7, "val_loss")]
    assert follower.in_state(TrialState.RUNNING) == [7]
    writer.beat(7)  # a heartbeat changes nothing a reader shows: the row is not read again
    assert follower.poll().trials == []


def test_the_patched_frame_equals_a_full_rebuild_after_random_changes(tmp_path: Path) -> None:
    rng = random.Random(3)
    path = tmp_path / "t.db"
    writer = Store(path)
    follower = StoreFollower(Store(path))
    for _round in range(12):
        for _ in range(rng.randint(0, 6)):
            writer.create_trial(Config.from_dict({"optim": {"lr": rng.choice([0.1, 0.01, 0.001])}}))
        ids = [t.id for t in writer.trials()]
        for trial_id in rng.sample(ids, k=min(len(ids), rng.randint(0, 4))):
            state = writer.trial(trial_id).state
            if state is TrialState.QUEUED:
                writer.start_trial(trial_id, STARTED, {})
            elif state is TrialState.RUNNING:
                writer.record(trial_id, TrialFinished(TrialState.COMPLETED, "done", Summary(1, 0.3, 0.9, 0.3, 0.9, 1, 2),
                                                      1.0))
        follower.poll()
        assert follower.frame.equals(trial_frame(writer.trials()))
        unfinished = {t.id: t.state for t in writer.trials() if not t.state.is_finished}
        assert follower.in_state(TrialState.RUNNING) == sorted(t for t, s in unfinished.items() if s is TrialState.RUNNING)
        assert follower.in_state(TrialState.QUEUED) == sorted(t for t, s in unfinished.items() if s is TrialState.QUEUED)
