"""char-ngrams: n-grams of each framed text, a vocabulary of the train split's n-grams only (min_freq), or
CRC-32 buckets that are the same in every process; a bag for the mlp and index lists for embedding_bag."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch

from engine.config.groups import Config
from engine.errors import ConfigError
from engine.tasks import text_csv
from engine.tasks.ngrams import END, START, bucket, char_ngrams, hashed_ids

ROOT = Path(__file__).resolve().parents[3]

DATA = """name,nat,split
abc,x,train
abd,y,train
abc,x,train
zzq,y,val
abq,x,test
ab,y,test
"""


def build(tmp_path: Path, model: str = "mlp", **task: object):
    path = tmp_path / "names.csv"
    path.write_text(DATA, encoding="utf-8")
    return text_csv.build(Config.from_dict({
        "task": {"name": "text-csv", "path": str(path), "text_column": "name", "label_column": "nat",
                 "split_column": "split", "vectorizer": "char-ngrams", **task},
        "model": {"kind": model}, "run": {"device": "cpu"},
    }))


def test_ngrams_of_a_framed_text_in_order_of_n() -> None:
    grams = char_ngrams(pl.Series(["Ab", "", None]), True, 2, 3).to_list()
    assert grams[0] == [f"{START}a", "ab", f"b{END}", f"{START}ab", f"ab{END}"]
    assert grams[1] == grams[2] == [f"{START}{END}"]  # an empty text is its two marks
    assert char_ngrams(pl.Series(["abc"]), False, 5, 6).to_list() == [[f"{START}abc{END}"]]
    assert char_ngrams(pl.Series(["a"]), False, 4, 4).to_list() == [[]]  # too short for any 4-gram


def test_the_vocabulary_comes_from_the_train_split_only(tmp_path: Path) -> None:
    data = build(tmp_path, ngram_min=2, ngram_max=2)
    # train 2-grams: ^a ab bc c$ bd d$; val's "zz", "zq", "q$" and test's "bq", "q$" are unknown
    train = {g for name in ("abc", "abd") for g in char_ngrams(pl.Series([name]), True, 2, 2).to_list()[0]}
    assert len(train) == 6
    assert data.input_shape == (1 + len(train),) and data.info["vocab_size"] == 7 and data.info["ngrams"] == "2-2"
    assert data.train.x[:, 0].tolist() == [0, 0, 0]  # <unk> never fires on train
    assert data.val.x[0].tolist() == [1, 0, 0, 0, 0, 0, 0]  # only unknown 2-grams
    assert data.test.x[0].sum().item() == 3 and data.test.x[0, 0] == 1  # ^a ab known, bq q$ unknown
    assert data.train.x.dtype == torch.float32


def test_min_freq_counts_ngrams_in_the_train_split(tmp_path: Path) -> None:
    data = build(tmp_path, ngram_min=3, ngram_max=3, min_freq=2)
    # train 3-grams: ^ab x3, abc x2, bc$ x2, abd x1, bd$ x1 -> <unk>, ^ab, abc, bc$
    assert data.input_shape == (4,)
    assert data.train.x[1].tolist() == [1, 1, 0, 0]


def test_embedding_bag_gets_padded_index_lists(tmp_path: Path) -> None:
    data = build(tmp_path, model="embedding_bag", ngram_min=1, ngram_max=1)
    # <pad>, <unk>, then ^ $ a b c d sorted: \x02 \x03 a b c d
    assert data.input_shape[0] == 8 and data.train.x.dtype == torch.int64
    assert data.train.x[0].tolist() == [2, 4, 5, 6, 3]  # ^ a b c $, nothing cut
    assert data.test.x[1].tolist() == [2, 4, 5, 3, 0]  # "ab" is one shorter: one <pad>


def test_hashing_puts_every_ngram_in_a_bucket(tmp_path: Path) -> None:
    data = build(tmp_path, hash_buckets=16)
    assert data.input_shape == (17,) and data.info["hash_buckets"] == 16
    assert data.train.x[:, 0].tolist() == [0, 0, 0]  # index 0 is <pad>: no n-gram lands there
    assert data.val.x[0].sum().item() > 0  # val's n-grams are never seen in train, but still hashed
    ids = hashed_ids(pl.Series([["ab", "zz", "ab"]]), 16).to_list()[0]
    assert ids[0] == ids[2] == bucket("ab", 16) and all(1 <= i <= 16 for i in ids)


def test_hashing_is_the_same_in_another_process() -> None:
    grams = ["\x02ab", "ov\x03", "sk", "ü", "名前"]
    here = hashed_ids(pl.Series([grams]), 1000).to_list()[0]
    code = ("import polars as pl; from engine.tasks.ngrams import hashed_ids; "
            f"print(hashed_ids(pl.Series([{grams!r}]), 1000).to_list()[0])")
    for seed in ("1", "2"):  # Python's str hash differs between these two processes; CRC-32 does not
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"})
        assert out.stdout.strip() == str(here)
    assert len(set(here)) > 1


def test_ngram_max_below_ngram_min_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"task": {"name": "text-csv", "path": "x.csv", "vectorizer": "char-ngrams",
                                   "ngram_min": 4, "ngram_max": 2}})
    assert err.value.key == "task.ngram_max" and "must be >= task.ngram_min, which is 4" in str(err.value)
    assert "got 2" in str(err.value)


def test_rnn_refuses_ngrams_and_embedding_bag_refuses_a_bag() -> None:
    for vectorizer, kind in (("char-ngrams", "rnn"), ("char-bow", "embedding_bag"), ("bow", "rnn")):
        with pytest.raises(ConfigError) as err:
            Config.from_dict({"task": {"name": "text-csv", "path": "x.csv", "vectorizer": vectorizer},
                              "model": {"kind": kind}})
        assert err.value.key == "model.kind"
        assert f"(task.vectorizer is {vectorizer!r})" in str(err.value) and "needs task.name = 'text-csv'" in str(err.value)


def test_ngrams_longer_than_every_train_text_are_refused_with_the_knob(tmp_path: Path) -> None:
    from engine.errors import TaskError

    with pytest.raises(TaskError) as err:
        build(tmp_path, ngram_min=6, ngram_max=6, hash_buckets=8)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'names.csv'}: task.ngram_min: ")
    assert "long enough for a 6-gram" in message and "lower task.ngram_min" in message
    assert build(tmp_path, ngram_min=5, ngram_max=6).input_shape == (3,)  # ^abc$ and ^abd$ are 5-grams
