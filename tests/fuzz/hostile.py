"""Hypothesis strategies for hostile input: presets (TOML files), `--set` overrides and `[search]` tables.

What they generate is what a fuzzer found breaking the loader (issue 13) and a little more: integers
past Python's 4,300-digit limit and past 64 bits, huge integers where a float is wanted, NaN and
infinities, arrays, inline tables and dotted keys or headers nested thousands deep, strings with
terminal escapes, CR/LF, NUL, bidi marks and lone surrogates, very long strings and keys, duplicated
keys, empty, binary and truncated files, mutations of the resolved toy preset.
"""
from __future__ import annotations

import json
from functools import lru_cache

from hypothesis import strategies as st

from engine.config.groups import iter_fields
from engine.config.presets import load_preset, to_toml

ESCAPES = ["\x1b[2J", "\x1b]0;pwned\x07", "\r\n", "\r", "\n", "\x00", "\x9b31m", "\u202e", "\u2028", "\ufeff",
           "\x7f", "\t", "\udcff"]  # the last: an undecodable byte of a command-line argument, as Python gives it
KNOB_KEYS = [f.key for f in iter_fields()]


@lru_cache(maxsize=1)
def toy_lines() -> tuple[str, ...]:
    """The resolved toy preset, line by line: what the mutations start from."""
    return tuple(to_toml(load_preset("toy2d-mlp")).splitlines())


def toml_string(text: str, ascii: bool = True) -> str:
    """`text` as a TOML basic string (JSON's escapes are TOML's, for what json.dumps writes); not `ascii`:
    other than control characters, as it is (a lone surrogate then makes the file no UTF-8)."""
    return json.dumps(text, ensure_ascii=ascii)


def digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: "9" * n)


huge_int = st.one_of(
    digits(20, 400), digits(4_290, 6_000), st.integers(19, 5_000).map(lambda n: "-1" + "0" * n),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-9223372036854775809", "0x" + "f" * 40,
                     "1_000_000_000_000_000_000_000"]),
)
odd_float = st.one_of(
    st.sampled_from(["nan", "+nan", "-nan", "inf", "-inf", "+inf", "1e400", "-1e400", "5e-324", "1.7976931348623157e308",
                     "0.0", "-0.0", "1e-400"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(300, 2_000).map(lambda n: "1." + "1" * n + "e5"),
)
deep_array = st.integers(1, 3_000).map(lambda d: "[" * d + "]" * d)
deep_table = st.integers(1, 1_500).map(lambda d: "{a=" * d + "1" + "}" * d)
hostile_string = st.one_of(
    st.text(max_size=40).map(toml_string),
    st.lists(st.sampled_from(ESCAPES + ["a", "é", "字", " "]), max_size=8).map(lambda xs: toml_string("".join(xs))),
    st.lists(st.sampled_from(ESCAPES + ["a", "é", "字", " "]), max_size=8).map(lambda xs: toml_string("".join(xs),
                                                                                                    False)),
    st.integers(1_000, 1_200_000).map(lambda n: '"' + "x" * n + '"'),
    st.sampled_from(["'raw\x1b[2Jcontrol'", '"lone \\ud800 surrogate"', '"""multi\nline"""', "'''lit\nml'''",
                     '"unterminated', "''"]),
)
hostile_value = st.one_of(
    huge_int, odd_float, deep_array, deep_table, hostile_string,
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["true", "false", "[]", "{}", "[1, 'a']", "[[1], [2, [3]]]", "1979-05-27T07:32:00Z", "07:32:00",
                     "{ a = 1, a = 2 }", "[1,,2]", "", "=", "[64, 32]", "0.01", "64", '"adam"', '"toy2d"']),
)
hostile_key = st.one_of(
    st.sampled_from(KNOB_KEYS).map(lambda k: k.split(".")[1]),
    st.text(min_size=1, max_size=20).map(toml_string),
    st.lists(st.sampled_from(ESCAPES + ["lr", "x"]), min_size=1, max_size=5).map(lambda xs: toml_string("".join(xs))),
    st.integers(200, 5_000).map(lambda n: "k" * n),
    st.integers(2, 3_000).map(lambda n: ".".join(["a"] * n)),
    st.sampled_from(["lr", "hidden", "name", "extends", "search", "params", "options"]),
)
hostile_header = st.one_of(
    st.sampled_from(["[task]", "[model]", "[optim]", "[search]", "[params]", "[task.options]", "[[task]]", "[optim.lr]",
                     "[nope]", "[]", "[task", "[[search]]"]),
    st.integers(2, 3_000).map(lambda n: "[" + ".".join(["a"] * n) + "]"),
    st.integers(2, 200).map(lambda n: "[task.options." + ".".join(["o"] * n) + "]"),
    hostile_key.map(lambda k: f"[{k}]"),
)


extends_value = st.one_of(
    st.sampled_from(['"toy2d-mlp"', '"curve"', '"toy2d-mlp.toml"', '"a\\u0000b"', '"/dev/zero"', '"/"', '"."', '""',
                     '"../../../../../../../../etc/hostname"', '"/proc/self/status"', '"mutated.toml"', '"\\u001b[2J"']),
    st.integers(200, 5_000).map(lambda n: '"' + "x" * n + '"'),
    st.integers(60, 2_000).map(lambda n: '"' + "a/" * n + 'x"'),
)


@st.composite
def mutated_preset(draw: st.DrawFn) -> bytes:
    """The resolved toy preset with one to four mutations; bytes, since some are not UTF-8."""
    lines = list(toy_lines())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["value", "key", "dup", "drop", "header", "junk", "extends", "line"]))
        at = draw(st.integers(0, len(lines)))
        setters = [i for i, line in enumerate(lines) if " = " in line]
        if kind == "value" and setters:
            i = draw(st.sampled_from(setters))
            lines[i] = lines[i].split(" = ")[0] + " = " + draw(hostile_value)
        elif kind == "key" and setters:
            i = draw(st.sampled_from(setters))
            lines[i] = draw(hostile_key) + " = " + lines[i].split(" = ", 1)[1]
        elif kind == "dup" and lines:
            lines.insert(at, lines[min(at, len(lines) - 1)])
        elif kind == "drop" and lines:
            del lines[min(at, len(lines) - 1)]
        elif kind == "header":
            lines.insert(at, draw(hostile_header))
        elif kind == "junk":
            lines.insert(at, draw(st.text(max_size=30)))
        elif kind == "extends":
            lines.insert(0, "extends = " + draw(st.one_of(hostile_value, extends_value)))
        else:
            lines.insert(at, draw(hostile_key) + " = " + draw(hostile_value))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # truncated, or with bytes that are no UTF-8
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.sampled_from([b"", b"\xff\xfe", b"\x00", b"\xc3"]))
    return data


