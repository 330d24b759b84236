"""Sweeps: the `[search]` table (spec), Optuna's ask/tell behind one lock (sampler), a sweep that feeds
sampled trials to the trial pool (sweep), the cockpit's control of one live sweep (control), and a
stored sweep read back with its parameter importance (results).
"""
