"""The training loop and what it is built from: models, losses, optimizers, batches, the device.

`train` is a generator of events (`engine.events`); it takes a cancel flag and never calls back
into a UI. Nothing here knows about the store, processes or sweeps.
"""
