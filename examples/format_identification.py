"""Output-format identification (chat log / poem / scientific piece) from windowed entropy profiles on the bundled SmolLM2.
========================================================================================================================

The protocol (:func:`~sklearn_entropylens.evaluate_profile_classifier`): 10 folds grouped by topic (a
topic's three instructions never straddle training and test), ROC-AUC against a stratified dummy on the
same folds, corrected resampled t-test and intervals; the paper's kNN on raw nats beside it. The paper
profiles 256 greedy tokens in 8 windows (``examples/feature_study.py formats --paper-scale`` runs
that); 32 tokens in 4 windows keeps this to a few minutes on a CPU.

Run: ``python examples/format_identification.py`` (about 8 minutes on 2 CPU cores the first time;
profiles are cached in ``examples_cache``). Saves ``examples/figures/formats.png``.
"""

import pathlib
import time

from sklearn_entropylens import run_experiment

started = time.perf_counter()
result = run_experiment("formats", memory="examples_cache")  # 175 topics x 3 formats
print(result.table.round(3).to_string(index=False))
print(f"formats: {result.summary}\npaper: {result.paper}   [{time.perf_counter() - started:.0f} s]")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "formats.png", dpi=110)

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built (7 min 42 s on 2 CPU cores in the run below). The
# output below is from its last recorded run; the first lines say when, at which commit, on which machine and
# with which command.
#
# .. literalinclude:: ../../examples/recorded/format_identification.txt
#    :language: text
