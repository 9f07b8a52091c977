"""How many CPU threads torch uses while profiling: the idle cores when profiling starts, unless told.

torch starts with one intra-op thread per physical core. On a machine where another process keeps a core
busy, that many threads contend with it and with each other: measured on 2 cores (16 story prompts, 8
tokens, SmolLM2), 2 threads took 25.0 s beside one busy process and 1 thread 13.0 s (6.5 s idle, with 2).
So the runner owns the choice, for the duration of one call, and restores torch's setting after:

- ``n_threads`` given: that many;
- else a number the user set with ``torch.set_num_threads`` (one that differs from torch's default): that;
- else the cores idle when profiling starts (a 0.1 s sample of per-core load), at least 1, at most torch's
  default.

The choice changes only float rounding (the GEMM's blocking), never what is computed; it is not part of
a profile's cache key, like the batch size.
"""

import contextlib

import psutil


def default_threads():
    """torch's own default: one intra-op thread per physical core (all logical ones if unknown)."""
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def idle_cores(interval=0.1):
    """How many cores are idle now: the sum of each core's idle share over ``interval`` seconds, rounded."""
    busy = psutil.cpu_percent(interval=interval, percpu=True)
    return int(round(sum(max(0.0, 100.0 - share) for share in busy) / 100.0))


def choose_threads(n_threads=None):
    """The number of torch threads to profile with, and why (for the progress bar).

    Parameters
    ----------
    n_threads : int or None
        A number to use as it is, or None to choose.

    Returns
    -------
    n_threads : int
    reason : str
        ``"set"`` (given), ``"yours"`` (``torch.set_num_threads`` was called) or ``"idle"`` (the idle cores).
    """
    import torch

    if n_threads is not None:
        return int(n_threads), "set"
    current, default = torch.get_num_threads(), default_threads()
    if current != default:
        return current, "yours"
    return max(1, min(default, idle_cores())), "idle"


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch intra-op threads, then restore the previous number."""
    import torch

    previous = torch.get_num_threads()
    if n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
