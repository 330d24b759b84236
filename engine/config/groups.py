"""The trial config: one frozen, introspectable description of everything a trial is made of.

A config has six groups, each a frozen dataclass and a table in a preset: task, model, optim,
reg, early_stop and run. `Config.from_dict` is the only way in from outside (presets, `--set`,
the TUI form) and it validates every value, so a Config that exists is a Config that can run.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.config.consistency import BUILTIN_TASKS, CSV_TASKS, SCRIPT_TASK, check_consistency
from engine.config.knobs import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    INT_LIST,
    STR,
    STR_LIST,
    TABLE,
    FieldInfo,
    coerce,
    iter_group_fields,
    knob,
    suggest,
)
from engine.config.limits import MAX_TEXT
from engine.config.params import (
    PARAMS,
    PARAMS_SPEC,
    declaration,
    find_param,
    param_values,
    parse_declarations,
    set_param,
    split_params,
)
from engine.errors import ConfigError

_PLUGIN_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")


def _plugin_problem(value: str) -> str | None:
    return None if _PLUGIN_RE.match(value) else "not of the form package.module:function"


def is_plugin(task_name: str) -> bool:
    return task_name not in BUILTIN_TASKS


def _task_in(*names: str):
    return lambda c: c.task.name in names


def _cnn(c: Any) -> bool:
    return c.model.kind == "cnn"


@dataclass(frozen=True)
class TaskConfig:
    name: str = knob("toy2d", "What is trained: a built-in task or your own package.module:function",
                     CHOICE, choices=BUILTIN_TASKS, open_choice=True, validator=_plugin_problem)
    n_samples: int = knob(1000, "Number of generated samples (train+val+test)", INT, low=30, high=10_000_000,
                          applies=_task_in("toy2d", "curve"))
    noise: float = knob(0.3, "Std of the noise on the curve's targets (toy2d: spread of the clouds is 1)",
                        FLOAT, low=0.0, high=100.0, applies=_task_in("curve"))
    path: str = knob("", "Data file (CSV; table-csv also reads Parquet), or the training script of the "
                     "script task, relative to the working directory", STR, applies=_task_in(*CSV_TASKS, SCRIPT_TASK))
    args: tuple[str, ...] = knob((), "Extra command-line arguments for the script", STR_LIST,
                                 applies=_task_in(SCRIPT_TASK))
    python: str = knob("", "Interpreter that runs the script; empty: the one running tunedeck", STR,
                       applies=_task_in(SCRIPT_TASK))
    stop_grace: float = knob(10.0, "Seconds a stopped script gets after SIGTERM before SIGKILL", FLOAT, low=0.0,
                             high=3600.0, applies=_task_in(SCRIPT_TASK))
    pass_flags: bool = knob(False, "Also pass the knobs as --key value flags (for scripts without tunedeck)",
                            BOOL, applies=_task_in(SCRIPT_TASK))
    text_column: str = knob("text", "Column holding the text", STR, applies=_task_in("text-csv"))
    label_column: str = knob("label", "Column holding the class label", STR, applies=_task_in("text-csv"))
    split_column: str = knob("", "Column with train/val/test per row; empty: seeded 70/15/15 split by label",
                             STR, applies=_task_in(*CSV_TASKS))
    vectorizer: str = knob("bow", "bow: words; char-bow: characters; char-matrix: one-hot matrix for a CNN",
                           CHOICE, choices=("bow", "char-bow", "char-matrix"), applies=_task_in("text-csv"))
    min_freq: int = knob(1, "Tokens seen fewer times than this in train become <unk>", INT, low=1,
                         high=1_000_000, applies=_task_in("text-csv"))
    lowercase: bool = knob(True, "Lower-case text before building the vocabulary", BOOL,
                           applies=_task_in("text-csv"))
    target_column: str = knob("target", "Column to predict", STR, applies=_task_in("table-csv"))
    feature_columns: tuple[str, ...] = knob((), "Numeric feature columns; empty: every numeric column but "
                                            "the target and split", STR_LIST, applies=_task_in("table-csv"))
    problem: str = knob("auto", "classification or regression; auto: integer/string target with few values "
                        "is classification", CHOICE, choices=("auto", "classification", "regression"),
                        applies=_task_in("table-csv"))
    options: dict = knob({}, "Free-form options passed to a plugin task", TABLE,
                         applies=lambda c: is_plugin(c.task.name))


@dataclass(frozen=True)
class ModelConfig:
    kind: str = knob("mlp", "perceptron: one linear layer; mlp: hidden layers; cnn: 1-D convolutions",
                     CHOICE, choices=("perceptron", "mlp", "cnn"))
    hidden: tuple[int, ...] = knob((64,), "Hidden layer widths, input side first (mlp)", INT_LIST, low=1,
                                   high=1_000_000, min_items=1, applies=lambda c: c.model.kind == "mlp")
    activation: str = knob("relu", "Non-linearity between layers", CHOICE,
                           choices=("relu", "tanh", "elu", "gelu"), applies=lambda c: c.model.kind != "perceptron")
    channels: int = knob(256, "Convolution channels (cnn)", INT, low=1, high=65_536, applies=_cnn)
    kernel_size: int = knob(3, "Convolution kernel size (cnn)", INT, low=1, high=64, applies=_cnn)
    conv_layers: int = knob(4, "Number of convolution layers; strides alternate 1,2,2,1 (cnn)", INT, low=1,
                            high=16, applies=_cnn)


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = knob("adam", "Update rule", CHOICE, choices=("sgd", "adam", "adamw", "rmsprop", "adagrad"))
    lr: float = knob(1e-3, "Learning rate", FLOAT, low=0.0, low_open=True, high=100.0)
    momentum: float = knob(0.0, "Momentum (sgd, rmsprop)", FLOAT, low=0.0, high=0.999999,
                           applies=lambda c: c.optim.optimizer in ("sgd", "rmsprop"))
    nesterov: bool = knob(False, "Nesterov momentum (sgd; needs momentum > 0)", BOOL,
                          applies=lambda c: c.optim.optimizer == "sgd")
    scheduler: str = knob("none", "Learning-rate schedule, stepped once per epoch", CHOICE,
                          choices=("none", "step", "cosine", "plateau"))
    step_size: int = knob(10, "Epochs between decays (step)", INT, low=1, high=100_000,
                          applies=lambda c: c.optim.scheduler == "step")
    gamma: float = knob(0.1, "Decay factor (step)", FLOAT, low=0.0, low_open=True, high=1.0,
                        applies=lambda c: c.optim.scheduler == "step")
    factor: float = knob(0.5, "Factor the lr is multiplied by on a plateau (plateau)", FLOAT, low=0.0,
                         low_open=True, high=0.999999, applies=lambda c: c.optim.scheduler == "plateau")
    plateau_patience: int = knob(1, "Epochs without val_loss improvement before the lr drops (plateau)", INT,
                                 low=0, high=100_000, applies=lambda c: c.optim.scheduler == "plateau")
    batch_size: int = knob(64, "Samples per step", INT, low=1, high=10_000_000)
    max_epochs: int = knob(20, "Upper bound on epochs", INT, low=1, high=1_000_000)
    grad_clip: float = knob(0.0, "Clip the gradient norm to this; 0: off", FLOAT, low=0.0, high=1e9)
    loss: str = knob("auto", "auto: bce for 2 classes, cross_entropy for more, mse for regression", CHOICE,
                     choices=("auto", "cross_entropy", "bce_with_logits", "mse", "huber", "l1"))
    class_weights: str = knob("none", "balanced: weight classes by inverse train frequency (classification)",
                              CHOICE, choices=("none", "balanced"))


@dataclass(frozen=True)
class RegConfig:
    weight_decay: float = knob(0.0, "L2 penalty through the optimizer's weight_decay", FLOAT, low=0.0, high=10.0)
    l1: float = knob(0.0, "L1 penalty on weights (not biases) added to the loss", FLOAT, low=0.0, high=10.0)
    dropout: float = knob(0.0, "Dropout probability after each hidden layer; off at evaluation", FLOAT,
                          low=0.0, high=0.95, applies=lambda c: c.model.kind != "perceptron")


@dataclass(frozen=True)
class EarlyStopConfig:
    patience: int = knob(0, "Stop after this many epochs without improvement; 0: off", INT, low=0,
                         high=1_000_000)
    min_delta: float = knob(0.0, "Smallest change that counts as an improvement", FLOAT, low=0.0, high=1e9)
    monitor: str = knob("val_loss", "Metric watched for improvement (val_acc: classification only)", CHOICE,
                        choices=("val_loss", "val_acc"))
    restore_best: bool = knob(True, "Restore the best epoch's weights before scoring the test split", BOOL)


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
    keep_best: int = knob(0, "Keep the best checkpoint of only the K best trials of a sweep; 0: of all", INT,
                          low=0, high=1_000_000)


_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device_problem(value: str) -> str | None:
    return None if _DEVICE_RE.match(value) else "must be auto, cpu, cuda, cuda:N or mps"


GROUPS: dict[str, type] = {
    "task": TaskConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "reg": RegConfig,
    "early_stop": EarlyStopConfig,
    "run": RunConfig,
}
GROUP_TITLES = {
    "task": "Task", "model": "Model", "optim": "Optimization", "reg": "Regularization",
    "early_stop": "Early stopping", "run": "Run",
}


@dataclass(frozen=True)
class Config:
    """A complete, validated trial description. Build it with `Config.from_dict`."""

    name: str = ""
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    reg: RegConfig = dataclasses.field(default_factory=RegConfig)
    early_stop: EarlyStopConfig = dataclasses.field(default_factory=EarlyStopConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    params: dict = dataclasses.field(default_factory=dict, hash=False)  # the user's own knobs: name -> value
    param_fields: tuple[FieldInfo, ...] = ()  # their declarations, as knobs of group "params"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Validate a nested mapping (as read from TOML) into a Config.

        Unknown groups or keys are errors with a "did you mean" hint; missing keys take defaults.
        Declared params come from `params_spec`, or from tables in `params` (a preset's layout).
        """
        data = dict(data)
        name = data.pop("name", "")
        if not isinstance(name, str):
            raise ConfigError("must be a string", key="name", value=name)
        if len(name) > MAX_TEXT:
            raise ConfigError(f"must be at most {MAX_TEXT:,} characters long", key="name", value=name)
        param_fields, params = _build_params(data.pop(PARAMS_SPEC, None), data.pop(PARAMS, None))
        groups: dict[str, Any] = {}
        for group, values in data.items():
            if group not in GROUPS:
                raise ConfigError("unknown table" + suggest(group, list(GROUPS) + ["name"]), key=group)
            if not isinstance(values, Mapping):
                raise ConfigError(f"must be a table [{group}]", key=group, value=values)
            groups[group] = _build_group(group, values)
        for group, gcls in GROUPS.items():
            groups.setdefault(group, gcls())
        config = cls(name=name, **groups, params=params, param_fields=param_fields)
        check_consistency(config)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (lists, not tuples), the inverse of `from_dict`."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        for group in GROUPS:
            out[group] = {k: _plain(v) for k, v in dataclasses.asdict(getattr(self, group)).items()}
        if self.param_fields:  # values as a script reads them, declarations apart
            out[PARAMS] = {k: _plain(v) for k, v in self.params.items()}
            out[PARAMS_SPEC] = {f.name: declaration(f) for f in self.param_fields}
        return out

    def fields(self) -> tuple[FieldInfo, ...]:
        """Every knob of this config: the built-in ones, then its declared params."""
        return (*iter_fields(), *self.param_fields)

    def field_info(self, key: str) -> FieldInfo:
        """`field_info`, knowing this config's params too."""
        return find_param(self.param_fields, key) if key.startswith(PARAMS + ".") else field_info(key)

    def flat(self) -> dict[str, Any]:
        """Dotted key -> value for every knob, e.g. {'optim.lr': 0.001, 'params.num_heads': 4, ...}."""
        return {f.key: self.get(f.key) for f in self.fields()}

    def get(self, key: str) -> Any:
        group, _, name = key.partition(".")
        if group == PARAMS:
            return self.params[name]
        return getattr(getattr(self, group), name)

    def applies(self, key: str) -> bool:
        """Whether a knob is in use for this config (CNN channels do not apply to an MLP)."""
        info = self.field_info(key)
        return info.knob.applies is None or bool(info.knob.applies(self))

    def with_updates(self, updates: Mapping[str, Any]) -> Config:
        """A new validated Config with dotted-key updates applied."""
        data = self.to_dict()
        for key, value in updates.items():
            set_dotted(data, key, value)
        return Config.from_dict(data)

    @property
    def task_label(self) -> str:
        """The task as shown to the user; a plugin shows its import path."""
        return self.task.name


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


