"""`tunedeck export --sweep ID --optuna FILE`: a real tiny sweep written as an Optuna study and read back
with `optuna.load_study`, compared with what the store holds."""
from __future__ import annotations

import math
import re
import shlex
from pathlib import Path

import optuna
import pytest
from sqlalchemy.engine import URL

from engine.config.presets import load_preset
from engine.states import TrialState
from engine.store import Store
from tests.cli.clirunner import Cli, one_line_error

PRESET = """\
extends = "toy2d-mlp"

[task]
n_samples = 300

[optim]
max_epochs = 4

[search]
strategy = "random"
trials = 4
parallel = 2
seed = 3
{metric}
"optim.lr" = {{ low = 1e-3, high = 1e-1, log = true }}
"model.hidden" = [[8], [4]]
"""
STUDY = re.compile(r"^study name: (.+)$", re.MULTILINE)


def _sweep(cli: Cli, metric: str = 'metric = "val_loss"') -> None:
    (cli.cwd / "tiny.toml").write_text(PRESET.format(metric=metric), encoding="utf-8")
    result = cli("sweep", "tiny.toml", "--executor", "thread", timeout=300)
    assert result.returncode == 0, result.stderr


def _load(cli: Cli, result: object, file: str) -> optuna.Study:
    found = STUDY.search(result.stdout)  # type: ignore[attr-defined]
    assert found, result
    storage = URL.create(drivername="sqlite", database=str((cli.cwd / file).resolve())).render_as_string()
    assert storage.startswith("sqlite:////")  # absolute: the printed command works from any directory
    assert f"optuna-dashboard {shlex.quote(storage)}" in result.stdout  # type: ignore[attr-defined]
    assert f"storage={storage!r})" in result.stdout  # type: ignore[attr-defined]
    return optuna.load_study(study_name=found.group(1), storage=storage)


def test_an_exported_sweep_loads_with_the_same_trials_best_value_and_params(cli: Cli) -> None:
    _sweep(cli)
    result = cli("export", "--sweep", "1", "--optuna", "study.db")
    assert result.returncode == 0, result.stderr
    study = _load(cli, result, "study.db")
    with Store(cli.store) as store:
        trials = store.trials(sweep_id=1)
        history = {t.id: {e: v for _, e, _, _, v in store.history([t.id], metric="val_loss")} for t in trials}
    completed = [t for t in trials if t.state in (TrialState.COMPLETED, TrialState.EARLY_STOPPED)]
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == len(completed) > 0 and len(study.trials) == len(trials)
    best = min(min(history[t.id].values()) for t in completed)  # the objective: best epoch val_loss
    assert study.best_value == pytest.approx(best)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE and study.metric_names == ["val_loss"]
    by_id = {t.user_attrs["tunedeck_trial_id"]: t for t in study.trials}
    for t in trials:
        exported = by_id[t.id]
        assert exported.params["optim.lr"] == pytest.approx(t.config["optim"]["lr"])
        assert exported.params["model.hidden"] == str(t.config["model"]["hidden"])  # a list choice by its label
        assert exported.intermediate_values == pytest.approx(history[t.id])
        assert exported.user_attrs["tunedeck_state"] == t.state.value
        assert set(exported.distributions) == {"optim.lr", "model.hidden"}
        lr = exported.distributions["optim.lr"]
        assert isinstance(lr, optuna.distributions.FloatDistribution) and lr.log and lr.low == 1e-3
    assert study.best_trial.user_attrs["tunedeck_trial_id"] in {t.id for t in completed}


def test_a_two_objective_sweep_exports_as_a_multi_objective_study(cli: Cli) -> None:
    _sweep(cli, 'metric = ["val_loss", "params"]')
    result = cli("export", "--sweep", "1", "--optuna", "multi.db")
    assert result.returncode == 0, result.stderr
    study = _load(cli, result, "multi.db")
    assert study.metric_names == ["val_loss", "params"] and len(study.directions) == 2
    with Store(cli.store) as store:
        params = {t.id: t.n_params for t in store.trials(sweep_id=1)}
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert trial.values[1] == params[trial.user_attrs["tunedeck_trial_id"]]
        assert math.isfinite(trial.values[0])


def test_refusals_are_one_line_and_leave_nothing_behind(cli: Cli) -> None:
    _sweep(cli)
    assert cli("export", "--sweep", "1", "--optuna", "study.db").returncode == 0
    before = (cli.cwd / "study.db").read_bytes()
    one_line_error(cli("export", "--sweep", "1", "--optuna", "study.db"), "study.db exists", "--force")
    assert (cli.cwd / "study.db").read_bytes() == before
    assert cli("export", "--sweep", "1", "--optuna", "study.db", "--force").returncode == 0
    one_line_error(cli("export", "--sweep", "7", "--optuna", "other.db"), "no sweep with id 7")
    one_line_error(cli("export", "--optuna", "other.db"), "--optuna FILE needs --sweep ID")
    one_line_error(cli("export", "--sweep", "1", "--optuna", "other.db", "--history"), "--history", "--optuna")
    one_line_error(cli("export", "--sweep", "1", "--optuna", "nowhere/other.db"), "does not exist")
    with Store(cli.store) as store:  # a sweep no trial of which has ended yet
        base = load_preset("toy2d-mlp")
        spec = {"strategy": "random", "trials": 2, "optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}}
        empty = store.create_sweep("empty", spec, base.to_dict(), 2)
    one_line_error(cli("export", "--sweep", str(empty), "--optuna", "other.db"), f"sweep {empty}",
                   "no completed trial")
    leftovers = sorted(p.name for p in Path(cli.cwd).iterdir() if p.name.startswith((".other", "other")))
    assert leftovers == []


@pytest.mark.parametrize("name", ["x?.db", "y%20z.db", "a b#c.db"])
def test_a_file_name_with_url_characters_is_written_under_that_name_and_nothing_else(cli: Cli, name: str) -> None:
    # pasted into `sqlite:///` text, `x?.db` wrote a file `x` (the rest a query) and `y%20z.db` left a .tmp behind
    _sweep(cli)
    before = {p.name for p in Path(cli.cwd).iterdir()}
    result = cli("export", "--sweep", "1", "--optuna", name)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in Path(cli.cwd).iterdir()} - before == {name}
    assert len(_load(cli, result, name).trials) == 4
