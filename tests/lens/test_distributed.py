"""Profiling across processes: joblib's loky workers and a Dask LocalCluster, offline on this machine.

Worker processes run torch with one thread each (Dask's nanny and loky both set it), and float32 GEMMs
round differently with one thread than with two, so the single-process runs compared against use one
thread too: the results are then identical bit for bit.
"""

import os

import joblib
import numpy as np
import pytest
import torch

from sklearn_entropylens import EntropyProfileTransformer, get_profile_counters, reset_profile_counters
from sklearn_entropylens.testing import register_tiny_model, save_tiny_model

distributed = pytest.importorskip("distributed")

# Three shards of 64 prompts and one of 8, of varied lengths, some repeated.
PROMPTS = [f"prompt {i} " * (1 + i % 7) for i in range(190)] + ["repeated"] * 10


@pytest.fixture(scope="module")
def tiny_directory(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local, distributed.Client(local) as client:
        yield client


def _profiler(model, **params):
    return EntropyProfileTransformer(model, n_tokens=4, aggregate="concat", **params).fit(PROMPTS)


def test_dask_matches_one_process_in_input_order(tiny_directory, cluster, one_thread, tmp_path):
    profiler = _profiler(tiny_directory, memory=str(tmp_path))
    expected = _profiler(tiny_directory).transform(PROMPTS)
    order = np.random.default_rng(0).permutation(len(PROMPTS))
    shuffled = [PROMPTS[i] for i in order]
    reset_profile_counters()
    with joblib.parallel_config(backend="dask"):
        assert joblib.effective_n_jobs(None) == 2
        X = profiler.transform(shuffled)
    np.testing.assert_array_equal(X, expected[order])
    # Every distinct prompt was profiled once, on the workers; the parent wrote the cache.
    assert get_profile_counters()["computed"] == len(set(PROMPTS))
    reset_profile_counters()
    np.testing.assert_array_equal(profiler.transform(PROMPTS), expected)
    assert get_profile_counters()["computed"] == 0


def test_each_worker_loads_the_model_once(tiny_directory, cluster):
    from sklearn_entropylens.models import _spec

    def loaded_models():
        return sorted(loaded.name for loaded in _spec._CACHE.values())

    profiler = _profiler(tiny_directory)
    with joblib.parallel_config(backend="dask"):
        profiler.transform(PROMPTS)
        profiler.transform(PROMPTS[::-1])
    for models in cluster.run(loaded_models).values():
        assert models.count(tiny_directory) == 1


class _KillFirstTask(distributed.WorkerPlugin):
    """Kill the worker process the first time any task starts executing (a lost machine)."""

    def __init__(self, marker):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)


def test_a_worker_lost_mid_run_is_retried(tiny_directory, one_thread, tmp_path):
    expected = _profiler(tiny_directory).transform(PROMPTS)
    marker = tmp_path / "killed"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local, distributed.Client(local) as client:
        client.register_plugin(_KillFirstTask(str(marker)))
        reset_profile_counters()
        with joblib.parallel_config(backend="dask"):
            X = _profiler(tiny_directory).transform(PROMPTS)
    assert marker.exists()
    np.testing.assert_array_equal(X, expected)
    assert get_profile_counters()["computed"] == len(set(PROMPTS))


def test_loky_processes_match_one_process(tiny_directory, one_thread):
    expected = _profiler(tiny_directory).transform(PROMPTS)
    np.testing.assert_array_equal(_profiler(tiny_directory, n_jobs=2).transform(PROMPTS), expected)


def test_registered_models_are_profiled_in_this_process():
    name = register_tiny_model("llama")
    expected = _profiler(name).transform(PROMPTS)
    np.testing.assert_array_equal(_profiler(name, n_jobs=2).transform(PROMPTS), expected)


def test_threads_sharing_a_model_take_turns(tiny_directory):
    expected = _profiler(tiny_directory).transform(PROMPTS)
    with joblib.parallel_config(backend="threading", n_jobs=4):
        results = joblib.Parallel()(joblib.delayed(_profiler(tiny_directory).transform)(PROMPTS) for _ in range(4))
    for X in results:
        np.testing.assert_allclose(X, expected, atol=1e-5)
