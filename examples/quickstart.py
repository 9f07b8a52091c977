"""Entropy profiles of a few prompts on the bundled SmolLM2, and a cross-validated classifier on them.
===================================================================================================

Run: ``python examples/quickstart.py`` (about a minute on 2 CPU cores, offline).
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_entropylens import EntropyProfileTransformer

topics = ["the sea", "a cat", "winter", "a city at night", "friendship", "the moon", "a garden", "trains"]
prompts = [f"Write a poem about {t}." for t in topics] + [f"Explain the physics of {t}." for t in topics]
labels = np.array([0] * len(topics) + [1] * len(topics))

profiler = EntropyProfileTransformer(n_tokens=16, memory="examples_cache")
profiles = profiler.fit_transform(prompts)
print("profiles:", profiles.shape, "- first block names:", list(profiler.get_feature_names_out()[:3]))
for label, name in enumerate(["poem", "physics"]):
    print(f"mean profile ({name}):", np.round(profiles[labels == label].mean(axis=0)[::5], 2))

pipe = make_pipeline(profiler, StandardScaler(), LogisticRegression(max_iter=1000))
scores = cross_val_score(pipe, prompts, labels, cv=4)  # profiles come from the per-prompt cache
print(f"4-fold accuracy, poem vs physics instruction: {scores.mean():.2f} +/- {scores.std():.2f}")
