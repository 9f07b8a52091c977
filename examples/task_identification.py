"""Task identification (continuation / counting / semantic) from entropy profiles on the bundled
SmolLM2, with the paper's protocol: 10-fold stratified ROC-AUC against a stratified dummy, paired t-test.

Run: ``python examples/task_identification.py`` (about 15 minutes on 2 CPU cores the first time;
profiles are cached in ``examples_cache``). Saves ``examples/figures/tasks.png``.
"""

import pathlib

from sklearn_entropylens import run_experiment

result = run_experiment("tasks", memory="examples_cache")  # 24 stories x 6 tasks x 4 variants = 576 prompts
print(result.table.round(3).to_string(index=False))
print(f"tasks: {result.summary}\npaper: {result.paper}")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "tasks.png", dpi=110)
