"""The runner owns torch's thread count while it profiles: given, the user's, or the idle cores."""

import torch

from sklearn_entropylens import EntropyProfileTransformer
from sklearn_entropylens.lens import _threads
from sklearn_entropylens.lens._threads import choose_threads, default_threads, torch_threads


def test_a_given_number_is_used_as_it_is():
    assert choose_threads(3) == (3, "set")


def test_a_number_the_user_set_is_kept(monkeypatch):
    monkeypatch.setattr(_threads, "default_threads", lambda: 4)
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert choose_threads(None) == (3, "yours")
    finally:
        torch.set_num_threads(previous)


def test_by_default_the_idle_cores_are_used(monkeypatch):
    monkeypatch.setattr(_threads, "default_threads", lambda: torch.get_num_threads())
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [100.0, 3.0])
    assert choose_threads(None) == (1, "idle")  # one core busy beside us: one thread
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [100.0, 100.0])
    assert choose_threads(None) == (1, "idle")  # never fewer than one
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval, percpu: [0.0] * 64)
    assert choose_threads(None) == (torch.get_num_threads(), "idle")  # never more than torch's default


def test_the_thread_count_is_restored_after_the_call():
    previous = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == previous
    assert default_threads() >= 1


def test_profiling_sets_the_threads_for_the_call_and_says_so(tiny_llama, monkeypatch, capsys):
    from sklearn_entropylens.lens import _decode

    seen = []
    real = _decode.decode_batches

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr("sklearn_entropylens.lens._runner.decode_batches", recording)
    previous = torch.get_num_threads()
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, n_threads=1, progress=True).fit(["a"])
    profiler.transform(["a", "b"])
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == previous
    assert "1 thread (n_threads)" in capsys.readouterr().err
