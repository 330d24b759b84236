"""text-csv features: how wide index rows are, which knob a too-big tensor names, and column names that
could clash with the frames made inside."""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks import text_csv
from engine.tasks.ngrams import char_ngrams


def build(tmp_path: Path, rows: list[str], header: str = "name,nat,split", text: str = "name",
          model: str = "mlp", **task: object):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return text_csv.build(Config.from_dict({
        "task": {"name": "text-csv", "path": str(path), "text_column": text, "label_column": header.split(",")[1],
                 "split_column": "split", **task},
        "model": {"kind": model}, "run": {"device": "cpu"},
    }))


SHORT = ["abc,x,train", "abd,y,train", "ab,x,train", "abq,x,val", "ab,y,test"]


def test_a_max_length_beyond_every_text_is_as_wide_as_the_longest_text(tmp_path: Path) -> None:
    data = build(tmp_path, [*SHORT, "abcdefg,y,test"], model="rnn", vectorizer="char-seq", max_length=1_000_000)
    assert data.info["max_length"] == 7 and data.input_shape[1] == 7  # not a million columns of <pad>
    assert data.train.x.shape == (3, 7) and data.test.x.shape == (2, 7)
    capped = build(tmp_path, [*SHORT, "abcdefg,y,test"], model="rnn", vectorizer="char-seq", max_length=4)
    assert capped.input_shape[1] == 4 and capped.test.x[1].tolist() == [2, 3, 4, 5]  # cut at the cap


def test_ngram_index_rows_are_as_wide_as_the_train_split_and_cut_a_longer_val_text(tmp_path: Path) -> None:
    long_val = "abababababababababab"  # far more n-grams than any train text
    data = build(tmp_path, [*SHORT, f"{long_val},y,val"], model="embedding_bag", vectorizer="char-ngrams",
                 ngram_min=1, ngram_max=2)
    train_most = max(len(g) for g in char_ngrams(pl.Series(["abc", "abd", "ab"]), True, 1, 2).to_list())
    assert data.input_shape[1] == train_most == 9  # 5 one-grams and 4 two-grams of ^abc$
    assert data.val.x.shape == (2, 9) and (data.val.x[1] != 0).all()  # cut, not padded


def test_hashed_ngrams_too_big_for_a_bag_name_hash_buckets(tmp_path: Path) -> None:
    rows = [f"{'ab' * (i % 5 + 1)},{'xy'[i % 2]},train" for i in range(70)] + ["ab,x,val", "ab,y,test"]
    with pytest.raises(TaskError) as err:
        build(tmp_path, rows, vectorizer="char-ngrams", hash_buckets=16_777_216)
    message = str(err.value)
    assert "train split: the features would take" in message and "lower task.hash_buckets" in message
    assert "min_freq" not in message
    assert build(tmp_path, rows, vectorizer="char-ngrams", hash_buckets=64).input_shape == (65,)


@pytest.mark.parametrize("vectorizer, model", [("bow", "mlp"), ("char-ngrams", "mlp"), ("char-seq", "rnn")])
def test_a_text_column_named_count_builds(tmp_path: Path, vectorizer: str, model: str) -> None:
    rows = ["good movie,pos,train", "bad movie,neg,train", "good fun,pos,train", "bad,neg,val", "good,pos,test"]
    data = build(tmp_path, rows, header="count,label,split", text="count", model=model, vectorizer=vectorizer)
    assert data.n_classes == 2 and data.train.x.shape[0] == 3


def test_each_concept_is_defined_once_in_the_engine() -> None:
    engine = Path(__file__).resolve().parents[3] / "engine"
    sources = [path.read_text(encoding="utf-8") for path in engine.rglob("*.py")]

    def count(pattern: str) -> int:
        return sum(len(re.findall(pattern, text, re.M)) for text in sources)

    assert count(r"^PAD_INDEX\s*=") == 1 and count(r"UNK_INDEX") == 0
    assert count(r'task\.problem == "regression"') == 1  # consistency.is_regression
    assert count(r"fill_null\(\"\"\)") == 1  # text normalisation: vectorize.normalise
    assert count(r"lower task\.max_length") == 1 and count(r"raise task\.min_freq") == 1  # the remedies
    assert count(r"\.cast\(pl\.Int64\)\.to_torch\(\)") == 1  # vectorize.column_tensor
