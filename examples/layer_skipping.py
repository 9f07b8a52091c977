"""Skip the layers where entropy expands (or prunes) most and measure the damage to multiple-choice accuracy, against a random-layer control of the same size (the paper's intervention experiment).
=================================================================================================================================================================================================

On the bundled SmolLM2 (30 blocks) and the 206 built-in multiple-choice questions, scored by option
likelihood (SmolLM2 answers at chance when reading option letters). Two things keep the comparison
honest:

- cross-fitting: each fifth of the questions is scored with the blocks chosen (from the mean entropy
  profile, no labels) on the other four fifths' prompts, so no question helps choose its own blocks;
- ``min_block``: block 1 always "expands" most (its change is measured against the embedding layer's
  near-zero lens entropy) and the first block is critical in any transformer, so the default choice and
  the random control both start at block 2. The table is printed with block 1 allowed (``min_block=1``,
  the paper's choice) and without it.

Each strategy's damage is also compared with the random control's question by question
(``minus_random``), with a bootstrap interval that resamples the questions and the random draws together.

Run: ``python examples/layer_skipping.py`` (about 45 minutes on 2 idle CPU cores). Saves
``examples/figures/intervention.png`` (two blocks skipped, from block 2).
"""

import argparse
import pathlib
import time

import pandas as pd

from sklearn_entropylens import EntropyProfileTransformer, InterventionScorer
from sklearn_entropylens.experiments._paper import intervention_figure
from sklearn_entropylens.datasets import load_multiple_choice

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--n-skip", type=int, nargs="+", default=[1, 2, 4], help="numbers of blocks skipped")
args = parser.parse_args()

started = time.perf_counter()
questions = load_multiple_choice(as_frame=True).frame
tables = {}
for min_block in (2, 1):
    for n_skip in args.n_skip:
        scorer = InterventionScorer(EntropyProfileTransformer(n_tokens=8, memory="examples_cache"), n_skip=n_skip,
                                    min_block=min_block, n_random=10)
        table = scorer.score_table(questions, questions["target"], cv=5)
        tables[min_block, n_skip] = table
        print(f"\nmin_block = {min_block}, n_skip = {n_skip} (cross-fitted, 5 folds; layers per fold):")
        print(table.drop(columns="layers").round(3).to_string())
        print("expansion blocks per fold:", table.loc["expansion", "layers"])
        print("pruning blocks per fold:", table.loc["pruning", "layers"])
        if (min_block, n_skip) == (2, 2):
            scorer.fit(questions)
            print("mean entropy profile, layers 0..30:", [round(float(v), 2) for v in scorer.mean_profile_])
            print("delta H, blocks 1..30:", [round(float(v), 2) for v in scorer.delta_entropy_])
            figure = intervention_figure(scorer, table)
            figure.savefig(pathlib.Path(__file__).parent / "figures" / "intervention.png", dpi=110)
        print(f"[{time.perf_counter() - started:.0f} s]", flush=True)

summary = pd.concat({key: t[["accuracy", "accuracy_std", "difference", "ci_low", "ci_high", "minus_random",
                               "minus_random_ci_low", "minus_random_ci_high"]] for key, t in tables.items()},
                    names=["min_block", "n_skip"])
print("\n" + summary.round(3).to_string())
for (min_block, n_skip), table in tables.items():
    expansion, pruning, random = (table.loc[s, "difference"] for s in ("expansion", "pruning", "random"))
    paired = {s: (table.loc[s, "minus_random"], table.loc[s, "minus_random_ci_low"], table.loc[s, "minus_random_ci_high"])
              for s in ("expansion", "pruning")}
    print(
        f"min_block={min_block}, n_skip={n_skip}: expansion {expansion:+.3f}, pruning {pruning:+.3f}, random "
        f"{random:+.3f}; paired, questions and draws resampled together: expansion - random "
        "{:+.3f} [{:+.3f}, {:+.3f}], pruning - random {:+.3f} [{:+.3f}, {:+.3f}]".format(*paired["expansion"],
                                                                                       *paired["pruning"])
    )
print(f"total {time.perf_counter() - started:.0f} s")

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built (the two runs below took 17 and 6 minutes on 2 CPU
# cores). The output below is from its last recorded run; the first lines say when, at which commit, on which
# machine and with which command.
#
# One and two blocks skipped:
#
# .. literalinclude:: ../../examples/recorded/layer_skipping_n-skip-1-2.txt
#    :language: text
#
# Four blocks skipped:
#
# .. literalinclude:: ../../examples/recorded/layer_skipping_n-skip-4.txt
#    :language: text
