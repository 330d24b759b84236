"""Two Gaussian clouds in the plane: the perceptron toy of the PyTorch NLP book's chapter 3.

Small enough to train in a second on a CPU, so the first launch shows a working curve.
"""
from __future__ import annotations

import torch

from engine.config.groups import Config
from engine.tasks.base import BINARY, Split, TaskData

LEFT_CENTRE = (3.0, 3.0)
RIGHT_CENTRE = (3.0, -2.0)


def build(config: Config) -> TaskData:
    n = config.task.n_samples
    gen = torch.Generator().manual_seed(config.run.seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    centres = torch.tensor([LEFT_CENTRE, RIGHT_CENTRE])[labels]
    x = centres + torch.randn(n, 2, generator=gen)
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    train = Split(x[:n_train], labels[:n_train])
    val = Split(x[n_train:n_train + n_val], labels[n_train:n_train + n_val])
    test = Split(x[n_train + n_val:], labels[n_train + n_val:])
    counts = torch.bincount(train.y, minlength=2).tolist()
    return TaskData(train, val, test, problem=BINARY, input_shape=(2,), n_classes=2, class_counts=counts,
                    class_names=["left (3,3)", "right (3,-2)"], info={"centres": [LEFT_CENTRE, RIGHT_CENTRE]})
