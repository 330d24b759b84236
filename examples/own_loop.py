"""Your own PyTorch loop, tuned by tunedeck: a knob of its own, pruning, a checkpoint.

Run it by hand (`python examples/own_loop.py`: a trial appears in ./tunedeck.db and the cockpit), or
let tunedeck launch it with each trial's values: `tunedeck sweep examples/own_loop.toml`, or open
that preset in the cockpit (ctrl+o) and sweep it (ctrl+g).
"""
import torch
from torch import nn

import tunedeck

DEFAULTS = {"optim.lr": 0.01, "optim.max_epochs": 30, "optim.batch_size": 64, "run.seed": 0,
            "hidden": 32, "depth": 2}  # the last two are this script's own knobs ([params] in the preset)


def two_moons(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.rand(n, generator=generator) * torch.pi
    label = torch.randint(0, 2, (n,), generator=generator)
    x = torch.stack([torch.cos(t) + label, torch.sin(t) * (1 - 2 * label) + 0.5 * label], dim=1)
    return x + 0.1 * torch.randn(n, 2, generator=generator), label.float()


with tunedeck.init(config=DEFAULTS) as run:
    c = run.config
    g = torch.Generator().manual_seed(c["run.seed"])
    torch.manual_seed(c["run.seed"])
    x, y = two_moons(2000, g)
    (x_train, y_train), (x_val, y_val) = (x[:1600], y[:1600]), (x[1600:], y[1600:])
    layers: list[nn.Module] = []
    width = 2
    for _ in range(c["depth"]):
        layers += [nn.Linear(width, c["hidden"]), nn.ReLU()]
        width = c["hidden"]
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=c["optim.lr"])
    loss_fn = nn.BCEWithLogitsLoss()
    best, step = float("inf"), 0
    for epoch in range(1, c["optim.max_epochs"] + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=g)
        for start in range(0, len(order), c["optim.batch_size"]):
            index = order[start:start + c["optim.batch_size"]]
            loss = loss_fn(model(x_train[index]).squeeze(1), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            run.log(step=step, loss=loss.item())
        model.eval()
        with torch.no_grad():
            logits = model(x_val).squeeze(1)
            val_loss = loss_fn(logits, y_val).item()
            val_acc = ((logits > 0).float() == y_val).float().mean().item()
        run.log(epoch=epoch, step=step, train_loss=loss.item(), val_loss=val_loss, val_acc=val_acc)
        if val_loss < best:
            best = val_loss
            run.save(model.state_dict())  # the best weights, recorded with the trial
        if run.should_stop():  # stopped from the cockpit, or pruned by the sweep
            break
