"""The embedding models: padding never changes an RNN's or an embedding bag's output (eval mode), each cell
and pooling builds and trains, and a GRU learns an order task that a bag of characters cannot."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.config.groups import Config
from engine.errors import ConfigError
from engine.events import TrialFinished, TrialStarted
from engine.states import TrialState
from engine.tasks.base import MULTICLASS, Split, TaskData
from engine.training.loop import prepare, train
from engine.training.models import build_model
from engine.training.seq_models import EmbeddingBagClassifier, RNNClassifier

VOCAB = 12


def model_for(kind: str = "rnn", vectorizer: str = "char-seq", **model: object) -> nn.Module:
    config = Config.from_dict({
        "task": {"name": "text-csv", "path": "unused.csv", "vectorizer": vectorizer},
        "model": {"kind": kind, "embedding_dim": 6, "rnn_hidden": 5, **model},
        "reg": {"dropout": 0.5}, "run": {"device": "cpu"},
    })
    empty = Split(torch.zeros(0), torch.zeros(0))
    torch.manual_seed(0)
    return build_model(config, TaskData(empty, empty, empty, MULTICLASS, (VOCAB, 9), n_classes=3), "cross_entropy")


def padded(texts: list[list[int]], width: int) -> torch.Tensor:
    return torch.tensor([t + [0] * (width - len(t)) for t in texts])


TEXTS = [[3, 4, 5], [7, 2, 2, 9, 11, 4, 6], [8], []]


@pytest.mark.parametrize("settings", [
    {"rnn_cell": "gru"}, {"rnn_cell": "lstm"}, {"rnn_cell": "elman"},
    {"rnn_cell": "gru", "rnn_pool": "mean"}, {"rnn_cell": "lstm", "bidirectional": True},
    {"rnn_cell": "gru", "bidirectional": True, "rnn_layers": 2, "rnn_pool": "mean", "head": "mlp", "hidden": [4]},
], ids=lambda s: "-".join(str(v) for v in s.values()))
def test_padding_never_changes_the_rnns_output(settings: dict[str, object]) -> None:
    model = model_for(**settings).eval()
    assert isinstance(model, RNNClassifier)
    with torch.no_grad():
        short = model(padded(TEXTS, 7))
        long = model(padded(TEXTS, 30))
        alone = torch.cat([model(padded([t], 1 if not t else len(t))) for t in TEXTS])
    assert torch.equal(short, long)  # the same batch padded to two widths
    # each text alone (no padding at all) against the batch, where the short ones are padded to 7
    assert torch.allclose(alone, short, atol=1e-6)
    assert not torch.allclose(short[0], short[2])  # and the texts do differ


def test_an_rnn_that_read_its_padding_would_fail_the_padding_test() -> None:
    """The control: the same weights run without packing give other outputs for a padded text."""
    model = model_for(rnn_cell="gru").eval()
    assert isinstance(model, RNNClassifier)
    x = padded([[3, 4, 5]], 8)
    with torch.no_grad():
        _, h = model.rnn(model.embedding(x))
        unpacked = model.head(h[-1])
        assert not torch.allclose(unpacked, model(x), atol=1e-4)


def test_padding_never_changes_the_embedding_bags_output() -> None:
    model = model_for("embedding_bag", head="mlp", hidden=[4]).eval()
    assert isinstance(model, EmbeddingBagClassifier)
    with torch.no_grad():
        assert torch.allclose(model(padded(TEXTS[:3], 7)), model(padded(TEXTS[:3], 20)), atol=1e-6)
        mean = model.bag.weight[[3, 4, 5]].mean(dim=0)
        assert torch.allclose(model.head(mean.unsqueeze(0)), model(padded([[3, 4, 5]], 9)), atol=1e-6)


def test_the_knobs_shape_the_rnn() -> None:
    model = model_for(rnn_cell="lstm", rnn_layers=3, bidirectional=True, embedding_dim=7, rnn_hidden=4,
                      head="mlp", hidden=[10])
    assert isinstance(model, RNNClassifier) and isinstance(model.rnn, nn.LSTM)
    assert (model.rnn.num_layers, model.rnn.bidirectional, model.rnn.hidden_size) == (3, True, 4)
    assert model.rnn.dropout == 0.5  # reg.dropout between the layers
    assert model.embedding.num_embeddings == VOCAB and model.embedding.padding_idx == 0
    assert model.embedding.embedding_dim == 7
    linears = [m for m in model.head.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 10), (10, 3)]
    assert isinstance(model_for(rnn_cell="elman").rnn, nn.RNN)
    assert model_for(rnn_layers=1).rnn.dropout == 0.0


def test_a_plugins_features_are_not_indices_for_an_rnn() -> None:
    config = Config.from_dict({"task": {"name": "pkg.mod:make"}, "model": {"kind": "rnn"}})
    empty = Split(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ConfigError) as err:
        build_model(config, TaskData(empty, empty, empty, MULTICLASS, (10,), n_classes=3), "cross_entropy")
    assert err.value.key == "model.kind" and "needs token indices" in str(err.value)


def order_csv(path: Path) -> Path:
    """Strings of a and b holding both letters; the label is the letter that comes first. Every text has the
    same characters, so a bag of characters is the same for both classes: only the order tells them apart."""
    rng = random.Random(0)
    rows = ["text,label,split"]
    for i in range(240):
        first = "ab"[i % 2]
        rest = [rng.choice("ab") for _ in range(rng.randint(0, 4))] + ["ba"[i % 2]]
        rng.shuffle(rest)
        pair = (i // 2) % 10  # each split holds whole pairs: as many a-first texts as b-first ones
        split = "train" if pair < 7 else ("val" if pair == 7 else "test")
        rows.append(f"{first}{''.join(rest)},{first},{split}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run_order_task(path: Path, vectorizer: str, kind: str, **model: object) -> TrialFinished:
    config = Config.from_dict({
        "task": {"name": "text-csv", "path": str(path), "vectorizer": vectorizer, "split_column": "split"},
        "model": {"kind": kind, **model},
        "optim": {"optimizer": "adam", "lr": 0.02, "max_epochs": 25, "batch_size": 16},
        "run": {"device": "cpu", "seed": 0},
    })
    setup = prepare(config)
    events = list(train(config, setup=setup))
    assert isinstance(events[0], TrialStarted) and events[0].info["vectorizer"] == vectorizer
    end = events[-1]
    assert isinstance(end, TrialFinished) and end.state is TrialState.COMPLETED
    return end


def test_a_gru_learns_the_order_that_a_bag_of_characters_cannot_see(tmp_path: Path) -> None:
    path = order_csv(tmp_path / "order.csv")
    gru = run_order_task(path, "char-seq", "rnn", rnn_cell="gru", embedding_dim=8, rnn_hidden=16)
    bag = run_order_task(path, "char-bow", "mlp", hidden=[16])
    assert gru.summary.test_acc is not None and bag.summary.test_acc is not None
    assert gru.summary.test_acc >= 0.95
    assert bag.summary.test_acc == 0.5  # every text's bag is {a, b}: one answer for all, right for half


def test_a_plugins_index_rows_train_an_rnn_it_did_not_bring() -> None:
    """What docs/plugins.md promises: int64 rows padded with 0 and input_shape (vocabulary, length)."""
    gen = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        first = torch.randint(2, 4, (n,), generator=gen)  # token 2 or 3 first; the label says which
        rest = torch.randint(2, 4, (n, 5), generator=gen)
        rest[torch.arange(n) % 2 == 0, 3:] = 0  # half the rows are shorter: padding
        return Split(torch.cat([first[:, None], rest], dim=1), first - 2)

    data = TaskData(split(200), split(50), split(50), MULTICLASS, (4, 6), n_classes=2, class_counts=[100, 100])
    config = Config.from_dict({"task": {"name": "mypkg.tasks:make"}, "model": {"kind": "rnn", "rnn_hidden": 8},
                               "optim": {"lr": 0.02, "max_epochs": 15, "batch_size": 20}, "run": {"device": "cpu"}})
    events = list(train(config, data=data))
    end = events[-1]
    assert isinstance(end, TrialFinished) and end.state is TrialState.COMPLETED
    assert end.summary.test_acc is not None and end.summary.test_acc >= 0.95
