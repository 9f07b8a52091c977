"""Skip the layers where entropy expands (or prunes) most and measure the damage to multiple-choice
accuracy, against a random-layer control of the same size (the paper's intervention experiment).

On the bundled SmolLM2 (30 blocks) and the built-in multiple-choice questions, scored by option
likelihood (SmolLM2 answers at chance when reading option letters). Run:
``python examples/layer_skipping.py`` (about 20 minutes on 2 CPU cores). Saves
``examples/figures/intervention.png`` (two blocks skipped).
"""

import pathlib

import pandas as pd

from sklearn_entropylens import InterventionScorer
from sklearn_entropylens.experiments._paper import intervention_figure
from sklearn_entropylens.datasets import load_multiple_choice

questions = load_multiple_choice(as_frame=True).frame
tables = {}
for n_skip in (1, 2, 4):
    scorer = InterventionScorer(n_skip=n_skip, n_random=10).fit(questions)
    if n_skip == 4:
        print("mean entropy profile, layers 0..30:", scorer.mean_profile_.round(2).tolist())
        print("delta H, blocks 1..30:", scorer.delta_entropy_.round(2).tolist())
    table = scorer.score_table(questions, questions["target"])
    tables[n_skip] = table
    if n_skip == 2:
        figure = intervention_figure(scorer, table)
        figure.savefig(pathlib.Path(__file__).parent / "figures" / "intervention.png", dpi=110)
    print(f"\nn_skip = {n_skip}: expansion layers {scorer.expansion_layers_.tolist()}, pruning layers {scorer.pruning_layers_.tolist()}")
    print(table.drop(columns="layers").round(3).to_string())

summary = pd.concat({n: t[["accuracy", "difference", "ci_low", "ci_high"]] for n, t in tables.items()}, names=["n_skip"])
print("\n" + summary.round(3).to_string())
for n, table in tables.items():
    expansion, pruning, random = (table.loc[s, "difference"] for s in ("expansion", "pruning", "random"))
    print(
        f"n_skip={n}: expansion hurts {'more' if expansion < pruning else 'less'} than pruning "
        f"({expansion:+.3f} vs {pruning:+.3f}) and {'more' if expansion < random else 'less'} than random ({random:+.3f})"
    )
