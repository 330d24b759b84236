"""The shipped presets: each one loads, `extends` merges them, and a preset is found by name from anywhere."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.config.presets import (
    find_preset,
    load_config_text,
    load_preset,
    locate_line,
    shipped_dir,
    shipped_names,
    to_toml,
)
from engine.errors import ConfigError

SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parents[3] / "presets").glob("*.toml"))
NEEDS_PATH = {"surnames-mlp", "surnames-cnn", "surnames-rnn", "surnames-ngrams"}


# --- shipped presets --------------------------------------------------------------------------------

def test_shipped_names_are_the_presets_folder() -> None:
    assert shipped_names() == SHIPPED
    assert shipped_dir().resolve() == (Path(__file__).resolve().parents[3] / "presets")
    assert {"toy2d-mlp", "toy2d-perceptron", "curve", "curve-l2", "surnames-mlp", "surnames-cnn"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_preset_loads(name: str) -> None:
    overrides = ["task.path=x.csv"] if name in NEEDS_PATH else []
    c = load_preset(name, overrides)
    assert c.name == ("my-text-classifier" if name == "template" else name)
    assert load_config_text(to_toml(c)) == c
    assert load_preset(name + ".toml", overrides) == c
    assert load_preset(shipped_dir() / f"{name}.toml", overrides) == c


@pytest.mark.parametrize("name", sorted(NEEDS_PATH))
def test_surnames_presets_say_how_to_give_the_data_path(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_preset(name)
    message = str(err.value)
    assert err.value.key == "task.path"
    assert "is required for task 'text-csv'" in message and "--set task.path=FILE" in message
    mlp = shipped_dir() / "surnames-mlp.toml"
    assert message.startswith(f"{mlp}:{locate_line(mlp.read_text(encoding='utf-8'), 'task', 'path')}: ")


def test_surnames_mlp_has_the_books_settings() -> None:
    c = load_preset("surnames-mlp", ["task.path=surnames_with_splits.csv"])
    assert c.task.name == "text-csv" and c.task.path == "surnames_with_splits.csv"
    assert (c.task.text_column, c.task.label_column, c.task.split_column) == ("surname", "nationality", "split")
    assert c.task.vectorizer == "char-bow"
    assert c.model.kind == "mlp" and c.model.hidden == (300,)
    assert (c.optim.optimizer, c.optim.lr, c.optim.batch_size, c.optim.max_epochs) == ("adam", 1e-3, 64, 100)
    assert c.optim.class_weights == "balanced" and c.optim.loss == "cross_entropy"
    assert (c.optim.scheduler, c.optim.factor, c.optim.plateau_patience) == ("plateau", 0.5, 1)
    assert (c.early_stop.patience, c.early_stop.monitor) == (5, "val_loss")
    assert c.run.seed == 1337


def test_surnames_cnn_extends_the_mlp_with_the_books_cnn() -> None:
    mlp = load_preset("surnames-mlp", ["task.path=s.csv"])
    cnn = load_preset("surnames-cnn", ["task.path=s.csv"])
    assert cnn.task.vectorizer == "char-matrix"
    assert (cnn.model.kind, cnn.model.channels, cnn.model.kernel_size, cnn.model.conv_layers) == ("cnn", 256, 3, 4)
    assert cnn.optim.batch_size == 128
    # Everything else comes from the MLP preset.
    assert dataclasses.replace(cnn.optim, batch_size=64) == mlp.optim
    assert cnn.early_stop == mlp.early_stop and cnn.run == mlp.run and cnn.reg == mlp.reg
    assert dataclasses.replace(cnn.task, vectorizer="char-bow") == mlp.task


def test_extends_merges_per_key() -> None:
    curve, l2 = load_preset("curve"), load_preset("curve-l2")
    assert l2.reg.weight_decay == 0.01 and curve.reg.weight_decay == 0.0
    assert l2.model.hidden == curve.model.hidden == (256, 256)
    assert l2.name == "curve-l2"
    assert dataclasses.replace(l2, name="curve", reg=curve.reg) == curve


def test_a_user_preset_extends_a_shipped_one_by_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("name = 'mine'\nextends = 'curve'\n\n[model]\nhidden = [32]\n", encoding="utf-8")
    c = load_preset(path)
    assert (c.name, c.task.name, c.task.n_samples, c.model.hidden, c.model.activation) == (
        "mine", "curve", 60, (32,), "tanh")


def test_presets_are_found_by_name_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = load_preset("curve-l2")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curve.toml").write_text("this is not TOML", encoding="utf-8")  # must not shadow the base
    assert find_preset("curve-l2") == shipped_dir() / "curve-l2.toml"
    assert load_preset("curve-l2") == here
    assert load_preset("toy2d-mlp").name == "toy2d-mlp"
    (tmp_path / "own.toml").write_text("[optim]\nlr = 0.5\n", encoding="utf-8")
    assert find_preset("own.toml") == tmp_path / "own.toml"
    assert load_preset("own.toml").optim.lr == 0.5


@pytest.mark.parametrize(("ref", "suggestion"), [("curv-l2", "curve-l2"), ("toy2d-mpl", "toy2d-mlp"),
                                                ("surnames-cn.toml", "surnames-cnn")])
def test_find_preset_suggests_a_shipped_name(ref: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        find_preset(ref)
    message = str(err.value)
    assert f"did you mean {suggestion!r}?" in message
    assert "shipped: " + ", ".join(SHIPPED) in message
    assert message.endswith(f", got {ref!r}")


def test_find_preset_without_a_close_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as err:
        find_preset("zzzzzz")
    assert "did you mean" not in str(err.value) and "shipped: curve" in str(err.value)
