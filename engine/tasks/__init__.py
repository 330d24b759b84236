"""Tasks: what is trained. `build_task` turns a config into the data the loop needs."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from engine.config.groups import SCRIPT_TASK, Config, is_plugin
from engine.errors import TaskError

if TYPE_CHECKING:  # torch: engine.tasks.plugin_code is read by processes that never train
    from engine.tasks.base import TaskData

_MODULES = {
    "toy2d": "engine.tasks.toy2d",
    "curve": "engine.tasks.curve",
    "text-csv": "engine.tasks.text_csv",
    "table-csv": "engine.tasks.table_csv",
}


def build_task(config: Config) -> TaskData:
    """Build the task's splits; raises TaskError for unusable data before any training."""
    if config.task.name == SCRIPT_TASK:
        raise TaskError(f"task 'script' ({config.task.path}) trains in its own process, not in tunedeck's loop: "
                        "it runs through the script executor (engine/ownloop)")
    if is_plugin(config.task.name):
        from engine.tasks import plugin

        return plugin.build(config)
    return importlib.import_module(_MODULES[config.task.name]).build(config)
