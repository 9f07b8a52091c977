"""Profiles at a fixed thread count, for a bitwise comparison of two versions of the library (issue 34).

Run it with each version on the same machine (``python benchmarks/bitwise_identity.py out.npz`` from each
checkout, the second version's tuned lenses read from examples_cache/ as saved by the first), then
``python benchmarks/compare_bitwise.py before.npz after.npz``. Result of 2026-12-06 (9d7b1df against the
restructure, 2 threads, SmolLM2 and Gemma-3, six configurations each plus a tuned lens, 67 arrays):
``benchmarks/results/bitwise_identity_issue34.txt``.
"""
import sys, warnings, numpy as np, torch
torch.set_num_threads(2)
import sklearn_entropylens as sel
out = sys.argv[1]
prompts = ["The capital of France is", "Once upon a time", "def add(a, b):", "2 + 2 =", ""]
warnings.simplefilter("ignore")
arrays = {}
for model in ("smollm2-135m", "gemma3-270m"):
    configs = {
        "default": dict(n_tokens=4),
        "many": dict(n_tokens=3, statistics=["entropy", "kl_to_final", "final_token_rank", "top1_agreement", "top1_settled", "top_p_size", "top_p_overlap", "top1_frequency_rank"], aggregate="concat", include_embedding=True),
        "renyi": dict(n_tokens=2, alpha=[0, 0.5, 1, 5, float("inf")], log_base=2, normalize=True),
        "sites": dict(n_tokens=2, sites=("block", "attention", "mlp"), statistics=["entropy", "kl_to_final"]),
        "sampled": dict(n_tokens=4, temperature=0.8, random_state=3, aggregate=2),
        }
    if model == "smollm2-135m":
        configs["chat"] = dict(n_tokens=2, chat_template=True)
    for name, params in configs.items():
        fixed = {'n_threads': 2} if 'n_threads' in sel.EntropyProfileTransformer().get_params() else {}
        p = sel.EntropyProfileTransformer(model, **params, **fixed)
        arrays[f"{model}/{name}/features"] = p.fit_transform(prompts)
        for stat, m in p.statistic_matrices(prompts).items():
            arrays[f"{model}/{name}/raw/{stat}"] = m
        arrays[f"{model}/{name}/names"] = np.asarray(p.get_feature_names_out(), dtype=str)
    lens = sel.load(f"examples_cache/{model}-tuned-lens.skops")
    p = sel.EntropyProfileTransformer(model, n_tokens=3, lens=lens, statistics=["entropy", "kl_to_final"], **fixed)
    arrays[f"{model}/tuned/features"] = p.fit_transform(prompts)
np.savez(out, **arrays)
print(len(arrays), "arrays saved to", out)
