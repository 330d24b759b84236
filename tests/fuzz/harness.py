"""Running the CLI on hostile input, and judging what came out.

In this process through `tunedeck.cli.main.main` (the console script's own entry, so the same
functions and the same error printing; fast enough for hundreds of examples), or as the real console
script with a memory limit and a timeout (a handful, for the exit status and a stderr free of
tracebacks). Every example is also bounded in time: a case still running after EXAMPLE_SECONDS
fails as a hang, instead of hanging the suite.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import resource
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.cli.clirunner import BIN
from tunedeck.cli.main import main

EXAMPLE_SECONDS = 30  # a generous bound per example: every bounded case takes well under a second
CONSOLE_SECONDS = 60
CONSOLE_MEMORY = 2 * 2**30  # address space of a console-script run: a grid built in full would need far more
MAX_ERROR_CHARS = 1_100  # "tunedeck: error: " and a message cut at 1,000 characters
# What must never reach a terminal raw: C0 (newline aside, where lines are meant), DEL, C1, the
# invisible marks safe_text escapes, and lone surrogates (which a strict UTF-8 stream cannot even write).
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff]")


def fuzz_settings(examples: int) -> settings:
    """A fixed seed and a bounded number of examples: the same cases on every run, in bounded time."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


class TookTooLong(Exception):
    """An example ran past EXAMPLE_SECONDS: input handling is unbounded somewhere."""


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise TookTooLong(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(*args: str) -> Outcome:
    """`tunedeck ARGS` in this process: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with time_bound(EXAMPLE_SECONDS), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Outcome(code, out.getvalue(), err.getvalue())


def run_console(*args: str, cwd: Path, store: Path | None = None) -> Outcome:
    """The installed console script, in its own process with a memory limit and a timeout."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CONSOLE_MEMORY, CONSOLE_MEMORY))

    env = {**os.environ, "TUNEDECK_STORE": str(store or cwd / "trials.db")}
    result = subprocess.run([str(BIN), *args], cwd=cwd, env=env, capture_output=True, timeout=CONSOLE_SECONDS,
                            preexec_fn=limit)
    return Outcome(result.returncode, result.stdout.decode("utf-8", "replace"),
                   result.stderr.decode("utf-8", "replace"))


def assert_clean(outcome: Outcome, *names: str) -> None:
    """Accepted (0), or refused as bad input (2) in one short line that names one of `names` (the file,
    `--set`), without a traceback; either way nothing unsafe printed."""
    assert outcome.code in (0, 2), outcome
    assert "Traceback" not in outcome.err + outcome.out, outcome.err[-3000:]
    assert not UNSAFE.search(outcome.out), outcome.out[:500]
    if outcome.code == 0:
        return
    assert outcome.err.startswith("tunedeck: error: "), outcome.err[:500]
    assert outcome.err.endswith("\n") and outcome.err.count("\n") == 1, outcome.err[:500]
    assert len(outcome.err) <= MAX_ERROR_CHARS, outcome.err[:500]
    assert not UNSAFE.search(outcome.err[:-1]), outcome.err[:500]
    if names:
        assert any(name in outcome.err for name in names), (names, outcome.err[:500])


def body(toml_out: str) -> str:
    """`preset show`'s output without its first line (which names the file shown)."""
    return toml_out.split("\n", 1)[1]