RESERVED_NAMES = (*GROUPS, "name", PARAMS, PARAMS_SPEC)  # what a param may not be called


def _build_params(spec: Any, raw: Any) -> tuple[tuple[FieldInfo, ...], dict[str, Any]]:
    declared, values = split_params(raw, RESERVED_NAMES)
    if spec is not None and not isinstance(spec, Mapping):
        raise ConfigError("must be a table of declarations", key=PARAMS_SPEC, value=spec)
    fields = parse_declarations({**(spec or {}), **declared}, RESERVED_NAMES)
    return fields, param_values(fields, values)


def _build_group(group: str, values: Mapping[str, Any]) -> Any:
    gcls = GROUPS[group]
    infos = {f.name: f for f in iter_group_fields(group, gcls)}
    kwargs = {}
    for name, value in values.items():
        if name not in infos:
            options = [f"{group}.{n}" for n in infos]
            raise ConfigError("unknown key" + suggest(f"{group}.{name}", options), key=f"{group}.{name}")
        kwargs[name] = coerce(infos[name], value)
    return gcls(**kwargs)


def iter_fields() -> Iterator[FieldInfo]:
    """Every knob in form order: group by group, field by field."""
    for group, gcls in GROUPS.items():
        yield from iter_group_fields(group, gcls)


