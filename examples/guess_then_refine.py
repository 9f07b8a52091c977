"""Guess-then-Refine on the bundled models, through the logit lens and a tuned lens.
=================================================================================

Gupta et al. (arXiv 2510.18871) find, with tuned lenses on GPT-2-XL, Pythia-6.9B and Llama-2/3, that
early layers propose high-frequency tokens that later layers refine, that function words are decided
earlier than content words, that the first token of a multi-token answer needs the most depth, and that
multiple-choice models find the option format before the answer. This script fits a tuned lens on the
first 100 built-in stories (or loads ``examples_cache/<model>-tuned-lens.skops`` from an earlier run)
and runs the four case studies on text the lens never saw, through both lenses
(:func:`~sklearn_entropylens.experiments.run_guess_then_refine`). It prints the table with 95 %
bootstrap intervals over prompts and saves ``examples/figures/guess_then_refine_<model>.png``.

What it does not show: the models are 135M and 270M parameters (the paper's are 1.5B-8B); the tuned
lens is trained on 15,000 positions of the bundled model's own stories (the paper's lenses on hundreds of
millions of tokens of the Pile); the frequency table is counted on those 100 stories (which no study
reads), not a large corpus; and the generated continuations are short.

Run: ``python examples/guess_then_refine.py [smollm2-135m|gemma3-270m]`` (SmolLM2: about 10 minutes on 2
idle CPU cores, most of it fitting the lens; Gemma-3 longer, its 262k-token vocabulary; offline).
"""

import pathlib
import sys
import time

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from sklearn_entropylens import dump, get_trusted_types, load
from sklearn_entropylens.experiments import run_guess_then_refine
from sklearn_entropylens.experiments._guess_refine import N_TRAINING_STORIES
from sklearn_entropylens.datasets import load_story_texts
from sklearn_entropylens import TunedLens

model = sys.argv[1] if len(sys.argv) > 1 else "smollm2-135m"
cache = pathlib.Path("examples_cache")
cache.mkdir(exist_ok=True)
lens_file = cache / f"{model}-tuned-lens.skops"
started = time.perf_counter()
lens = load(lens_file, trusted=get_trusted_types()) if lens_file.exists() else None
if lens is None or not hasattr(lens, "top_tokens_"):  # none yet, or fitted on the renormalised objective
    lens = TunedLens(model, progress=True).fit(load_story_texts()[:N_TRAINING_STORIES])
    dump(lens, lens_file)
print(f"tuned lens of {model}: {lens.n_epochs_} epochs, {lens.fit_time_:.0f} s to fit")
result = run_guess_then_refine(model=model, memory=str(cache), lens=lens)
pd.set_option("display.width", 200)
pd.set_option("display.max_colwidth", 80)
print(result.table.drop(columns="unit").round(3).to_string(index=False))
print(result.summary)
for study, finding in result.paper.items():
    print(f"paper, {study}: {finding}")
figures = pathlib.Path(__file__).parent / "figures"
result.figure.savefig(figures / f"guess_then_refine_{model}.png", dpi=110)
result.table.to_csv(cache / f"guess_then_refine_{model}.csv", index=False)
result.curves.to_csv(cache / f"guess_then_refine_curves_{model}.csv", index=False)
print(f"{time.perf_counter() - started:.0f} s in all")

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built. In the runs below SmolLM2 took 16 minutes on a busy
# machine, its tuned lens loaded from ``examples_cache`` (the fit time it prints, 514 s, is that of the lens's
# earlier fit; an idle run of the same studies took about a minute), and Gemma-3-270M 42 minutes, fitting its
# tuned lens (1,114 s) in the run. The output below is from its last recorded run; the first lines say when,
# at which commit, on which machine and with which command.
#
# SmolLM2-135M:
#
# .. literalinclude:: ../../examples/recorded/guess_then_refine_smollm2-135m.txt
#    :language: text
#
# Gemma-3-270M:
#
# .. literalinclude:: ../../examples/recorded/guess_then_refine_gemma3-270m.txt
#    :language: text
