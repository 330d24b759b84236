"""Where and how trials run: the runner that records a trial, the executors (this thread or a warm
child process), placement on GPUs and cores, and the trial pool that runs every trial of a process.
"""
