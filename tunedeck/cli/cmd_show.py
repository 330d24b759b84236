"""`tunedeck show ID`: a trial's config, summary, why it stopped, and its per-epoch metrics."""
from __future__ import annotations

import argparse
import datetime as dt

from engine.config.groups import applicable_view
from engine.config.presets import dict_to_toml
from engine.devices.trial_gpu import gpu_memory_text
from engine.metric_names import summary_text
from engine.tables.formatting import checkpoint_summary, fmt_duration, fmt_value, render_table, safe_text
from tunedeck.cli.storeopen import open_store

EPOCH_COLUMNS = ["epoch", "step", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"]


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        record = store.trial(args.trial_id)
        epochs = store.epochs(args.trial_id)
        checkpoints = store.checkpoints(args.trial_id)
    # Every text here came from a preset, a plugin or a script: shown through safe_text, escapes and all.
    print(f"trial {record.id}: {safe_text(record.name)}  [{record.state.value}]")
    print(f"  task        {safe_text(record.task)}")
    print(f"  why         {safe_text(record.reason or '-')}")
    if record.note:
        print(f"  note        {safe_text(record.note)}")
    print(f"  created     {_when(record.created_at)}   started {_when(record.started_at)}   "
          f"finished {_when(record.finished_at)}   duration {fmt_duration(record.duration_s)}")
    resumed = (record.run_info or {}).get("resumed") or []
    if resumed:
        print("  resumed     " + safe_text(", ".join(f"from the checkpoint of epoch {r.get('epoch')} at "
                                                    f"{_when(r.get('at'))}" for r in resumed)))
    env = record.env or {}
    if env:
        print(safe_text(f"  ran on      {env.get('hostname', '-')} {record.device or env.get('device', '-')}, "
                        f"tunedeck {env.get('tunedeck', '-')}, torch {env.get('torch', '-')}, "
                        f"python {env.get('python', '-')}"))
    on_ray = env.get("ray")
    if isinstance(on_ray, dict) and on_ray.get("node_id"):  # where a Ray actor trained it
        gpus = ",".join(str(g) for g in on_ray.get("gpu_ids") or []) or "none"
        print(safe_text(f"  ray node    {str(on_ray['node_id'])[:12]} ({on_ray.get('node_ip', '-')}, "
                        f"{on_ray.get('hostname', '-')}), actor pid {on_ray.get('pid', '-')}, GPUs {gpus}"))
    gpu = gpu_memory_text(env, record.run_info or {}, record.device)
    if gpu:
        print(safe_text(f"  gpu memory  {gpu}"))
    code = env.get("code")
    if isinstance(code, dict) and code.get("sha256"):  # the task's or script's own code, as it ran
        files = code.get("files") or {}
        more = f" (+{len(files) - 1} more files of its folder)" if len(files) > 1 else ""
        print(safe_text(f"  code        {code.get('file', '-')} sha256 {str(code['sha256'])[:16]}{more}"))
    print(f"  summary     {summary_text(record, fmt_value)}")
    print(f"  checkpoints {checkpoint_summary(checkpoints)}")
    missing = [c.path.name for c in checkpoints if not c.path.exists()]
    if missing:
        print(f"              missing on disk: {safe_text(', '.join(missing))}")
    if record.error:
        print("\nerror:")
        print("  " + safe_text(record.error.rstrip(), keep_newlines=True).replace("\n", "\n  "))
    shown, omitted = applicable_view(record.config)
    print("\nconfig:" + (f" ({omitted} knobs that do not apply to this task and model left out)" if omitted else ""))
    print("  " + safe_text(dict_to_toml(shown).rstrip(), keep_newlines=True).replace("\n", "\n  "))
    if epochs:
        print("\nepochs:")
        print(render_table(EPOCH_COLUMNS, [[e.get(c) for c in EPOCH_COLUMNS] for e in epochs]))
    return 0


def _when(stamp: float | None) -> str:
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"
