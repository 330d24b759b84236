from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch

from engine.config.groups import Config
from engine.errors import TaskError
from engine.tasks import text_csv
from engine.tasks.base import BINARY, MULTICLASS
from engine.tasks.splits import split_labels
from engine.tasks.vocab import UNK, Vocabulary

REVIEWS = """text,label,split
Good movie!,pos,train
bad movie,neg,train
"good, good fun",pos,train
Bad acting,neg,val
good ending,pos,test
awful plot,neg,test
"""

NAMES = """name,nat,split
Ab,x,train
ba,y,train
cab,x,train
Abd,y,val
a,x,test
abcab,y,test
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def config(path: str, seed: int = 0, **task: object) -> Config:
    vectorizer = task.get("vectorizer", "bow")
    return Config.from_dict({
        "task": {"name": "text-csv", "path": path, **task},
        "model": {"kind": "cnn" if vectorizer == "char-matrix" else "mlp"},
        "run": {"seed": seed},
    })


def names(tmp_path: Path, **task: object):
    path = write(tmp_path, NAMES)
    return text_csv.build(config(path, text_column="name", label_column="nat", split_column="split", **task))


def t(rows: list) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_bow_shapes_and_contents(tmp_path: Path) -> None:
    data = text_csv.build(config(write(tmp_path, REVIEWS), split_column="split"))
    # vocabulary: <unk>, bad, fun, good, movie (train only; "acting", "ending" never seen in train)
    assert data.info["vocab_size"] == 5 and data.input_shape == (5,)
    assert torch.equal(data.train.x, t([[0, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0]]))
    assert torch.equal(data.val.x, t([[1, 1, 0, 0, 0]]))
    assert torch.equal(data.test.x, t([[1, 0, 0, 1, 0], [1, 0, 0, 0, 0]]))
    assert data.train.x.dtype == torch.float32
    assert data.problem == BINARY and data.n_classes == 2
    assert data.class_names == ["neg", "pos"] and data.class_counts == [1, 2]
    assert data.train.y.dtype == torch.int64 and data.train.y.tolist() == [1, 0, 1]
    assert data.val.y.tolist() == [0] and data.test.y.tolist() == [1, 0]
    assert data.info["file"].endswith("data.csv") and data.info["vectorizer"] == "bow"


def test_char_bow_contents(tmp_path: Path) -> None:
    data = names(tmp_path, vectorizer="char-bow")
    # <unk>, a, b, c after lower-casing; "d" occurs only in val
    assert data.input_shape == (4,)
    assert torch.equal(data.train.x, t([[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1]]))
    assert torch.equal(data.val.x, t([[1, 1, 1, 0]]))
    assert torch.equal(data.test.x, t([[0, 1, 0, 0], [0, 1, 1, 1]]))


def test_char_bow_keeps_case_when_asked(tmp_path: Path) -> None:
    data = names(tmp_path, vectorizer="char-bow", lowercase=False)
    # <unk>, A, a, b, c
    assert data.input_shape == (5,)
    assert data.train.x[0].tolist() == [0, 1, 0, 1, 0]
    assert data.val.x[0].tolist() == [1, 1, 0, 1, 0]


def test_char_matrix_contents(tmp_path: Path) -> None:
    data = names(tmp_path, vectorizer="char-matrix")
    assert data.input_shape == (4, 3) and data.info["max_length"] == 3
    assert data.train.x.shape == (3, 4, 3) and data.test.x.shape == (2, 4, 3)
    ab = t([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert torch.equal(data.train.x[0], ab)
    cab = t([[0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert torch.equal(data.train.x[2], cab)
    abd = t([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0]])  # unknown "d" is <unk> at position 2
    assert torch.equal(data.val.x[0], abd)
    a_padded = t([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert torch.equal(data.test.x[0], a_padded)
    abc_cut = t([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])  # "abcab" is cut to the train length
    assert torch.equal(data.test.x[1], abc_cut)


def test_min_freq_sends_rare_tokens_to_unk(tmp_path: Path) -> None:
    path = write(tmp_path, """text,label,split
