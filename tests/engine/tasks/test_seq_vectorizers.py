"""char-seq and word-seq: index rows over the train split's vocabulary, <pad> = 0 and <unk> = 1, a width
from the train split's lengths (task.max_length or its 95th percentile), longer texts cut; and the rows stay
int64 all the way into the model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.config.groups import Config
from engine.tasks import text_csv
from engine.tasks.vocab import PAD, UNK, Vocabulary
from engine.training.batches import iter_batches
from engine.training.loop import prepare

NAMES = """name,nat,split
Ab,x,train
ba,y,train
cab,x,train
Abd,y,val
a,x,test
abcab,y,test
"""

REVIEWS = """text,label,split
good movie,pos,train
bad movie,neg,train
good good fun,pos,train
bad acting,neg,val
good ending,pos,test
,neg,test
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def config(path: str, text: str = "name", label: str = "nat", model: str = "rnn", **task: object) -> Config:
    return Config.from_dict({
        "task": {"name": "text-csv", "path": path, "text_column": text, "label_column": label,
                 "split_column": "split", "vectorizer": "char-seq", **task},
        "model": {"kind": model}, "run": {"device": "cpu"},
    })


def test_a_vocabulary_with_pad_puts_pad_at_0_and_unk_at_1() -> None:
    vocab = Vocabulary(["b", "a"], pad=True)
    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert vocab.lookup("zz") == 1 and vocab.lookup("a") == 2
    assert Vocabulary(["b", "a"]).tokens == [UNK, "a", "b"]  # the bags' vocabulary is unchanged


def test_char_seq_rows_are_indices_from_column_0_then_pad(tmp_path: Path) -> None:
    data = text_csv.build(config(write(tmp_path, NAMES), max_length=4))
    # <pad> 0, <unk> 1, a 2, b 3, c 4 (train only: "d" is never seen in train)
    assert data.input_shape == (5, 4) and data.info["max_length"] == 4 and data.info["vocab_size"] == 5
    assert data.train.x.dtype == torch.int64
    assert data.train.x.tolist() == [[2, 3, 0, 0], [3, 2, 0, 0], [4, 2, 3, 0]]
    assert data.val.x.tolist() == [[2, 3, 1, 0]]  # unseen "d" is <unk>, not <pad>
    assert data.test.x.tolist() == [[2, 0, 0, 0], [2, 3, 4, 2]]  # "abcab" cut to 4


def test_the_default_length_is_the_train_splits_95th_percentile(tmp_path: Path) -> None:
    rows = ["name,nat,split"] + [f"{'a' * n},x,train" for n in range(1, 21)] + ["b,x,val", "b,x,test", "a,y,train"]
    rows += [f"{'b' * 60},y,val", "ab,y,test"]
    data = text_csv.build(config(write(tmp_path, "\n".join(rows) + "\n")))
    # train lengths 1..20 and 1: the 95th percentile (the next length up) is 19, not the longest (20),
    # and the 60-long val text does not count
    assert data.info["max_length"] == 19 and data.train.x.shape == (21, 19)
    assert data.val.x.shape == (2, 19) and data.val.x[1].tolist() == [1] * 19  # "b" never in train: <unk>, cut


def test_word_seq_uses_words_and_min_freq(tmp_path: Path) -> None:
    data = text_csv.build(config(write(tmp_path, REVIEWS), text="text", label="label", vectorizer="word-seq",
                                 min_freq=2, max_length=3))
    # train counts: good 3, movie 2, bad 1, fun 1 -> <pad>, <unk>, good, movie
    assert data.input_shape == (4, 3)
    assert data.train.x.tolist() == [[2, 3, 0], [1, 3, 0], [2, 2, 1]]
    assert data.test.x.tolist() == [[2, 1, 0], [0, 0, 0]]  # an empty text is a row of <pad>


def test_embedding_bag_reads_the_same_rows(tmp_path: Path) -> None:
    data = text_csv.build(config(write(tmp_path, NAMES), model="embedding_bag", max_length=4))
    assert data.input_shape == (5, 4) and data.train.x.tolist()[2] == [4, 2, 3, 0]


def test_index_rows_stay_int64_through_setup_and_batches(tmp_path: Path) -> None:
    setup = prepare(config(write(tmp_path, NAMES), max_length=4))
    assert setup.data.train.x.dtype == torch.int64
    gen = torch.Generator().manual_seed(0)
    batches = list(iter_batches(setup.data.train, 2, gen, setup.device))
    assert all(x.dtype == torch.int64 for x, _ in batches)
    assert setup.model(batches[0][0]).shape == (2, 1)  # binary: one logit


@pytest.mark.parametrize("vectorizer", ["char-seq", "word-seq"])
def test_a_sequence_vectorizer_needs_an_embedding_model(tmp_path: Path, vectorizer: str) -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        config(write(tmp_path, NAMES), model="mlp", vectorizer=vectorizer)
    assert err.value.key == "task.vectorizer"
    assert "needs model.kind = 'rnn' or 'embedding_bag' (model.kind is 'mlp')" in str(err.value)
    assert vectorizer in str(err.value)