def field_info(key: str) -> FieldInfo:
    for info in iter_fields():
        if info.key == key:
            return info
    raise ConfigError("unknown key" + suggest(key, [f.key for f in iter_fields()]), key=key)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `group.name` in a nested dict, checking that the key exists."""
    if key == "name":
        data["name"] = value
        return
    group, dot, name = key.partition(".")
    if group == PARAMS and dot:
        set_param(data, key, value)
        return
    if not dot or group not in GROUPS:
        raise ConfigError("unknown key" + suggest(key, [f.key for f in iter_fields()] + ["name"]), key=key)
    table_key, _, inner = key.rpartition(".") if key.count(".") >= 2 else ("", "", "")
    if inner and field_info(table_key).knob.kind == TABLE:  # task.options.n=5 sets one option
        table = data.setdefault(group, {}).setdefault(table_key.split(".", 1)[1], {})
        if not isinstance(table, dict):
            raise ConfigError("must be a table", key=table_key, value=table)
        table[inner] = value
        return
    field_info(key)
    table = data.setdefault(group, {})
    if not isinstance(table, dict):
        raise ConfigError(f"must be a table [{group}]", key=group, value=table)
    table[name] = value


def applicable_view(stored: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """A stored config without the knobs that play no part in it, and how many were left out.

    A config stored by another version of tunedeck that no longer validates is returned whole.
    """
    try:
        config = Config.from_dict(stored)
    except ConfigError:
        return dict(stored), 0
    shown: dict[str, Any] = {"name": stored["name"]} if stored.get("name") else {}
    omitted = 0
    for info in iter_fields():
        if config.applies(info.key):
            group = stored.get(info.group, {})
            shown.setdefault(info.group, {})[info.name] = group.get(info.name, info.default)
        else:
            omitted += 1
    for key in (PARAMS, PARAMS_SPEC):  # the user's own knobs always play a part
        if key in stored:
            shown[key] = stored[key]
    return shown, omitted


__all__ = [
    "Config", "TaskConfig", "ModelConfig", "OptimConfig", "RegConfig", "EarlyStopConfig", "RunConfig",
    "GROUPS", "GROUP_TITLES", "BUILTIN_TASKS", "SCRIPT_TASK", "iter_fields", "field_info", "set_dotted", "is_plugin",
]
