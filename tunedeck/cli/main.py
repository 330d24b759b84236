"""`tunedeck`: the headless command line.

This module imports only argparse at the top so that `tunedeck --help` answers at once; each
command imports torch and polars when it runs. User errors print one or two lines and exit 2; a
store's disk, permission or lock failing exits 74, 77 or 75 (`exit_status`).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tunedeck.cli.cockpit_help import HelpWithCockpit

DEFAULT_COMMAND = "cockpit"
DEFAULT_PRESET = "toy2d-mlp"
EXIT_USER_ERROR = 2
MAX_ERROR = 1_000  # characters of an error message printed (a ConfigError bounds each of its parts itself)

DESCRIPTION = """\
tunedeck: tune PyTorch models from the terminal.

  tunedeck [PRESET]          open the cockpit on a preset (default: toy2d-mlp); also `tunedeck cockpit`
  tunedeck run PRESET        train one trial headless, one line per epoch (--detach: in the background)
  tunedeck sweep PRESET      run the preset's [search] (grid, random, tpe, gp, cmaes, qmc), N at once (--detach too)
  tunedeck sweep --resume ID go on with a stopped or interrupted sweep
  tunedeck status            the store's supervisor, running and queued trials, active sweeps
  tunedeck devices           GPUs (NVML) with the trials on each, CPUs, memory, Ray nodes (--watch, --json)
  tunedeck watch ID          follow a running trial's epochs, wherever it runs
  tunedeck stop ID           stop a running or queued trial (--sweep ID: a sweep; --all: everything)
  tunedeck resume ID         go on with an interrupted or cancelled trial from its last checkpoint
  tunedeck sweeps            list the sweeps in the store: state, progress, best
  tunedeck trials            list the trials in the store
  tunedeck show ID           one trial: config, summary, why it stopped, per-epoch metrics
  tunedeck export -o FILE    write the trial table (or --history) to csv/parquet/json/ndjson/md
  tunedeck export --optuna F a sweep (--sweep ID) as an Optuna study in SQLite, for optuna-dashboard
  tunedeck lr-find PRESET    a learning-rate range test: loss against the rate, a suggested lr (nothing stored)
  tunedeck export-model ID   a trial's trained model (-o FILE); tunedeck.load_model(FILE) in Python
  tunedeck gc                remove the checkpoints nothing needs any more (--dry-run: list them)
  tunedeck preset list|show  the shipped presets; a preset resolved to TOML

