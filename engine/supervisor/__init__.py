"""One supervisor per store: it runs every queued trial and sweep, so training outlives the cockpit.

`files` (lock, pid file and log beside the store), `launch` (start it detached, on demand),
`server` (the loop: claims queued trials and sweeps, takes commands, exits when idle), `client`
(what the cockpit and the CLI call: queue, stop, pause, parallelism, status). Clients and the
supervisor speak only through the store.
"""
