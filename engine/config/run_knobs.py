"""The run group: seeding, device, precision, logging and checkpoints (`[run]`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.config.knobs import CHOICE, FLOAT, INT, STR, knob


@dataclass(frozen=True)
class RunConfig:
    seed: int = knob(0, "Seeds data, initialisation and shuffling: same seed, same curve", INT, low=0,
                     high=2**32 - 1)
    device: str = knob("auto", "auto, cpu, cuda, cuda:N or mps", STR, validator=lambda v: _device_problem(v))
    threads: int = knob(0, "torch CPU threads; 0: auto (1 for small models, else the idle cores)", INT,
                        low=0, high=1024)
    precision: str = knob("fp32", "bf16/fp16 mixed precision (CUDA only)", CHOICE,
                          choices=("fp32", "bf16", "fp16"))
    log_every: int = knob(0, "Record the step loss every N steps; 0: about 50 per epoch", INT, low=0,
                          high=10_000_000)
    checkpoint: str = knob("both", "Keep checkpoints: last (to resume), best (to export), both or none", CHOICE,
                           choices=("both", "last", "best", "none"))
    checkpoint_every: float = knob(30.0, "Write a checkpoint at most every N seconds (0: every epoch)", FLOAT,
                                   low=0.0, high=86_400.0)
    gpus_per_trial: float = knob(1.0, "GPUs each trial takes: below 1 packs trials onto one GPU (0.5: two per GPU) "
                                 "before the next GPU is used", FLOAT, low=0.0, low_open=True, high=1.0,
                                 applies=lambda c: c.run.device == "auto" or c.run.device.startswith("cuda"))
    keep_best: int = knob(0, "Keep the best checkpoint of only the K best trials of a sweep; 0: of all", INT,
                          low=0, high=1_000_000)


_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device_problem(value: str) -> str | None:
    return None if _DEVICE_RE.match(value) else "must be auto, cpu, cuda, cuda:N or mps"