raw_file = st.one_of(st.binary(max_size=600), st.text(max_size=600).map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.just(b""), st.just(b"\xef\xbb\xbf"), st.just(b"\xef\xbb\xbfname = 'bom'\n"))

raw_key = st.lists(st.sampled_from(ESCAPES + ["lr", "x", ".", "optim", " "]), min_size=1, max_size=6).map("".join)
knob_key = st.one_of(st.sampled_from(KNOB_KEYS), st.sampled_from(KNOB_KEYS), st.sampled_from(KNOB_KEYS),
                     st.sampled_from(["task.options.n", "params.x", "name", "optim", "optim.lrr", "a.b.c.d", ""]),
                     raw_key, raw_key.map(lambda k: f"optim.{k}"), hostile_key.map(lambda k: f"optim.{k}"))
override_text = st.one_of(
    hostile_value, huge_int, st.text(max_size=40), st.integers(-5, 300).map(str), st.floats().map(repr),
    st.lists(st.sampled_from(ESCAPES + ["1", ",", "[", "]", "a"]), max_size=12).map("".join),
    st.integers(9_000, 30_000).map(lambda n: "1," * n),
    st.sampled_from(["256,128", "[256, 128]", "1e3", "0x40", "yes", "{n = 5}", "n = 5", "3e-4"]),
)


@st.composite
def override(draw: st.DrawFn) -> str:
    """One `--set KEY=VALUE` item."""
    item = draw(knob_key) + draw(st.sampled_from(["="] * 6 + [" = ", ""])) + draw(override_text)
    return item.replace("\x00", "")  # a NUL cannot be in a command-line argument


benign_number = st.one_of(st.sampled_from(["0", "1", "1e-4", "0.5", "64", "-1", "1e-300", "3", "0.1"]),
                          st.integers(-10, 10**12).map(str), st.floats(-10, 10).map(repr))
