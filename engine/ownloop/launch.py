"""Starting a user's script for a trial: its command line, its environment, its own process group, and its
end when the process that started it dies.

The command is `[task.python or this interpreter, task.path, *task.args]`, then, with `task.pass_flags`,
every knob as `--key value`: the script's own params by their names (`--num_heads 4`), then each built-in
knob that applies, by its dotted name (`--optim.lr 0.001`; the task's own plumbing left out), values
written in the grammar `--set` reads. A script reads the ones it uses with argparse's
`parse_known_args`. It runs in the working directory, in a session (and process group) of its own, so
that a stop reaches it and whatever it started, and the terminal's Ctrl+C reaches neither.

Parent death: on Linux the script starts through a shim (`python -c`, the interpreter running tunedeck)
that asks the kernel for SIGKILL when its parent ends (prctl PR_SET_PDEATHSIG), checks that the parent
did not end before it asked, and execs the script's interpreter: exec keeps the pid and the request.
The kernel sends it when the *thread* that started the child ends; the executor starts a script from
the thread that then waits for it until it has ended (a pool worker, the CLI's main thread), so this
costs nothing here. What remains: the signal reaches the script's own process only, so processes it
started (data loader workers, a launcher's ranks) outlive a supervisor killed with -9 unless they watch
their parent themselves, as torch's DataLoader workers do; an orderly end of the supervisor (SIGTERM,
idle exit, quit) stops whole groups through `ScriptExecutor.shutdown`. Elsewhere (macOS) there is no such
signal: the script starts directly and only the orderly path applies.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from engine.config.groups import Config
from engine.config.knob_text import format_text
from engine.config.params import PARAMS
from engine.errors import ConfigError
from engine.ownloop.protocol import TRIAL_VAR
from engine.store.location import ENV_VAR as STORE_VAR

# The script task's plumbing: how the script is run, not what it trains with.
PLUMBING = frozenset({"task.name", "task.path", "task.args", "task.python", "task.stop_grace", "task.pass_flags"})
_SHIM = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"  # 1: PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(75)\n"  # the parent ended before the request was made: nobody is left to stop us
    "for name in ('SIGINT', 'SIGHUP'):\n"
    "    signal.signal(getattr(signal, name), signal.SIG_DFL)\n"  # a supervisor ignores them; the script must not
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
PDEATHSIG = sys.platform.startswith("linux")


def interpreter(config: Config) -> str:
    """The script's interpreter, as a path; ConfigError naming task.python when it cannot be run."""
    wanted = config.task.python
    if not wanted:
        return sys.executable
    found = shutil.which(os.path.expanduser(wanted))
    if found is None:
        raise ConfigError("no such interpreter (give a path or a command on PATH)", key="task.python", value=wanted)
    return found


def script_path(config: Config, cwd: Path) -> Path:
    """The script, relative to the working directory; ConfigError naming task.path when it is not a file."""
    path = cwd / os.path.expanduser(config.task.path)
    if not path.is_file():
        raise ConfigError(f"no such file in {cwd}", key="task.path", value=config.task.path)
    return path


def knob_flags(config: Config) -> list[str]:
    """`--key value` for every knob that applies: the script's own params first, by their names."""
    own, builtin = [], []
    for info in config.fields():
        if info.key in PLUMBING or not config.applies(info.key):
            continue
        text = format_text(info.knob.kind, config.get(info.key))
        if info.group == PARAMS:
            own += [f"--{info.name}", text]
        else:
            builtin += [f"--{info.key}", text]
    return own + builtin


def command(config: Config, cwd: Path) -> list[str]:
    """The script's command line (checked: its interpreter and file exist)."""
    line = [interpreter(config), str(script_path(config, cwd)), *config.task.args]
    return line + knob_flags(config) if config.task.pass_flags else line


def environment(handoff: Path, store_path: Path, *, threads: int | None, placed: Mapping[str, str],
                extra: Mapping[str, str], thread_var: str) -> dict[str, str]:
    """The script's environment: ours, the trial's handoff and store, its GPU and its thread budget.

    With a thread budget (several trials at once), OMP_NUM_THREADS says it too, for scripts that do not
    read tunedeck's variable; stdout is unbuffered so that its metric lines arrive as they are printed.
    """
    env = {**os.environ, **extra, TRIAL_VAR: str(handoff), STORE_VAR: str(store_path), **placed}
    env.setdefault("PYTHONUNBUFFERED", "1")
    if threads:
        env[thread_var] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
    else:
        env.pop(thread_var, None)
    return env


def start(line: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the script in a session of its own, its output on pipes; OSError when it cannot start."""
    argv = [sys.executable, "-c", _SHIM, str(os.getpid()), *line] if PDEATHSIG else line
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, close_fds=True)


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send a signal to the script's process group (the script and what it started); nothing if it is gone."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the script has exited, leaving it unreaped: while its zombie holds the group's id, no new
    group can take that id, so the stragglers of its group can still be killed safely."""
    if process.returncode is not None:
        return True
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return process.poll() is not None
    return process.poll() is not None


def reap(process: subprocess.Popen[bytes]) -> int:
    """Kill what is left of the script's group, then collect its exit status (negative: a signal)."""
    signal_group(process, signal.SIGKILL)
    return process.wait()


