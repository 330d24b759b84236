"""Each bound on hostile input, at its edge, with its own message (engine/config/limits.py, the search spec).

Every case here crashed, hung or ate memory before the bound existed; each now ends in one ConfigError
that names the file, the line where TOML gives it, the key, the rule and the value, shortened.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.groups import Config
from engine.config.limits import MAX_DEPTH, MAX_EXTENDS, MAX_FILE_BYTES, MAX_ITEMS, MAX_KEY, MAX_TEXT, MAX_WORD
from engine.config.params import parse_declaration
from engine.config.presets import load_preset, parse_override
from engine.config.toml_io import read_literal
from engine.errors import ConfigError
from engine.sweeps.preset_search import load_sweep
from engine.sweeps.spec import MAX_CHOICES, MAX_GRID, MAX_KNOBS, Range, parse_search

TOY = 'extends = "toy2d-mlp"\n'


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_sweep(path) if "[search]" in text else load_preset(path)
    message = str(err.value)
    assert message.startswith(f"{path}") and "\n" not in message and len(message) < 600, message
    return message.removeprefix(str(path))


def test_an_integer_past_pythons_digit_limit_is_refused_before_the_parser(tmp_path: Path) -> None:
    message = refused(tmp_path, f"{TOY}[task]\nn_samples = {'9' * 5_000}\n")
    assert message.startswith(f":3: a number longer than {MAX_WORD} characters, got '9999")
    assert message.endswith("…' (5,000 characters)")


def test_a_number_of_exactly_the_longest_length_reads(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f"{TOY}[optim]\nlr = 0.{'0' * (MAX_WORD - 3)}1\n", encoding="utf-8")
    assert load_preset(path).optim.lr > 0


def test_an_integer_past_64_bits_is_refused_where_it_is_set(tmp_path: Path) -> None:
    message = refused(tmp_path, f"{TOY}[optim]\nlr = {'9' * 30}\n")
    assert message == f":3: optim.lr: must be a 64-bit integer (between -2**63 and 2**63-1), got {'9' * 30}"
    assert ":4: run.seed: must be a 64-bit" in refused(tmp_path, f"{TOY}\n[run]\nseed = 9223372036854775808\n")


def test_a_float_knob_given_a_huge_integer_is_refused_not_overflowed() -> None:
    with pytest.raises(ConfigError, match=r"optim.lr: must be a finite number, got <an integer of about 1,001 digits>"):
        Config.from_dict({"optim": {"lr": 10**1000}})
    with pytest.raises(ConfigError, match="params.x: low must be a 64-bit integer"):
        parse_declaration("x", {"type": "float", "default": 1.0, "low": 10**400}, ())


def test_nesting_is_refused_past_its_depth(tmp_path: Path) -> None:
    assert read_literal("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        read_literal("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    deep = "[" * 3_000 + "]" * 3_000
    assert refused(tmp_path, f"{TOY}[task]\noptions = {{ a = {deep} }}\n") == \
        f":3: arrays or tables nested more than {MAX_DEPTH} deep"
    assert refused(tmp_path, f"{TOY}x = {'{a=' * 1_500}1{'}' * 1_500}\n") == \
        f":2: arrays or tables nested more than {MAX_DEPTH} deep"


def test_dotted_headers_and_keys_count_as_nesting(tmp_path: Path) -> None:
    spaced = " . ".join(["o"] * 3_000)
    message = refused(tmp_path, f"{TOY}[task.options.{spaced}]\n")
    assert message.startswith(": task.options.o.o.o") and f"nested more than {MAX_DEPTH} deep" in message
    assert f"longer than {MAX_WORD} characters" in refused(tmp_path, f"{TOY}{'.'.join(['a'] * 3_000)} = 1\n")


def test_an_extends_chain_ends_at_its_bound(tmp_path: Path) -> None:
    def chain(length: int) -> Path:
        folder = tmp_path / f"chain{length}"
        folder.mkdir()
        for i in range(length - 1):  # the toy preset is the last link
            (folder / f"p{i}.toml").write_text(f'extends = "p{i + 1}.toml"\n', encoding="utf-8")
        (folder / f"p{length - 2}.toml").write_text(TOY, encoding="utf-8")
        return folder / "p0.toml"

    assert load_preset(chain(MAX_EXTENDS)).task.name == "toy2d"
    with pytest.raises(ConfigError) as err:
        load_preset(chain(MAX_EXTENDS + 1))
    assert str(err.value).endswith(f"p{MAX_EXTENDS - 1}.toml: extends: more than {MAX_EXTENDS} presets in one "
                                   "extends chain, got 'toy2d-mlp.toml'")
    with pytest.raises(ConfigError, match="more than 16 presets"):
        load_preset(chain(1_000))  # was a RecursionError


def test_long_strings_keys_and_arrays_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, f'{TOY}[task]\npath = "{"x" * (MAX_TEXT + 1)}"\n')
    assert message.startswith(f":3: task.path: a string longer than {MAX_TEXT:,} characters, got 'xxx")
    assert message.endswith(f"…' ({MAX_TEXT + 1:,} characters)")
    message = refused(tmp_path, f'{TOY}[task]\n{"k" * (MAX_KEY + 1)} = 1\n')
    assert message.startswith(f":2: task: a key longer than {MAX_KEY} characters, got 'kkk")
    items = ", ".join(["1"] * (MAX_ITEMS + 1))
    assert refused(tmp_path, f"{TOY}[model]\nhidden = [{items}]\n") == \
        f":3: model.hidden: an array of more than {MAX_ITEMS:,} items"


def test_a_file_past_the_size_bound_is_not_read(tmp_path: Path) -> None:
    message = refused(tmp_path, f'{TOY}# {"x" * MAX_FILE_BYTES}\n')
    assert message == f": is larger than {MAX_FILE_BYTES:,} bytes: no preset is"


def test_a_set_item_past_the_length_bound_is_refused_shortened() -> None:
    with pytest.raises(ConfigError) as err:
        parse_override("name=" + "x" * 2_500_000)
    assert str(err.value).startswith(f"--set: is longer than {MAX_TEXT:,} characters, got 'name=xxx")
    assert str(err.value).endswith("…' (2,500,005 characters)") and len(str(err.value)) < 200
    with pytest.raises(ConfigError, match="must be an integer"):
        parse_override("optim.batch_size=" + "9" * 5_000)
    with pytest.raises(ConfigError, match=r"optim.lr: must be a finite number"):
        Config.from_dict({"optim": {"lr": parse_override("optim.lr=" + "9" * 400)[1]}})


def test_a_grid_is_sized_from_its_spec_before_anything_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(self: Range) -> list[float]:
        raise AssertionError("grid values built before the grid's size was checked")

    monkeypatch.setattr(Range, "grid_values", never)
    base = Config()
    with pytest.raises(ConfigError) as err:
        parse_search({"strategy": "grid", "run.seed": {"low": 0, "high": 4_000_000_000}}, base)
    assert str(err.value) == (f"search.strategy: the grid has 4000000001 points, more than {MAX_GRID}; use random "
                              "or tpe, got 'grid'")
    with pytest.raises(ConfigError, match="the grid has 10000000000 points"):
        parse_search({"strategy": "grid", "run.seed": {"low": 0, "high": 99_999}, "optim.batch_size": [1, 2, 3, 4],
                      "optim.max_epochs": {"low": 1, "high": 25_000}}, base)
    spec = parse_search({"strategy": "random", "run.seed": {"low": 0, "high": 2**32 - 1}}, base)
    assert spec.params[0].grid_count == 2**32  # counted, not built


def test_search_ranges_refuse_huge_integers_and_too_many_knobs_or_choices() -> None:
    base = Config()
    with pytest.raises(ConfigError, match=r"search.optim.lr.high: must be a 64-bit integer .*, got <an integer of about"):
        parse_search({"optim.lr": {"low": 1, "high": 10**4000}}, base)  # was an OverflowError
    with pytest.raises(ConfigError, match=f"search.run.seed: lists more than {MAX_CHOICES:,} choices"):
        parse_search({"run.seed": list(range(MAX_CHOICES + 1))}, base)
    many = {f"task.options.k{i}": [1] for i in range(MAX_KNOBS + 1)}
    with pytest.raises(ConfigError, match=f"search: varies more than {MAX_KNOBS} knobs"):
        parse_search(many, base)
