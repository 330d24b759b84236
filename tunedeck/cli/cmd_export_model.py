"""`tunedeck export-model ID -o FILE`: a trial's trained model as weights plus its config, for inference.

FILE gets the best epoch's state_dict (`--last`: the newest resume checkpoint's), FILE with `.toml`
the trial's config and the model's shapes; `tunedeck.load_model(FILE)` builds the model back.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.execution.model_export import export_model
from engine.tables.formatting import fmt_bytes, safe_text
from tunedeck.cli.storeopen import open_store


def execute(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        record = store.trial(args.trial_id)  # an unknown id says so, not "no checkpoint"
        weights, toml_file, epoch = export_model(store, record.id, Path(args.output), last=args.last,
                                                 force=args.force)
    kind = "newest last" if args.last else "best"
    print(f"trial {record.id} ({safe_text(record.name)}, {record.state.value}): {kind} checkpoint, epoch {epoch}")
    print(f"  weights  {safe_text(weights)}  ({fmt_bytes(weights.stat().st_size)}, a state_dict of tensors)")
    print(f"  config   {safe_text(toml_file)}  (the trial's config and the model's shapes)")
    print(f"load it in Python:  import tunedeck; model = tunedeck.load_model({json.dumps(str(weights))})")
    return 0
