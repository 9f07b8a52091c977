"""The runner owns torch's thread count while it profiles: given, the user's, or the idle cores."""

import pytest
import torch

from sklearn_entropylens import EntropyProfileTransformer
from sklearn_entropylens.lens import _threads
from sklearn_entropylens.lens._threads import choose_threads, torch_threads


def _another_count():
    """A thread count other than the current one, so that setting it is visible."""
    return 1 if torch.get_num_threads() != 1 else 2


def test_a_given_number_is_used_as_it_is():
    assert choose_threads(3) == (3, "set")


def test_a_number_the_user_set_is_kept():
    previous = torch.get_num_threads()
    torch.set_num_threads(_another_count())
    try:
        assert choose_threads(None) == (torch.get_num_threads(), "yours")
    finally:
        torch.set_num_threads(previous)


def test_by_default_the_idle_cores_are_used(monkeypatch):
    monkeypatch.setattr(_threads, "_THREADS_AT_IMPORT", torch.get_num_threads())
    monkeypatch.setattr(_threads, "_usable_cpus", lambda: None)
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [100.0, 3.0])
    assert choose_threads(None) == (1, "idle")  # one core busy beside us: one thread
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [100.0, 100.0])
    assert choose_threads(None) == (1, "idle")  # never fewer than one
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [0.0] * 64)
    assert choose_threads(None) == (torch.get_num_threads(), "idle")  # never more than torch had at import


def test_only_the_cores_this_process_may_use_are_counted(monkeypatch):
    monkeypatch.setattr(_threads, "_usable_cpus", lambda: [2, 3])
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [0.0, 0.0, 100.0, 0.0])
    assert _threads.idle_cores() == 1


def test_the_thread_count_is_restored_after_the_call_and_after_an_error():
    previous, other = torch.get_num_threads(), _another_count()
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == previous
    with pytest.raises(RuntimeError), torch_threads(other):
        raise RuntimeError("a batch failed")
    assert torch.get_num_threads() == previous


@pytest.fixture
def threads_seen_while_decoding(monkeypatch):
    from sklearn_entropylens.lens import _runner

    seen = []
    real = _runner.decode_batches

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(_runner, "decode_batches", recording)
    return seen


def test_profiling_sets_the_threads_for_the_call_and_says_so(tiny_llama, threads_seen_while_decoding, capsys):
    previous, other = torch.get_num_threads(), _another_count()
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, n_threads=other, progress=True).fit(["a"])
    profiler.transform(["a", "b"])
    assert threads_seen_while_decoding and set(threads_seen_while_decoding) == {other}
    assert torch.get_num_threads() == previous
    assert f"{other} thread{'s' if other > 1 else ''} (n_threads)" in capsys.readouterr().err


def test_a_number_set_with_torch_is_what_profiling_uses(tiny_llama, threads_seen_while_decoding, capsys, monkeypatch):
    monkeypatch.setattr(_threads, "_THREADS_AT_IMPORT", 2)
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        EntropyProfileTransformer(tiny_llama, n_tokens=2, progress=True).fit(["a"]).transform(["c"])
        assert set(threads_seen_while_decoding) == {3}
        assert "3 threads (torch.set_num_threads)" in capsys.readouterr().err
    finally:
        torch.set_num_threads(previous)
