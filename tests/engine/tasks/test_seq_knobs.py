"""The knobs of the sequence vectorizers and the embedding models: each has help and bounds, applies only
where it is used (the form shows it then), and round-trips through a preset file and `--set`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config.groups import Config, iter_fields
from engine.config.knob_text import format_text
from engine.config.presets import load_config_text, load_preset, to_toml
from engine.errors import ConfigError

# Each new knob with a value other than its default, in a config where it applies.
NEW_KNOBS: dict[str, Any] = {
    "task.max_length": 24, "model.embedding_dim": 32, "model.head": "mlp", "model.rnn_cell": "lstm",
    "model.rnn_hidden": 48, "model.rnn_layers": 2, "model.bidirectional": True, "model.rnn_pool": "mean",
}
NGRAM_KNOBS: dict[str, Any] = {"task.ngram_min": 2, "task.ngram_max": 4, "task.hash_buckets": 4096}
FIELDS = {info.key: info for info in iter_fields()}

PRESET = """name = "seq"

[task]
name = "text-csv"
path = "names.csv"
vectorizer = "char-seq"
max_length = 24

[model]
kind = "rnn"
embedding_dim = 32
head = "mlp"
rnn_cell = "lstm"
rnn_hidden = 48
rnn_layers = 2
bidirectional = true
rnn_pool = "mean"
"""

NGRAMS = """name = "ngrams"

[task]
name = "text-csv"
path = "names.csv"
vectorizer = "char-ngrams"
ngram_min = 2
ngram_max = 4
hash_buckets = 4096

[model]
kind = "embedding_bag"
"""


@pytest.mark.parametrize("key", [*NEW_KNOBS, *NGRAM_KNOBS])
def test_each_new_knob_has_help_bounds_and_applies(key: str) -> None:
    knob = FIELDS[key].knob
    assert len(knob.help) > 20 and knob.applies is not None
    if knob.kind == "int":
        assert knob.low is not None and knob.high is not None
    if knob.kind == "choice":
        assert knob.choices


def test_a_preset_file_sets_every_new_knob_and_writes_it_back(tmp_path: Path) -> None:
    for text, values in ((PRESET, NEW_KNOBS), (NGRAMS, NGRAM_KNOBS)):
        path = tmp_path / "p.toml"
        path.write_text(text, encoding="utf-8")
        config = load_preset(path)
        for key, value in values.items():
            assert config.get(key) == value and FIELDS[key].default != value, key
        assert load_config_text(to_toml(config)) == config


@pytest.mark.parametrize(("key", "value"), [*NEW_KNOBS.items(), *NGRAM_KNOBS.items()])
def test_set_gives_each_new_knob_the_value_a_preset_gives(tmp_path: Path, key: str, value: Any) -> None:
    base = tmp_path / "base.toml"
    base.write_text(NGRAMS if key in NGRAM_KNOBS else PRESET.split("max_length")[0] + "\n[model]\nkind = 'rnn'\n",
                    encoding="utf-8")
    config = load_preset(base, [f"{key}={format_text(FIELDS[key].knob.kind, value)}"])
    assert config.get(key) == value


@pytest.mark.parametrize(("key", "text", "rule"), [
    ("model.rnn_cell", "transformer", "must be one of gru, lstm, elman"),
    ("model.rnn_layers", "0", "must be >= 1"),
    ("task.max_length", "-1", "must be >= 0"),
    ("task.hash_buckets", "lots", "must be an integer"),
])
def test_set_refuses_a_bad_value_with_the_key_and_the_rule(key: str, text: str, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_preset("surnames-rnn", ["task.path=x.csv", f"{key}={text}"])
    assert str(err.value).startswith(f"--set: {key}: ") and rule in str(err.value)


def test_the_rnn_knobs_apply_only_to_the_rnn() -> None:
    rnn = Config.from_dict({"task": {"name": "text-csv", "path": "x.csv", "vectorizer": "char-seq"},
                            "model": {"kind": "rnn"}})
    mlp = Config.from_dict({"task": {"name": "text-csv", "path": "x.csv"}})
    bag = rnn.with_updates({"model.kind": "embedding_bag"})
    rnn_keys = {"model.rnn_cell", "model.rnn_hidden", "model.rnn_layers", "model.bidirectional", "model.rnn_pool"}
    assert all(rnn.applies(k) for k in rnn_keys | {"model.embedding_dim", "model.head", "task.max_length"})
    assert not any(mlp.applies(k) for k in rnn_keys | {"model.embedding_dim", "model.head", "task.max_length"})
    assert not any(bag.applies(k) for k in rnn_keys) and bag.applies("model.embedding_dim")
    assert not rnn.applies("model.hidden") and rnn.with_updates({"model.head": "mlp"}).applies("model.hidden")
    ngrams = mlp.with_updates({"task.vectorizer": "char-ngrams"})
    assert ngrams.applies("task.ngram_max") and ngrams.applies("task.min_freq")
    assert not ngrams.with_updates({"task.hash_buckets": 64}).applies("task.min_freq")


@pytest.mark.parametrize("name", ["surnames-rnn", "surnames-ngrams"])
def test_the_presets_commented_search_runs_once_uncommented(tmp_path: Path, name: str) -> None:
    from engine.config.presets import shipped_dir
    from engine.sweeps.preset_search import load_sweep

    text = (shipped_dir() / f"{name}.toml").read_text(encoding="utf-8")
    head, _, search = text.partition("# [search]\n")
    assert search and all(line.startswith("# ") for line in search.splitlines())
    path = tmp_path / f"{name}.toml"
    path.write_text(head + "[search]\n" + "\n".join(line[2:] for line in search.splitlines()) + "\n",
                    encoding="utf-8")
    config, spec = load_sweep(path, ["task.path=x.csv"])
    assert config.name == name and len(spec.params) >= 5 and spec.trials == 32