PRESET is a shipped preset's name (see `tunedeck preset list`) or a path to a TOML file.
Results go to ./tunedeck.db unless --store PATH or $TUNEDECK_STORE says otherwise.
--detach hands the work to the store's supervisor, a background process that outlives the terminal.
"""


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH",
                   help="trial store (SQLite); default $TUNEDECK_STORE, else ./tunedeck.db")


def _set_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a knob, e.g. --set optim.lr=3e-4 --set model.hidden=[256,128] (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = HelpWithCockpit(prog="tunedeck", description=DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cockpit = sub.add_parser(DEFAULT_COMMAND, help="open the cockpit (the default: `tunedeck [PRESET]`)", description=(
        "Open the tunedeck cockpit: edit knobs in a form, train (ctrl+r), watch the curves, sort and "
        "export the trial table. Press ? inside for every key. `tunedeck [PRESET] [options]` with no "
        "command word does the same."))
    cockpit.add_argument("preset", nargs="?", default=DEFAULT_PRESET, metavar="PRESET",
                         help=f"preset to load into the form (default {DEFAULT_PRESET})")
    _set_arg(cockpit)
    _store_arg(cockpit)
    cockpit.add_argument("--parallel", type=_at_least_one, default=None, metavar="N",
                         help="trials trained at once (kept in the store; default: as last set, else 1; "
                              "+ and - change it in the app)")
    cockpit.add_argument("--executor", choices=("process", "ray"), default=None,
                         help="where the supervisor it starts trains: process (default, warm local processes) "
                              "or ray (actors on the Ray cluster RAY_ADDRESS names, else a local Ray; the "
                              "extra tunedeck[ray]; docs/cluster.md)")
    parser.cockpit = cockpit  # both helps end with the cockpit's keys; the top one with its options too
    assert isinstance(cockpit, HelpWithCockpit)  # subparsers are of their parent's class
    cockpit.cockpit, cockpit.with_options = cockpit, False

    run = sub.add_parser("run", help="train one trial headless", description=(
        "Train one trial and record it in the store. Prints one line per epoch and then the trial's "
        "summary. Ctrl+C stops the trial within one batch and records it as cancelled. "
        "Exit status: 0 completed or early-stopped, 1 failed or diverged, 2 bad input, 130 cancelled. "
        "With --detach the trial is queued for the store's supervisor (started if none runs) and the "
        "command returns at once: follow it with `tunedeck watch ID`, stop it with `tunedeck stop ID`."))
    run.add_argument("preset", metavar="PRESET", help="shipped preset name or path to a TOML file")
    _set_arg(run)
    _store_arg(run)
    run.add_argument("--quiet", action="store_true", help="print only the summary row (with --detach: the id)")
    run.add_argument("--executor", choices=("process", "ray"), default="process",
                     help="process (default): a child process here; ray: an actor on the Ray cluster RAY_ADDRESS "
                          "names, else on a local Ray (the extra tunedeck[ray]; docs/cluster.md)")
    run.add_argument("--detach", action="store_true",
                     help="queue the trial for the store's supervisor, which trains it in the background")

    sweep = sub.add_parser("sweep", help="run the preset's [search] table headless", description=(
        "Sample configs from the preset's [search] table (grid, random or TPE, by Optuna), train them "
        "N at a time in separate processes, prune unpromising ones, and record every trial and the "
        "sweep in the store. Prints one line per finished trial, then the top trials. Ctrl+C cancels "
        "the running trials and records the sweep as stopped. Exit status: 0 completed, 1 no trial "
        "completed, 2 bad input, 130 stopped. With --detach the sweep (or --resume) is queued for the "
        "store's supervisor and the command returns at once: `tunedeck sweeps` and `tunedeck status` "
        "follow it, `tunedeck stop --sweep ID` stops it."))
    sweep.add_argument("preset", metavar="PRESET", nargs="?",
                       help="shipped preset name or path to a TOML file with [search]")
    sweep.add_argument("--resume", type=_integer, metavar="ID",
                       help="go on with a stopped or interrupted sweep (its finished trials count; cancelled "
                            "and interrupted ones run again); only --parallel may change")
    _set_arg(sweep)
    sweep.add_argument("--trials", type=_integer, metavar="N", help="how many trials (overrides search.trials)")
    sweep.add_argument("--parallel", type=_integer, metavar="N", help="trials at once (overrides search.parallel)")
    sweep.add_argument("--strategy", metavar="S", help="grid, random, tpe, gp, cmaes or qmc (overrides search.strategy)")
    sweep.add_argument("--seed", type=_integer, metavar="N", help="sampler seed (overrides search.seed)")
    sweep.add_argument("--top", type=_integer, default=5, metavar="K", help="rows in the final table (default 5)")
    sweep.add_argument("--executor", choices=("process", "thread", "ray"), default=None,
                       help="process (default, or search.executor): each trial in its own process; thread: in "
                            "this process; ray: in actors on the Ray cluster RAY_ADDRESS names, else on a local "
                            "Ray (the extra tunedeck[ray]; docs/cluster.md)")
    sweep.add_argument("--detach", action="store_true",
                       help="queue the sweep for the store's supervisor, which runs it in the background")
    _store_arg(sweep)

    status = sub.add_parser("status", help="the supervisor, running and queued trials, active sweeps", description=(
        "Print the store's supervisor (pid, uptime, trials at once, log file) or that none runs; the "
        "running trials (epoch reached, the process that trains each, and whether it is the "
        "supervisor's or a foreground run's); the queued trials; the active sweeps."))
    _store_arg(status)

    devices = sub.add_parser("devices", help="GPUs with the trials on each, CPUs, memory, Ray nodes", description=(
        "Print each local GPU (through NVML, the nvidia-ml-py package: name, memory used / total, "
        "utilisation, temperature, power) with the store's running trials on it; the box's CPU cores, "
        "load and memory; with --ray, or in a process already connected, every node of the Ray cluster "
        "RAY_ADDRESS names. Without NVML or a driver it says so in one line and shows the rest. Exit "
        "status 2 when --ray finds no cluster to show (the rest is printed, the reason on stderr)."))
    devices.add_argument("--watch", type=float, metavar="SECONDS", help="print it again every SECONDS until Ctrl+C")
    devices.add_argument("--json", action="store_true", help="one JSON object (per refresh with --watch)")
    devices.add_argument("--ray", action="store_true", help="connect to the Ray cluster at RAY_ADDRESS to list its nodes")
    _store_arg(devices)

    watch = sub.add_parser("watch", help="follow a trial's epochs as `tunedeck run` prints them", description=(
        "Print a trial's stored epochs, then each new one as it is committed, then its summary, in the "
        "lines `tunedeck run` prints; works for a trial run by the supervisor, a foreground `tunedeck "
        "run` or sweep, or the cockpit. Ctrl+C stops watching (the trial goes on; exit 0). Exit status "
        "when the trial ends: 0 completed or early-stopped, 1 failed or diverged, 130 cancelled or "
        "interrupted."))
    watch.add_argument("trial_id", type=_integer, metavar="ID")
    watch.add_argument("--quiet", action="store_true", help="print only the summary row, once the trial ends")
    _store_arg(watch)

    stop = sub.add_parser("stop", help="stop a trial or a sweep of the supervisor", description=(
        "Stop a running or queued trial (recorded as cancelled), a sweep (--sweep: its running trials "
        "are cancelled, the sweep recorded as stopped; `tunedeck sweep --resume ID` goes on with it), "
        "or everything the supervisor runs and everything queued for it (--all); waits until the store "
        "shows it ended. A foreground `tunedeck run` or sweep is stopped with Ctrl+C where it runs."))
    target = stop.add_mutually_exclusive_group(required=True)
    target.add_argument("trial_id", type=_integer, nargs="?", metavar="ID", help="the trial to stop")
    target.add_argument("--sweep", type=_integer, dest="sweep_id", metavar="ID", help="stop this sweep")
    target.add_argument("--all", action="store_true", help="stop every trial and sweep of the supervisor")
    _store_arg(stop)

    resume = sub.add_parser("resume", help="go on with an interrupted or cancelled trial", description=(
        "Resume an interrupted or cancelled trial from its newest usable `last` checkpoint, as the same "
        "trial: the epochs after that checkpoint are forgotten and trained again (on a CPU, to the same "
        "values). Prints `tunedeck run`'s lines; Ctrl+C cancels it again. If the newest checkpoint is "
        "damaged, the one before it is used and the command says so; with none usable it exits 2 "
        "(--restart runs the trial again from epoch 1). Exit status as `tunedeck run`'s. With --detach "
        "the trial is queued for the store's supervisor and the command returns at once."))
    resume.add_argument("trial_id", type=_integer, metavar="ID")
    resume.add_argument("--restart", action="store_true",
                        help="run it again from epoch 1, dropping its checkpoints (also when none is usable)")
    resume.add_argument("--detach", action="store_true",
                        help="queue it for the store's supervisor, which trains it in the background")
    _store_arg(resume)

    sweeps = sub.add_parser("sweeps", help="list the sweeps in the store", description=(
        "One line per sweep: its id, name, strategy, state (running, paused, completed, stopped, "
        "interrupted), trials done of planned, how many were pruned and failed, and the best trial by "
        "the sweep's metric; a multi-objective sweep's Pareto front is printed under the table. "
        "`tunedeck trials --sweep ID` lists one sweep's trials."))
    _store_arg(sweeps)

    trials = sub.add_parser("trials", help="list the trials in the store", description=(
        "Print the trial table. Knobs that differ between the listed trials are shown as columns. "
        "Failed, diverged, cancelled and interrupted trials always sort after the others."))
    trials.add_argument("--sort", metavar="COL", help="column to sort by, e.g. best_val_loss or optim.lr")
    trials.add_argument("--desc", action="store_true", help="sort descending")
    trials.add_argument("--state", action="append", metavar="S",
                        help="only trials in this state (repeatable): completed, early_stopped, failed, ...")
    trials.add_argument("--limit", type=_integer, metavar="N", help="show at most N trials")
    trials.add_argument("--sweep", type=_integer, metavar="ID", help="only the trials of this sweep")
    trials.add_argument("--columns", metavar="A,B,...|wide|all",
                        help="exactly these columns, comma-separated; wide: the result and knob columns, unfitted; "
                             "all: every column (default: the columns that fit the terminal, knobs that differ first)")
    _store_arg(trials)

    show = sub.add_parser("show", help="one trial in full", description=(
        "Print a trial's config as TOML, its summary, where it stopped and why, the error if it failed, "
        "and its per-epoch metrics."))
    show.add_argument("trial_id", type=_integer, metavar="ID")
    _store_arg(show)

    lr_find = sub.add_parser("lr-find", help="a learning-rate range test: a suggested lr", description=(
        "Build the preset's trial as `tunedeck run` would (task data, model, loss, optimizer) and take "
        "--steps optimizer steps with the learning rate rising exponentially from --start to --end; stop "
        "once the smoothed loss rises above its minimum by over 4x its fall. Prints the suggested rate (midway "
        "between the steepest fall of the smoothed loss and its minimum, before it diverges), where it "
        "diverged, and a plot of the loss against the rate. Nothing is stored. Exit status: 0 with a "
        "suggestion, 1 without one or when the task's code raised, 2 bad input, 130 stopped by Ctrl+C."))
    lr_find.add_argument("preset", metavar="PRESET", help="shipped preset name or path to a TOML file")
    _set_arg(lr_find)
    lr_find.add_argument("--start", type=float, metavar="LR", help="the ramp's first rate (default 1e-7)")
    lr_find.add_argument("--end", type=float, metavar="LR", help="the ramp's last rate (default 10)")
    lr_find.add_argument("--steps", type=_integer, metavar="N", help="optimizer steps, 10 to 100,000 (default 200)")
    lr_find.add_argument("--no-plot", action="store_true", help="print the summary line only")

    export = sub.add_parser("export", help="write the trial table or the metric history to a file",
                            description="Write atomically: nothing partial is ever left behind. With --sweep ID "
                                        "--optuna FILE: the sweep as an Optuna study in the SQLite file FILE "
                                        "(trials, params with their distributions, values, the metric per epoch), "
                                        "which optuna.load_study and optuna-dashboard open.")
    written = export.add_mutually_exclusive_group(required=True)
    written.add_argument("-o", "--output", metavar="FILE")
    written.add_argument("--optuna", metavar="FILE", help="write the sweep given by --sweep as an Optuna study")
    export.add_argument("--sweep", type=_integer, metavar="ID", help="the sweep to write with --optuna")
    export.add_argument("--format", choices=("csv", "parquet", "json", "ndjson", "markdown", "md"),
                        help="default: from the file's suffix")
    export.add_argument("--history", action="store_true", help="export the long metric history instead")
    export.add_argument("--state", action="append", metavar="S", help="only trials in this state (repeatable)")
    export.add_argument("--sort", metavar="COL", help="column to sort the trial table by")
    export.add_argument("--desc", action="store_true", help="sort descending")
    export.add_argument("--force", action="store_true", help="overwrite an existing file")
    _store_arg(export)

    export_model = sub.add_parser("export-model", help="write a trial's trained model for inference", description=(
        "Write a trial's best weights (--last: its newest resume checkpoint's) to FILE as a state_dict "
        "of tensors, and its config and model shapes to FILE with .toml beside it. In Python, "
        "`tunedeck.load_model(FILE)` builds the model back in eval mode (a plugin task's own model: "
        "its state_dict). Needs run.checkpoint = both or best (last for --last) when the trial ran."))
    export_model.add_argument("trial_id", type=_integer, metavar="ID")
    export_model.add_argument("-o", "--output", required=True, metavar="FILE", help="the weights file, e.g. model.pt")
    export_model.add_argument("--last", action="store_true", help="the newest `last` checkpoint, not the best")
    export_model.add_argument("--force", action="store_true", help="overwrite FILE and its .toml")
    _store_arg(export_model)

    gc = sub.add_parser("gc", help="remove checkpoints that nothing needs any more", description=(
        "Remove the `last` checkpoints of trials that can no longer resume (they ended by themselves), "
        "the best checkpoints beyond a sweep's run.keep_best, and files in the store's artifacts folder "
        "that no trial's record names. Prints each file, its size and why, then what was freed."))
    gc.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    _store_arg(gc)

    preset = sub.add_parser("preset", help="shipped presets and resolved configs")
    psub = preset.add_subparsers(dest="preset_command", metavar="list|show", required=True)
    psub.add_parser("list", help="the shipped presets", description="List the presets shipped with tunedeck.")
    pshow = psub.add_parser("show", help="a preset resolved to its full TOML",
                            description="Print the preset with extends and --set applied and every default "
                                        "filled in; save it to start a preset of your own.")
    pshow.add_argument("preset", metavar="PRESET")
    _set_arg(pshow)
    return parser


def _integer(text: str) -> int:
    """An integer option or id: at most 64 bits, as the store keeps it (SQLite refuses a larger one with
    a traceback); the value is quoted short, whatever its length."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not -(2**63) <= value < 2**63:
        from engine.errors import show_value

        rule = "must be an integer" if value is None else "must be a 64-bit integer"
        raise argparse.ArgumentTypeError(f"{rule}, got {show_value(text)}")
    return value


