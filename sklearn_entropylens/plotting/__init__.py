"""Displays in scikit-learn's pattern: ``from_estimator``, ``from_profiles``, then ``plot(ax=)``."""

from ._displays import EntropyHeatmapDisplay, EntropyProfileDisplay, ProfileEmbeddingDisplay

__all__ = ["EntropyHeatmapDisplay", "EntropyProfileDisplay", "ProfileEmbeddingDisplay"]