good good,pos,train
good plot,pos,train
bad plot,neg,train
bad,neg,val
good,pos,test
bad,neg,test
""")
    data = text_csv.build(config(path, split_column="split", min_freq=2))
    # occurrences in train: good 3, plot 2, bad 1 -> <unk>, good, plot
    assert data.input_shape == (3,)
    assert data.train.x.tolist() == [[0, 1, 0], [0, 1, 1], [1, 0, 1]]
    assert data.val.x.tolist() == [[1, 0, 0]]
    with pytest.raises(TaskError, match=r"task\.min_freq: no token in column 'text' occurs 9 times"):
        text_csv.build(config(path, split_column="split", min_freq=9))


def test_null_text_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("bad movie,neg,train", ",neg,train"))
    data = text_csv.build(config(path, split_column="split"))
    assert data.train.x[1].sum() == 0


def test_split_column_is_honoured_and_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("pos,test", "pos, Test ").replace("neg,val", "neg,VAL"))
    data = text_csv.build(config(path, split_column="split"))
    assert (len(data.train), len(data.val), len(data.test)) == (3, 1, 2)


def many_rows(tmp_path: Path) -> str:
    rows = ["text,label"]
    for i in range(60):
        rows.append(f"w{i % 7} u{i},{'abc'[i % 3]}")
    return write(tmp_path, "\n".join(rows) + "\n")


def test_seeded_split_is_stratified_and_deterministic(tmp_path: Path) -> None:
    path = many_rows(tmp_path)
    a = text_csv.build(config(path, seed=1))
    b = text_csv.build(config(path, seed=1))
    c = text_csv.build(config(path, seed=2))
    assert (len(a.train), len(a.val), len(a.test)) == (42, 9, 9)
    assert a.class_counts == [14, 14, 14] and a.problem == MULTICLASS
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert a.train.x.shape != c.train.x.shape or not torch.equal(a.train.x, c.train.x)
    for data in (a, c):
        assert sorted(set(data.train.y.tolist())) == [0, 1, 2]
        assert sorted(set(data.val.y.tolist())) == [0, 1, 2]


def test_split_labels_give_every_class_a_train_row() -> None:
    frame = pl.DataFrame({"label": ["a"] * 20 + ["b"]})
    splits = split_labels(frame, "f.csv", "", frame["label"].to_list(), seed=3)
    assert splits[-1] == "train"
    assert split_labels(frame, "f.csv", "", frame["label"].to_list(), seed=3) == splits


def test_vocabulary_from_counts() -> None:
    vocab = Vocabulary.from_counts({"b": 3, "a": 1, "c": 2}, min_freq=2)
    assert vocab.tokens == [UNK, "b", "c"]
    assert vocab.lookup("b") == 1 and vocab.lookup("a") == 0 and "a" not in vocab


def test_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.csv")
    with pytest.raises(TaskError, match=r"nope\.csv: task\.path: file not found"):
        text_csv.build(config(path))


def test_missing_column_names_file_key_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS)
    with pytest.raises(TaskError) as err:
        text_csv.build(config(path, label_column="lable"))
    assert str(err.value) == f"{path}: task.label_column: column 'lable' not found; columns are text, label, split"
    with pytest.raises(TaskError, match=r"task\.split_column: column 'part' not found"):
        text_csv.build(config(path, split_column="part"))


def test_empty_split(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("neg,val", "neg,train"))
    with pytest.raises(TaskError, match=r"data\.csv: the val split is empty: column 'split' has no 'val' rows"):
        text_csv.build(config(path, split_column="split"))


def test_bad_split_values(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("neg,val", "neg,dev"))
    with pytest.raises(TaskError, match=r"task\.split_column: .* found 'dev'"):
        text_csv.build(config(path, split_column="split"))


def test_single_class(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace(",neg,", ",pos,"))
    with pytest.raises(TaskError, match=r"task\.label_column: needs at least 2 classes; column 'label' has only 'pos'"):
        text_csv.build(config(path, split_column="split"))


def test_label_unseen_in_train(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("awful plot,neg", "awful plot,meh"))
    with pytest.raises(TaskError, match=r"the test split has label\(s\) 'meh' in column 'label'"):
        text_csv.build(config(path, split_column="split"))


def test_null_labels(tmp_path: Path) -> None:
    path = write(tmp_path, REVIEWS.replace("bad movie,neg", "bad movie,").replace("Bad acting,neg", "Bad acting,"))
    with pytest.raises(TaskError, match=r"task\.label_column: column 'label' has 2 empty values"):
        text_csv.build(config(path, split_column="split"))


SURNAMES = next((p / "shared/datasets/surnames/surnames_with_splits.csv" for p in Path(__file__).resolve().parents
                 if (p / "shared/datasets/surnames/surnames_with_splits.csv").exists()), None)
needs_surnames = pytest.mark.skipif(SURNAMES is None, reason="surnames_with_splits.csv not found above the repo")


def surnames(**task: object):
    return text_csv.build(config(str(SURNAMES), text_column="surname", label_column="nationality",
                                 split_column="split", **task))


@needs_surnames
def test_surnames_char_bow() -> None:
    data = surnames(vectorizer="char-bow")
    assert (len(data.train), len(data.val), len(data.test)) == (7680, 1640, 1660)
    assert data.n_classes == 18 and data.problem == MULTICLASS
    assert data.class_names[0] == "Arabic" and data.class_names[-1] == "Vietnamese"
    assert sum(data.class_counts) == 7680
    assert data.input_shape == (49,)  # 48 lower-cased characters in train + <unk>


@needs_surnames
def test_surnames_char_matrix_matches_the_book() -> None:
    # The book keeps case: 76 distinct characters in train + its unknown token = 77, and the
    # longest train surname has 17 characters, hence its 77x17 matrix.
    data = surnames(vectorizer="char-matrix", lowercase=False)
    assert data.input_shape == (77, 17) and data.info["max_length"] == 17
    assert data.train.x.shape == (7680, 77, 17)
    lengths = data.train.x.sum(dim=(1, 2))
    assert lengths.max() == 17 and lengths.min() >= 1
    lowered = surnames(vectorizer="char-matrix")
    assert lowered.input_shape == (49, 17)