def _at_least_one(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def with_default_command(args: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`tunedeck`, `tunedeck PRESET`, `tunedeck --store x.db`: the cockpit command; a command word: itself.

    Which options take a value is read from the cockpit command's own arguments, so that `--store
    run` names a store file rather than the `run` command.
    """
    if args and args[0] in ("-h", "--help", "--version"):
        return args
    commands = _subcommands(parser)
    takes_value = {option for action in commands[DEFAULT_COMMAND]._actions if action.nargs != 0
                   for option in action.option_strings}
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return args if arg in commands else [DEFAULT_COMMAND, *args]
    return [DEFAULT_COMMAND, *args]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _mistyped_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """`tunedeck trails`: a word that is no command became the cockpit's preset; if it is no preset
    either and reads like a command, say which one was meant (one line, exit 2)."""
    import difflib
    from pathlib import Path

    word = getattr(args, "preset", None)
    if args.command != DEFAULT_COMMAND or not word or word == DEFAULT_PRESET or Path(word).exists():
        return None
    from engine.config.presets import shipped_names

    if word in shipped_names():
        return None
    close = difflib.get_close_matches(word, list(_subcommands(parser)), n=1, cutoff=0.7)
    if not close:
        return None
    return f"{word!r} is neither a command nor a preset; did you mean `tunedeck {close[0]}`?"


def error_line(exc: BaseException) -> str:
    """`tunedeck: error: ...` for a user error, on one line: its control characters and newlines escaped
    (a ConfigError's parts are already; another error may quote a path, a trial's name or a library's
    message of several lines) and its length bounded."""
    from engine.errors import safe_text

    return "tunedeck: error: " + safe_text(str(exc), MAX_ERROR)


def exit_status(exc: BaseException) -> int:
    """2 for bad input; a store's own fault its own status (engine.errors.StoreFault): 74 disk full or
    failing, 75 its lock held by another process past the timeout (try again), 77 read-only here."""
    status = getattr(exc, "exit_status", EXIT_USER_ERROR)
    return status if isinstance(status, int) else EXIT_USER_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(with_default_command(list(sys.argv[1:] if argv is None else argv), parser))
    mistyped = _mistyped_command(args, parser)
    if mistyped:
        print(f"tunedeck: error: {mistyped}", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"tunedeck {version('tunedeck')}")
        except PackageNotFoundError:
            print("tunedeck (not installed: running from a source tree)")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    from engine.errors import TunedeckError

    module = importlib.import_module(f"tunedeck.cli.cmd_{args.command.replace('-', '_')}")
    try:
        return int(module.execute(args))
    except TunedeckError as exc:
        print(error_line(exc), file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("tunedeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tunedeck trials | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
