"""Checkpoint files: written atomically beside the store, checked before they are loaded.

Writing: the payload goes to a temporary file in the trial's folder through a writer that hashes
what passes, is flushed and fsynced, then renamed over the final name, and only then recorded in
the store (path, epoch, size, sha256): a crash leaves either the old file or the new one, never half
of one. Before writing, the free space is checked against the payload's size; when it is short the
write is skipped, the trial goes on, and its note says why (the cockpit and `show` display it).
The two newest `last` files are kept, so that a damaged newest one still leaves one to resume from.

Loading: the file must exist with the recorded size and checksum, and is read with
`torch.load(weights_only=True)`, which builds tensors and plain containers only and never runs
code from the file; a newer format is refused by engine.training.checkpoint.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.errors import TunedeckError
from engine.store import Store
from engine.store.checkpoints import CheckpointRecord
from engine.training.checkpoint import BEST, FORMAT_VERSION, LAST

LAST_KEPT = 2
SPACE_MARGIN = 64 * 1024 * 1024  # never fill the disk to the last byte: the store needs room too
FreeSpace = Callable[[Path], int]


class CheckpointUnusable(TunedeckError):
    """A checkpoint file that cannot be used: missing, truncated, altered, or of a newer format."""


def free_space(path: Path) -> int:
    return shutil.disk_usage(path).free


def payload_bytes(payload: Any) -> int:
    """About what torch.save will write: the tensors' bytes (the rest is small)."""
    if isinstance(payload, torch.Tensor):
        return payload.numel() * payload.element_size()
    if isinstance(payload, dict):
        return sum(payload_bytes(v) for v in payload.values())
    if isinstance(payload, (list, tuple)):
        return sum(payload_bytes(v) for v in payload)
    return 0


class _HashingFile:
    """A file that hashes and counts what is written through it (torch.save writes once, in order)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.sha = hashlib.sha256()
        self.size = 0
        self.error: OSError | None = None  # torch.save reports it as a RuntimeError; kept to raise it as it is

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._fh.flush()


class CheckpointFiles:
    """The `write` a Checkpointer calls for one trial; failures to write never end the trial."""

    def __init__(self, store: Store, trial_id: int, *, space: FreeSpace | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.trial_id = trial_id
        self.folder = store.artifacts / str(trial_id)
        self._space = space
        self._warn = warn or (lambda text: None)
        self.written = 0
        self.skipped = 0

    def write(self, kind: str, payload: dict[str, Any], epoch: int) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            need = payload_bytes(payload) + SPACE_MARGIN
            free = (self._space or free_space)(self.folder)  # looked up now: a test may replace it
            if free < need:
                self._skip(f"{kind} checkpoint of epoch {epoch} skipped: {free / 2**20:.0f} MiB free on the "
                           f"disk of {self.folder}, {need / 2**20:.0f} MiB needed; the trial goes on")
                return
            path = self.folder / (f"last-{epoch}.pt" if kind == LAST else "best.pt")
            size, sha = _write_atomically(path, payload)
            self.store.record_checkpoint(self.trial_id, kind, path, epoch, size, sha)
            self.written += 1
            if kind == LAST:
                self._retire_old_last()
        except OSError as exc:
            self._skip(f"{kind} checkpoint of epoch {epoch} not written: {exc.strerror or exc}; the trial goes on")

    def _skip(self, text: str) -> None:
        self.skipped += 1
        self._warn(text)
        try:
            self.store.set_note(self.trial_id, text)
        except TunedeckError:
            pass

    def _retire_old_last(self) -> None:
        for record in self.store.checkpoints(self.trial_id, LAST)[LAST_KEPT:]:
            remove_checkpoint(self.store, record)


def write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write a file whole or not at all: `write(fh)` into a temporary file beside it, flushed and
    fsynced, renamed over `path`, and the folder fsynced (checkpoints and exported models alike)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_atomically(path: Path, payload: dict[str, Any]) -> tuple[int, str]:
    """A checkpoint written atomically; its size and sha256, taken as the bytes pass."""
    hashing: list[_HashingFile] = []

    def save(fh: Any) -> None:
        hashing.append(_HashingFile(fh))
        try:
            torch.save(payload, hashing[0])  # type: ignore[arg-type]  # write() and flush() are all it uses
        except RuntimeError:
            if hashing[0].error is not None:  # a full disk: say so, not torch's "unexpected pos"
                raise hashing[0].error from None
            raise

    write_atomically(path, save)
    return hashing[0].size, hashing[0].sha.hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_checkpoint(store: Store, record: CheckpointRecord) -> int:
    """Delete a checkpoint's file and its record; the bytes freed."""
    freed = 0
    try:
        freed = record.path.stat().st_size
        record.path.unlink()
    except FileNotFoundError:
        pass
    store.forget_checkpoint(record.id)
    return freed


def load_checkpoint(record: CheckpointRecord, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The payload of a recorded checkpoint, checked first; CheckpointUnusable says why not."""
    path = record.path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointUnusable(f"{path}: the checkpoint file is missing") from None
    if size != record.size:
        raise CheckpointUnusable(f"{path}: {size} bytes, {record.size} were written (truncated or replaced)")
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    if sha.hexdigest() != record.sha256:
        raise CheckpointUnusable(f"{path}: checksum mismatch (the file was altered after it was written)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch says of a bad file, it is unusable
        raise CheckpointUnusable(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("kind") not in (LAST, BEST) or "format" not in payload:
        raise CheckpointUnusable(f"{path}: not a tunedeck checkpoint (a {type(payload).__name__} without "
                                 "its format and kind)")
    if int(payload["format"]) > FORMAT_VERSION:
        raise CheckpointUnusable(f"{path}: checkpoint format {payload['format']} is newer than this tunedeck "
                                 f"reads ({FORMAT_VERSION}); upgrade tunedeck")
    if payload["kind"] != record.kind:
        raise CheckpointUnusable(f"{path}: not a tunedeck {record.kind} checkpoint (it holds a {payload['kind']} one)")
    return payload


def resume_point(store: Store, trial_id: int) -> tuple[dict[str, Any], CheckpointRecord, list[str]]:
    """The newest usable `last` checkpoint of a trial, its record, and why newer ones were passed over.

    CheckpointUnusable when none can be used: the trial must start over.
    """
    problems: list[str] = []
    for record in store.checkpoints(trial_id, LAST):
        try:
            return load_checkpoint(record), record, problems
        except CheckpointUnusable as exc:
            problems.append(str(exc))
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise CheckpointUnusable(f"trial {trial_id} has no usable checkpoint to resume from{detail}; it must start over")


def best_or_last(store: Store, trial_id: int, *, last: bool = False) -> CheckpointRecord:
    """The checkpoint `export-model` reads: the best one, or (`last`) the newest last one."""
    kind = LAST if last else BEST
    records = store.checkpoints(trial_id, kind)
    if not records:
        raise CheckpointUnusable(f"trial {trial_id} has no {kind} checkpoint (run.checkpoint was "
                                 f"{'none or best' if last else 'none or last'}, or it was removed)")
    return records[0]
