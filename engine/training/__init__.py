"""The training loop and what it is built from: models, losses, optimizers, batches, the device.

`train` is a generator of events (`engine.events`); it takes a cancel flag and never calls back
into a UI. Nothing here knows about the store, processes or sweeps.
"""

# The environment variable that caps a trainer's torch CPU threads (its share of the cores). Here,
# not in device.py, so that the processes that only set it (the supervisor, the script launcher)
# need not import torch to name it.
THREAD_CAP_VAR = "TUNEDECK_MAX_THREADS"
