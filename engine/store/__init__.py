"""The SQLite store: the record of every trial, epoch and sweep.

Contract:
- Writers: the process that runs a trial writes that trial's rows (its state, epochs, step losses);
  the process that runs a sweep writes that sweep's row. Readers (the cockpit, `tunedeck trials`)
  may open the same file at any time; several processes may write one file at once.
- Threads: one `Store` object may be shared by the threads of a process; a lock serialises them.
- Durability: WAL mode, short IMMEDIATE transactions, a commit at least once per epoch. A crash
  loses at most the epoch in flight; a trial or sweep left running by a dead process is marked
  `interrupted` the next time the store is opened.
- The file must be on a local disk: SQLite's locking and WAL are unsafe on NFS and other shared
  filesystems.
"""
from engine.store.location import DEFAULT_NAME, ENV_VAR, resolve_store_path
from engine.store.schema import TrialRecord
from engine.store.sweeps import SweepRecord
from engine.store.trials import Store

__all__ = ["DEFAULT_NAME", "ENV_VAR", "Store", "SweepRecord", "TrialRecord", "resolve_store_path"]
