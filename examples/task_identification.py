"""Task identification (continuation / counting / semantic) from entropy profiles on the bundled SmolLM2.
======================================================================================================

The protocol (:func:`~sklearn_entropylens.evaluate_profile_classifier`): 8 folds grouped by story (a
story's 24 prompts never straddle training and test), ROC-AUC against a stratified dummy on the same
folds, corrected resampled t-test and intervals. Beside it: the paper's kNN on raw nats (no scaler), and
the held-out wording (trained on one of the two questions of each task class, tested on the other, on
unseen stories), which asks whether the classifier learned the task or the question's own fingerprint.

Run: ``python examples/task_identification.py`` (about 5 minutes on 2 CPU cores the first time;
profiles are cached in ``examples_cache``). Saves ``examples/figures/tasks.png``.
"""

import pathlib
import time

from sklearn_entropylens import run_experiment

started = time.perf_counter()
result = run_experiment("tasks", memory="examples_cache")  # 24 stories x 6 tasks x 4 variants = 576 prompts
print(result.table.round(3).to_string(index=False))
print(f"tasks: {result.summary}\npaper: {result.paper}   [{time.perf_counter() - started:.0f} s]")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "tasks.png", dpi=110)

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built (4 min 32 s on 2 CPU cores in the run below). The
# output below is from its last recorded run; the first lines say when, at which commit, on which machine and
# with which command.
#
# .. literalinclude:: ../../examples/recorded/task_identification.txt
#    :language: text
