"""The paper's experiments and evaluation protocol (Ali et al., arXiv 2502.16570).

:func:`evaluate_profile_classifier` is the protocol of the prompt classifiers (stratified folds,
profiles computed once, a dummy baseline scored on the same folds); :func:`run_experiment` runs one of
:data:`EXPERIMENTS` end to end and returns its scores, baselines and figure;
:func:`run_fact_correctness` asks whether the profile adds to the output's own confidence on the fact bank.
"""

from ._fact_correctness import run_fact_correctness
from ._guess_refine import run_guess_then_refine
from ._paper import EXPERIMENTS, protocol_summary, run_experiment
from ._protocol import evaluate_profile_classifier, held_out_condition_folds, within_fold_category_auc

__all__ = ["EXPERIMENTS", "evaluate_profile_classifier", "held_out_condition_folds", "within_fold_category_auc",
           "protocol_summary", "run_experiment", "run_fact_correctness", "run_guess_then_refine"]
