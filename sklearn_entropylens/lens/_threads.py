"""How many CPU threads torch uses while profiling: the idle cores when profiling starts, unless told.

torch starts with one intra-op thread per physical core. On a machine where another process keeps a core
busy, that many threads contend with it and with each other: measured on 2 cores (16 story prompts, 8
tokens, SmolLM2), 2 threads took 25.0 s beside one busy process and 1 thread 13.0 s (6.5 s idle, with 2).
So the runner owns the choice, for the duration of one call, and restores torch's setting after:

- ``n_threads`` given: that many;
- else a number the user set with ``torch.set_num_threads`` after importing the library (one that
  differs from the number torch had then): that;
- else, for a model on the CPU, the cores idle when profiling starts (a 0.1 s sample of the load of the
  cores this process may run on), at least 1, at most the number torch had at import. A model on a GPU
  keeps torch's setting.

The choice changes only float rounding (the GEMM's blocking), never what is computed; it is not part of
a profile's cache key, like the batch size.
"""

import contextlib
import os

import psutil
import torch

# torch's intra-op threads when the library was imported: its default (one per physical core, or
# OMP_NUM_THREADS), or a number the user set before importing us, which is then the most we take.
_THREADS_AT_IMPORT = torch.get_num_threads()


def default_threads():
    """The number of torch threads when the library was imported (torch's default unless set before)."""
    return _THREADS_AT_IMPORT


def _usable_cpus():
    """The CPUs this process may run on (its affinity), or None where the platform does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def idle_cores(interval=0.1):
    """How many of this process's cores are idle now: the sum of their idle shares over ``interval`` s, rounded."""
    busy = psutil.cpu_percent(interval=interval, percpu=True)
    cpus = _usable_cpus()
    if cpus is not None and max(cpus, default=-1) < len(busy):
        busy = [busy[cpu] for cpu in cpus]
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
    if n_threads is not None:
        return int(n_threads), "set"
    current, default = torch.get_num_threads(), default_threads()
    if current != default:
        return current, "yours"
    return max(1, min(default, idle_cores())), "idle"


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch intra-op threads, then restore the previous number (also on error)."""
    previous = torch.get_num_threads()
    if n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def threads_for(loaded, n_threads=None):
    """The threads to run ``loaded`` with: ``(context manager, number or None, reason or None)``.

    A model on the CPU (or any model, with ``n_threads`` given) runs the block with
    :func:`choose_threads`'s number; a model on a GPU keeps torch's setting.
    """
    if loaded.device_type != "cpu" and n_threads is None:
        return contextlib.nullcontext(), None, None
    number, reason = choose_threads(n_threads)
    return torch_threads(number), number, reason