def mostly(benign: st.SearchStrategy[str], hostile: st.SearchStrategy[str], times: int = 6) -> st.SearchStrategy[str]:
    """`benign` about `times` times out of `times` + 1: a table of several entries then holds one hostile
    entry now and then, not always, so that accepted tables reach the checks behind the first one.
    (`one_of` would not do: it draws its branches about evenly, whatever their repetition.)"""
    return st.sampled_from([True] * times + [False]).flatmap(lambda ok: benign if ok else hostile)


search_number = mostly(benign_number, st.one_of(huge_int, odd_float, st.integers(-(2**64), 2**64).map(str),
                                                hostile_value))
SETTINGS = {  # each setting's values that read, one or two past its bounds among them
    "strategy": ['"grid"', '"random"', '"tpe"'], "trials": ["1", "4", "24", "100000", "100001"],
    "parallel": ["1", "2", "64", "65"], "pruner": ['"none"', '"median"', '"successive_halving"'],
    "seed": ["0", "7", "4294967295"], "metric": ['"val_loss"', '"val_acc"', '"train_loss"'],
    "direction": ['"minimize"', '"maximize"'], "placement": ['"round_robin"', '"free_memory"'],
    "startup_trials": ["0", "3"], "warmup_epochs": ["0", "1"], "name": ['"s"', '"\\u001b[2J s"'],
}
SEARCH_KNOBS = ["optim.lr", "run.seed", "optim.batch_size", "model.hidden", "reg.dropout", "optim.optimizer",
                "task.options.n", "params.x", "name", "optim.lrr", "optim.max_epochs", "early_stop.patience"]


@st.composite
def search_entry(draw: st.DrawFn, clean: bool) -> tuple[str, str]:
    """One knob of a `[search]` table: (its key, the TOML of its range, choices or value). `clean`: numbers,
    lists and ranges that read (the rules may still refuse them), no hostile values."""
    key = draw(st.sampled_from(SEARCH_KNOBS) if clean else mostly(st.sampled_from(SEARCH_KNOBS), hostile_key))
    number = benign_number if clean else search_number
    kind = draw(st.sampled_from(["range", "range", "choices", "value"] if not clean else ["range", "choices"]))
    if kind == "range":
        if clean:
            entries = [("low", draw(number)), ("high", draw(number))]
            entries += [(k, draw(st.sampled_from(["true", "false"]) if k == "log" else number))
                        for k in draw(st.lists(st.sampled_from(["step", "log"]), max_size=1))]
        else:
            entries = [(k, draw(number)) for k in draw(st.lists(st.sampled_from(["low", "high", "step", "log", "lo"]),
                                                               max_size=4, unique=True))]
        value = "{ " + ", ".join(f"{k} = {v}" for k, v in entries) + " }"
    elif kind == "choices":
        value = "[" + ", ".join(draw(st.lists(number, min_size=1 if clean else 0, max_size=6))) + "]"
    else:
        value = draw(hostile_value)
    return key, value


@st.composite
def search_preset(draw: st.DrawFn) -> bytes:
    """A preset extending the toy one with a `[search]` table: clean tables about half the time (so some are
    accepted and reach the checks behind the first), the rest with hostile settings, keys and values."""
    clean = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(list(SETTINGS) + ([] if clean else ["trails"])), max_size=4, unique=True))
    settings = [(name, draw(st.sampled_from(SETTINGS.get(name, ["1"])) if clean else
                            mostly(st.sampled_from(SETTINGS.get(name, ["1"])), hostile_value))) for name in names]
    entries = draw(st.lists(search_entry(clean), min_size=1 if clean else 0, max_size=4, unique_by=lambda kv: kv[0]))
    lines = ['extends = "toy2d-mlp"', "[search]"] + [f"{k} = {v}" for k, v in settings]
    lines += [(toml_string(k) if not k.startswith('"') else k) + " = " + v for k, v in entries]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def grid_preset(low: int, high: int, step: int | None = None) -> str:
    """A grid over `run.seed`: the integer range that was built in full before its size was checked."""
    spec = f"low = {low}, high = {high}" + (f", step = {step}" if step is not None else "")
    return f'extends = "toy2d-mlp"\n[search]\nstrategy = "grid"\n"run.seed" = {{ {spec} }}\n'
