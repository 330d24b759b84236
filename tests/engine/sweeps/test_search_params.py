"""A `[search]` over the user's own params: checked by the declaration like a built-in knob."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.errors import ConfigError
from engine.sweeps.preset_search import load_sweep
from engine.sweeps.spec import Choice, Range, parse_search

BASE = Config.from_dict({
    "task": {"name": "toy2d", "n_samples": 200}, "run": {"device": "cpu"},
    "params_spec": {"num_heads": {"type": "int", "default": 4, "low": 1, "high": 16},
                    "warmup": {"type": "float", "default": 0.01, "low": 1e-4, "high": 1.0, "log": True},
                    "norm": {"type": "str", "default": "layer", "choices": ["layer", "batch"]}},
})


def test_grid_lists_and_ranges_over_params() -> None:
    spec = parse_search({"strategy": "grid", "params.num_heads": [2, 4, 8],
                         "params.norm": ["layer", "batch"]}, BASE)
    assert spec.params == (Choice("params.num_heads", (2, 4, 8)), Choice("params.norm", ("layer", "batch")))
    assert spec.grid_size == 6
    stepped = parse_search({"strategy": "grid", "params.num_heads": {"low": 2, "high": 6, "step": 2}}, BASE)
    assert stepped.params[0].grid_values() == [2, 4, 6]
    ranged = parse_search({"strategy": "tpe", "params.warmup": {"low": 1e-3, "high": 0.1}}, BASE)
    assert ranged.params == (Range("params.warmup", 1e-3, 0.1, False, log=True),)  # the declaration's log
    assert BASE.with_updates({"params.num_heads": 8}).params["num_heads"] == 8


def test_unquoted_dotted_keys_name_params_too() -> None:
    spec = parse_search({"params": {"num_heads": [1, 2]}}, BASE)
    assert spec.keys() == ["params.num_heads"]


@pytest.mark.parametrize("raw, key, piece", [
    ({"params.num_heads": [2, 32]}, "search.params.num_heads", "must be <= 16"),
    ({"params.num_head": [2]}, "search.params.num_head", "did you mean 'num_heads'?"),
    ({"params.norm": ["group"]}, "search.params.norm", "must be one of layer, batch"),
    ({"params.norm": {"low": 1, "high": 2}}, "search.params.norm", "a range needs a numeric knob"),
])
def test_a_bad_value_is_refused_by_the_declaration(raw: dict, key: str, piece: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_search(raw, BASE)
    assert err.value.key == key and piece in err.value.rule


def test_a_preset_sweeps_its_declared_param(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[task]\nname = "toy2d"\n\n[params]\nheads = { type = "int", default = 2, low = 1, high = 8 }\n\n'
                    '[search]\nstrategy = "grid"\n"params.heads" = [1, 2, 4]\n', encoding="utf-8")
    base, spec = load_sweep(path)
    assert base.params == {"heads": 2} and spec.params == (Choice("params.heads", (1, 2, 4)),)
