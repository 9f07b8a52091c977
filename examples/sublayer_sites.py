"""Entropy through the lens at three sites of every SmolLM2 block: the stream, the attention and the MLP.
======================================================================================================

Each block of a transformer adds its attention output and then its MLP output to the residual stream.
``sites=("block", "attention", "mlp")`` reads all three through the same logit lens (the model's final
norm and unembedding), as TriLens (arXiv 2606.01033) does. On the built-in story-task prompts this prints
the mean entropy per site and depth, and saves ``examples/figures/sublayer_sites.png``: one panel per
site, one line per task, with 95 % bands over prompts.

What it does not show: a sublayer's output is not a residual stream, so the final norm is applied to a
vector it was not trained on; its entropy says how committed that sublayer's own write is under the
model's unembedding, not what the model predicts at that depth. The numbers are of one small model.

Run: ``python examples/sublayer_sites.py`` (a few minutes on 2 idle CPU cores, offline; its profiles are
cached in ``examples_cache``).
"""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sklearn_entropylens import EntropyProfileDisplay, EntropyProfileTransformer
from sklearn_entropylens.datasets import load_story_tasks

SITES = ("block", "attention", "mlp")

stories = load_story_tasks(n_stories=12)  # 12 stories x 6 task questions x 4 variants
prompts, tasks = stories.data, stories.target_names[stories.target]
profiler = EntropyProfileTransformer(n_tokens=8, sites=SITES, memory="examples_cache", progress=True)
X = profiler.fit_transform(prompts)
layout = profiler.feature_layout_
print(f"{len(prompts)} prompts, features {X.shape[1]}: {layout.groups}")
print(f"sublayers found: {profiler.load().adapter.paths['attention'][0]}, {profiler.load().adapter.paths['mlp'][0]}, ...")

values = layout.split(X)  # (prompts, groups, layers)
depth_marks = [0, len(layout.layers) // 4, len(layout.layers) // 2, 3 * len(layout.layers) // 4, len(layout.layers) - 1]
print("mean entropy (nats) at blocks", [int(layout.layers[k]) for k in depth_marks])
for group, name in enumerate(layout.groups):
    print(f"  {name:>18}: {np.round(values[:, group].mean(axis=0)[depth_marks], 2)}")

figure, axes = plt.subplots(1, len(SITES), figsize=(4.2 * len(SITES), 3.6), sharey=True)
for ax, site in zip(axes, SITES):
    statistic = "entropy" if site == "block" else f"{site}_entropy"
    EntropyProfileDisplay.from_profiles(X, tasks, layout=layout, statistic=statistic, unit="nats", band="ci",
                                        n_tokens=profiler.n_tokens, ax=ax, shade_phases=False)
    ax.set_title(f"{site} site: {statistic}")
figure.suptitle("SmolLM2-135M: lens entropy of the stream and of each sublayer's output, per task")
figure.tight_layout()
# sphinx-gallery runs the script from its own folder, without __file__.
here = pathlib.Path(__file__).parent if "__file__" in globals() else pathlib.Path.cwd()
path = here / "figures" / "sublayer_sites.png"
figure.savefig(path, dpi=120)
print("saved", path)
