"""What the feature study's statistics cost over the entropy alone, on the PERFORMANCE.md workload.

Run with ``python -m pytest benchmarks/test_study_speed.py`` (about 2 minutes on 2 cores). Three
profiles of the same 8 prompts x 32 greedy tokens, timed in one run (minimum over rounds):

- entropy: the Shannon entropy alone (the benchmark of ``test_profile_speed.py``);
- Renyi list: ``alpha=[0.5, 1, 5]``, the paper's format features, in one pass;
- study: the Renyi list plus KL to the final layer, the final token's rank and the top-p set size (the
  statistics of :mod:`sklearn_entropylens.experiments._study`; top-p needs whole vocabulary rows).

The ratios to the entropy alone go to ``benchmarks/results/<device>.json`` under ``study``.
"""

import pytest

from conftest import N_TOKENS, WORKLOAD_PROMPTS

from sklearn_entropylens import EntropyProfileTransformer

SETTINGS = {
    "entropy": {"statistics": ["entropy"], "alpha": 1.0},
    "renyi_list": {"statistics": ["entropy"], "alpha": [0.5, 1, 5]},
    "study": {"statistics": ["entropy", "kl_to_final", "final_token_rank", "top_p_size"], "alpha": [0.5, 1, 5]},
}
TIMES = {}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_profile_with_statistics(benchmark, loaded, results, name):
    profiler = EntropyProfileTransformer(n_tokens=N_TOKENS, aggregate="concat", **SETTINGS[name]).fit(WORKLOAD_PROMPTS)
    profiler.transform(WORKLOAD_PROMPTS)  # warm-up
    X = benchmark.pedantic(profiler.transform, args=(WORKLOAD_PROMPTS,), rounds=3, iterations=1)
    assert X.shape[0] == 8 and X.shape[1] % (N_TOKENS * 30) == 0
    TIMES[name] = benchmark.stats.stats.min
    study = results.setdefault("study", {})
    study[f"{name}_seconds"] = round(TIMES[name], 3)
    study[f"{name}_ms_per_prompt_token"] = round(1000 * TIMES[name] / (8 * N_TOKENS), 1)
    if "entropy" in TIMES and name != "entropy":
        study[f"{name}_over_entropy"] = round(TIMES[name] / TIMES["entropy"], 2)
