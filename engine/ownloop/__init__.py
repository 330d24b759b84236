"""The user's own training script as a trial: the protocol between tunedeck and `tunedeck.init`.

A script trial is an ordinary row of the store with `task.name = "script"`. Two ways in:

- **Launched by tunedeck** (the script executor, engine/ownloop/executor.py, for a queued trial):
  it writes a handoff file (`protocol.Handoff`: the store's path, the trial id, the trial's config
  as a dict, and the sweep's metric and direction when a sweep runs it) and starts the script with
  `TUNEDECK_TRIAL=<that file>` in its environment, in a process group of its own, with the trial's
  device placement (`CUDA_VISIBLE_DEVICES`) and torch threads (`TUNEDECK_THREADS`). The script's
  `tunedeck.init()` reads the file and records into that trial.
- **Run by hand** (no `TUNEDECK_TRIAL`): `tunedeck.init()` creates a trial of its own in
  `$TUNEDECK_STORE` or `./tunedeck.db`, so any run of the script shows in the cockpit and the table.

Stopping: whoever stops a script trial (the user, a sweep's pruner judging the last logged value of
its metric) sets the trial's `stop_request` (`Store.request_stop`); the script's `run.should_stop()`
turns true within about a second, it ends its loop, and the trial is recorded with the requested
state (`cancelled` or `pruned`) and reason. A script that does not stop gets SIGTERM, then SIGKILL
after `task.stop_grace` seconds.

A script that does not import tunedeck still works: with `task.pass_flags = true` it gets the knobs
as `--key value` flags, and its stdout lines `key: value` or `key=value` (with `epoch` among them,
or one line per epoch) are read as metrics.
"""
