"""Displays in scikit-learn's pattern: ``from_estimator``, ``from_profiles``, then ``plot(ax=)``.

Each display keeps the numbers it draws as attributes, draws on a given or new matplotlib axes, and
exposes the artists (``ax_``, ``figure_`` and the lines, bands or points) for further styling; its
arguments beyond the data are keywords, and styling passed to matplotlib goes through named dicts
(``line_kwargs``, ``band_kwargs``, ``imshow_kwargs``, ``scatter_kwargs``).

matplotlib is optional (``pip install 'sklearn-entropylens[plot]'``): importing this package does not
import it, and every drawing method raises scikit-learn's ImportError when it is missing.
"""

from ._base import pyplot
from ._embedding_display import ProfileEmbeddingDisplay
from ._heatmap_display import EntropyHeatmapDisplay
from ._profile_display import EntropyProfileDisplay

__all__ = ["EntropyHeatmapDisplay", "EntropyProfileDisplay", "ProfileEmbeddingDisplay", "pyplot"]
