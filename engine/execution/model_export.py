"""A trained model handed back: a trial's checkpoint written as weights plus its config, and loaded again.

`export_model` writes the model's state_dict (only tensors: `torch.load(weights_only=True)` reads
it) to FILE and the trial's config as TOML beside it (FILE with `.toml`), with the shapes the model
was built for (the task's input shape, classes, outputs and loss) in a `[model_shape]` table, so
that `load_model` rebuilds a built-in task's model without the data it was trained on. A plugin's
own model cannot be rebuilt from a config: `load_model` then returns the state_dict for the user's
own class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.config.groups import Config
from engine.config.presets import dict_to_toml
from engine.config.toml_io import read_toml_text, table_toml
from engine.errors import TunedeckError
from engine.execution.checkpoints import best_or_last, load_checkpoint, write_atomically
from engine.store import Store
from engine.tasks.base import Split, TaskData

SHAPE_TABLE = "model_shape"


class ModelFileError(TunedeckError):
    """An exported model that cannot be loaded (its TOML is missing, or the weights do not fit)."""


def config_path(weights: Path) -> Path:
    return weights.with_suffix(".toml") if weights.suffix != ".toml" else weights.with_name(weights.name + ".config.toml")


def export_model(store: Store, trial_id: int, output: Path, *, last: bool = False, force: bool = False) -> tuple[Path, Path, int]:
    """Write a trial's best (or newest last) weights and its config; (weights file, TOML file, epoch)."""
    record = best_or_last(store, trial_id, last=last)
    payload = load_checkpoint(record)
    output = Path(output)
    toml_file = config_path(output)
    for target in (output, toml_file):
        if target.exists() and not force:
            raise ModelFileError(f"{target}: exists; add --force to overwrite it")
    if not output.parent.is_dir():
        raise ModelFileError(f"{output.parent}: no such directory")
    shape = dict(payload.get("shape") or {})
    trial = store.trial(trial_id)
    header = (f"# tunedeck trial {trial_id} ({trial.name}), {record.kind} checkpoint of epoch {record.epoch}; "
              f"test_acc {trial.test_acc}, test_loss {trial.test_loss}\n")
    text = header + dict_to_toml(payload["config"]) + "\n" + table_toml(SHAPE_TABLE, shape)
    write_atomically(output, lambda fh: torch.save(payload["model"], fh))
    write_atomically(toml_file, lambda fh: fh.write(text.encode()))
    return output, toml_file, record.epoch


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """The model of an exported trial, in eval mode, ready for inference (a plugin's: its state_dict).

    `path` is the weights file `tunedeck export-model` wrote; its TOML must sit beside it.
    """
    from engine.training.models import build_model

    weights = Path(path)
    toml_file = config_path(weights)
    if not weights.exists():
        raise ModelFileError(f"{weights}: no such file")
    if not toml_file.exists():
        raise ModelFileError(f"{toml_file}: missing (export-model writes the config beside the weights)")
    data = read_toml_text(toml_file.read_text(), str(toml_file))
    shape = data.pop(SHAPE_TABLE, {})
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch says of a bad file, say which file
        raise ModelFileError(f"{weights}: not readable weights ({type(exc).__name__}: {exc})") from None
    if shape.get("task_model"):
        return state
    try:
        config = Config.from_dict(data)
    except TunedeckError as exc:
        raise ModelFileError(f"{toml_file}: {exc}") from None
    empty = Split(torch.zeros(0), torch.zeros(0))
    stand_in = TaskData(empty, empty, empty, shape.get("problem", "binary"), tuple(shape.get("input_shape", ())),
                        int(shape.get("n_classes", 0)), int(shape.get("out_features", 1)))
    model = build_model(config, stand_in, str(shape.get("loss", "")))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{weights}: the weights do not fit the model its config describes: {exc}") from None
    return model.to(map_location).eval()
