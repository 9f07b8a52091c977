"""Task identification (continuation / counting / semantic) from entropy profiles on the bundled
SmolLM2, with the paper's protocol: 10-fold stratified ROC-AUC against a stratified dummy, paired t-test.

Run: ``python examples/task_identification.py`` (about 15 minutes on 2 CPU cores the first time;
profiles are cached in ``examples_cache``).
"""

from sklearn_entropylens import TaskClassifier, evaluate_profile_classifier
from sklearn_entropylens.datasets import load_story_tasks

stories = load_story_tasks(n_stories=24)  # 24 stories x 6 tasks x 4 variants = 576 prompts
classifier = TaskClassifier().set_params(profiler__memory="examples_cache")
result = evaluate_profile_classifier(classifier, stories.data, stories.target)
print(result.folds.round(3).to_string(index=False))
summary = result.summary
print(
    f"ROC-AUC {summary['auc_mean']:.3f} +/- {summary['auc_std']:.3f} (dummy {summary['dummy_auc_mean']:.3f}), "
    f"accuracy {summary['accuracy_mean']:.3f} (dummy {summary['dummy_accuracy_mean']:.3f}), "
    f"paired t = {summary['t_statistic']:.1f}, p = {summary['p_value']:.1e}"
)
