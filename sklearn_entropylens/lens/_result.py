"""The engine's result: per-position, per-layer statistics of prompts' continuations.

A :class:`ProfileResult` is what the engine returns, the cache stores (row by row) and the transformer
aggregates (through its :class:`~._layout.FeatureLayout`): one float64 array ``values`` of shape
(samples, statistics, positions, layers) with the generated tokens.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

@dataclass(frozen=True, eq=False)
class ProfileResult:
    """Per-position, per-layer statistics of prompts' continuations.

    What the engine returns before any aggregation or unit conversion: one raw value per sample,
    statistic, profiled position and layer, in nats for entropies and KL whatever the estimator's
    ``log_base`` and ``normalize``. :meth:`EntropyProfileTransformer.profile_tokens
    <sklearn_entropylens.EntropyProfileTransformer.profile_tokens>` returns one with the tokens read at
    each position, to line a profile up with its text; index it by a statistic's name for that
    statistic's (samples, positions, layers) array. Position 0 reads the last prompt token, position
    ``t`` the ``t``-th generated token. Results served from the profile cache carry statistics only
    (``tokens`` is None).

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_statistics, n_tokens, n_layers)
        Float64 raw statistics (entropies and KL in nats) of layer ``layers[l]`` at position ``t``.
    statistics : tuple of str
        The statistic of each entry of axis 1.
    layers : ndarray of shape (n_layers,)
        Layer indices: 0 is the embedding layer, ``l`` the output of block ``l``.
    tokens : ndarray of shape (n_samples, n_tokens) or None
        The generated token ids (token ``t`` is chosen at position ``t``); None when served from a
        cache, which keeps statistics only.
    prompt_token_ids : list of list of int or None
        The prompts' token ids, when known.
    token_text : list of list of str or None
        Per sample, the text of the token read at each position, when asked for
        (:meth:`EntropyProfileTransformer.profile_tokens`).

    See Also
    --------
    sklearn_entropylens.EntropyProfileTransformer.profile_tokens : One prompt's result with its tokens.
    sklearn_entropylens.EntropyProfileTransformer.statistic_matrices : The raw values of prompts by statistic.
    ProfileSpec : Everything that determines a result's values.
    convert_units : Convert raw entropies in nats to bits or fractions of ``log V``.

    Examples
    --------
    On a tiny random three-block model with a byte-level tokenizer (one token per byte):

    >>> from sklearn_entropylens import EntropyProfileTransformer
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> profiler = EntropyProfileTransformer(register_tiny_model("llama"), n_tokens=3).fit(["The cat"])
    >>> result = profiler.profile_tokens("The cat")
    >>> result.values.shape, result.statistics, result.layers
    ((1, 1, 3, 3), ('entropy',), array([1, 2, 3]))
    >>> result["entropy"].shape  # (samples, positions, layers), in nats
    (1, 3, 3)
    >>> result.token_text[0][0]  # position 0 reads the last prompt token
    't'
    >>> result.read_tokens()[1:] == result.tokens[0][:-1].tolist()  # then the generated ones
    True
    """

    values: np.ndarray
    statistics: tuple
    layers: np.ndarray
    tokens: object = None
    prompt_token_ids: object = None
    token_text: object = None

    def with_token_text(self, token_text):
        """A copy carrying the text of the tokens read at each position.

        Parameters
        ----------
        token_text : list of list of str
            Per sample, the text of the token read at each position.

        Returns
        -------
        result : ProfileResult
            A copy with ``token_text`` set.
        """
        return dataclasses.replace(self, token_text=token_text)

    def __getitem__(self, statistic):
        """The (samples, positions, layers) values of one statistic."""
        if statistic not in self.statistics:
            raise KeyError(f"{statistic!r} is not among the profiled statistics {self.statistics}.")
        return self.values[:, self.statistics.index(statistic)]

    def as_dict(self):
        """The values of each statistic.

        Returns
        -------
        values : dict of str -> ndarray of shape (n_samples, n_tokens, n_layers)
            Raw values (entropies and KL in nats) by statistic.
        """
        return {name: self[name] for name in self.statistics}

    def read_tokens(self, sample=0):
        """Token ids read at each position of one sample: the last prompt token, then the generated ones.

        Position 0 reads the last prompt token; position ``t`` the ``t``-th generated token.

        Parameters
        ----------
        sample : int, default=0
            Which sample.

        Returns
        -------
        tokens : list of int
            One token id per position.
        """
        if self.tokens is None or self.prompt_token_ids is None:
            raise ValueError("This result does not carry its tokens (profiles served from a cache do not).")
        return [int(self.prompt_token_ids[sample][-1])] + [int(token) for token in self.tokens[sample][:-1]]
