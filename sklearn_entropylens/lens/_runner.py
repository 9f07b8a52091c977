"""The runner: from prompts to a :class:`~._result.ProfileResult`, each prompt computed at most once.

It owns every decision between the estimator and the decode loop, in this order: de-duplication
(identical greedy prompts share one profile), the per-prompt cache, encoding, the canonical batching
order, the plan (batch size and lens tiles, from free memory), sharding into whole batches, where the
shards run (here, or on joblib's or Dask's workers) and the progress bar.
"""

import contextlib

import joblib
import numpy as np
from tqdm.auto import tqdm

from . import _cache
from ._decode import decode_batches
from ._encoding import canonical_order, encode_prompts
from ._lens import LogitLens
from ._memory import plan_engine
from ._result import ProfileResult
from ._registry import expand_statistics, needs_whole_rows, records_embedding
from ._spec import ProfileSpec
from ._threads import threads_for

# On joblib's workers, about this many prompts are profiled between two writes to the per-prompt cache
# (each shard pays a model load there). Here, every batch is written as it finishes: a long run that is
# killed loses one batch at most.
CHECKPOINT_PROMPTS = 64
# What the progress bar says about the number of torch threads.
_THREAD_REASONS = {"set": "n_threads", "yours": "torch.set_num_threads", "idle": "idle cores"}


def plan_profiling(loaded, token_ids, spec, *, batch_size="auto", vocab_chunk="auto"):
    """The batch size and lens tiles for these prompts (see :func:`~._memory.plan_engine`)."""
    n_lens = loaded.n_layers - 1 + int(records_embedding(spec.include_embedding, spec.statistics))
    n_lens += len(spec.sublayer_sites) * loaded.n_layers
    return plan_engine(
        loaded,
        prompt_length=max((len(ids) for ids in token_ids), default=1),
        n_tokens=spec.n_tokens,
        n_lens=n_lens,
        whole_rows=needs_whole_rows(spec.statistics),
        batch_size=batch_size,
        vocab_chunk=vocab_chunk,
    )


def _batches(order, batch_size):
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def profile_token_ids(loaded, token_ids, *, n_tokens, statistics=("entropy",), alpha=1.0, top_p=0.6,
                      include_embedding=False, temperature=0.0, seeds=None, batch_size="auto", vocab_chunk="auto",
                      on_batch=None, lens=None, sites=("block",), frequency_ranks=None):
    """Profile already-encoded prompts in this process: plan, canonical order, decode loop; no cache.

    The engine below the runner, for checked values (tests, the float64 oracle's comparisons, and the
    tuned lens's fit): it builds the :class:`~._spec.ProfileSpec` of these values without a model
    specification, since nothing is cached or run elsewhere.

    Parameters
    ----------
    loaded : LoadedModel
        The model, tokenizer and adapter.
    token_ids : list of list of int
        Prompt token ids (see :func:`~._encoding.encode_prompts`).
    n_tokens, statistics, alpha, top_p, include_embedding, temperature, sites, frequency_ranks
        As :class:`~._spec.ProfileSpec` (``statistics`` before the expansion by a list of orders ``alpha``).
    seeds : sequence of int or None, default=None
        One seed per prompt for sampling; a prompt's tokens depend only on its own seed.
    batch_size, vocab_chunk : int or "auto", default="auto"
        Prompts per forward pass and vocabulary columns per lens tile; ``"auto"`` chooses from the free
        memory. A batch that runs out of GPU memory is retried in halves.
    on_batch : callable or None, default=None
        Called with the number of prompts finished after each batch.
    lens : Lens or None, default=None
        The lens; the logit lens of the model when None.

    Returns
    -------
    result : ProfileResult
        Values of shape (n_prompts, n_statistics, n_tokens, n_layers) and the generated tokens.
    """
    alpha = tuple(float(order) for order in alpha) if isinstance(alpha, (list, tuple)) else float(alpha)
    spec = ProfileSpec(model=None, model_revision=loaded.revision, dtype=loaded.dtype_name,
                       device_type=loaded.device_type, n_tokens=n_tokens,
                       statistics=expand_statistics(tuple(statistics), alpha), alpha=alpha, top_p=top_p,
                       include_embedding=include_embedding, temperature=temperature, sites=tuple(sites),
                       frequency_ranks=frequency_ranks)
    spec.check_model(loaded)
    seeds = [0] * len(token_ids) if seeds is None else list(seeds)
    plan = plan_profiling(loaded, token_ids, spec, batch_size=batch_size, vocab_chunk=vocab_chunk)
    batches = _batches(canonical_order(token_ids, seeds), plan.batch_size)
    lens = LogitLens(loaded.adapter) if lens is None else lens
    values, tokens = decode_batches(loaded, lens, token_ids, seeds, batches, spec, plan, on_batch)
    return ProfileResult(values, spec.result_statistics, spec.layers(loaded.n_layers), tokens, list(token_ids))


def make_lens(adapter, translators=None):
    """The logit lens of a model, or its tuned lens when ``translators`` (a :class:`~._tuned.Translators`) are given."""
    return LogitLens(adapter) if translators is None else translators.lens(adapter)


def profile_shard(spec, token_ids, seeds, batches, plan):
    """Statistics of one shard of prompts, on whatever process runs it (a joblib or Dask worker).

    The model is loaded through the worker's own per-process cache (``spec.model.load()``), so each worker
    loads it once; the engine is handed the model specification, never imports the loading code.
    """
    loaded = spec.model.load()
    if loaded.revision != spec.model_revision:
        raise ValueError(
            f"A worker loaded {loaded.name!r} at revision {loaded.revision!r}, but the profiles were fitted at "
            f"{spec.model_revision!r}: give every worker the same model files (or pin the revision)."
        )
    return decode_batches(loaded, make_lens(loaded.adapter, spec.translators), token_ids, seeds, batches, spec, plan)


def _reporting(results, sizes, on_batch):
    """Yield shard results, reporting each shard's size as it arrives."""
    for result, size in zip(results, sizes):
        on_batch(size)
        yield result


def occurrence_numbers(prompts):
    """For each prompt, how many identical prompts precede it."""
    seen, occurrences = {}, []
    for prompt in prompts:
        occurrences.append(seen.get(prompt, 0))
        seen[prompt] = occurrences[-1] + 1
    return occurrences


def sampling_seeds(prompts, base_seed):
    """Per-prompt sampling seeds: a hash of the base seed, the prompt and its occurrence number.

    A prompt's continuation then depends on the seed, the prompt and how many identical prompts precede
    it, never on batching or on the other prompts.
    """
    return [int(joblib.hash((base_seed, prompt, k))[:15], 16) for prompt, k in zip(prompts, occurrence_numbers(prompts))]


class ProfileRunner:
    """Profile prompts with a loaded model, through the cache and across workers.

    Parameters
    ----------
    loaded : LoadedModel
        The model, in this process (the one ``spec.model`` loads).
    spec : ProfileSpec
        What to compute, and the model workers load.
    batch_size, vocab_chunk : int or "auto"
        As in the plan.
    n_jobs : int or None
        Worker processes, through joblib (None: 1 unless in a ``parallel_config`` context).
    n_threads : int or None
        torch threads while decoding here; None chooses (see :func:`~._threads.choose_threads`).
    store : ProfileStore or None
        The per-prompt cache, under ``spec.cache_key()``.
    progress : str or None
        Description of a progress bar over prompts; None for no bar.
    """

    def __init__(self, loaded, spec, *, batch_size="auto", vocab_chunk="auto", n_jobs=None, n_threads=None, store=None,
                 progress=None):
        self.loaded = loaded
        self.n_threads = n_threads
        self.spec = spec
        self.batch_size = batch_size
        self.vocab_chunk = vocab_chunk
        self.n_jobs = n_jobs
        self.store = store
        self.progress = progress

    def encode(self, prompts):
        return encode_prompts(self.loaded, prompts, **self.spec.encoding)

    def run(self, prompts):
        """Profile prompts (validated strings); return their :class:`ProfileResult`, in input order.

        The tokens and prompt token ids are carried only when every prompt was computed here, not served
        from the cache.
        """
        sampling = self.spec.sampling_seed is not None
        occurrences = occurrence_numbers(prompts)
        seeds = sampling_seeds(prompts, self.spec.sampling_seed) if sampling else [0] * len(prompts)
        spec = self.spec
        layers = spec.layers(self.loaded.n_layers)
        values = np.empty((len(prompts), len(spec.result_statistics), spec.n_tokens, len(layers)), dtype=np.float64)
        tokens = np.full((len(prompts), spec.n_tokens), -1, dtype=np.int64)
        # Identical greedy prompts share one profile; sampled repeats differ by their occurrence number.
        pending, served = {}, 0
        for index, prompt in enumerate(prompts):
            identity = (prompt, occurrences[index] if sampling else None)
            if identity in pending:
                pending[identity].append(index)
                continue
            if self.store is not None:
                cached = self.store.get(self.store.key(*identity))
                if cached is not None and cached.shape == values.shape[1:]:
                    values[index] = cached
                    served += 1
                    _cache.count("cache_hits", 1)
                    continue
                _cache.count("cache_misses", 1)
            pending[identity] = [index]
        prompt_token_ids = None
        if pending:
            identities = list(pending)
            firsts = [pending[identity][0] for identity in identities]
            token_ids = self.encode([prompt for prompt, _ in identities])
            pending_seeds = [seeds[i] for i in firsts]
            plan = plan_profiling(self.loaded, token_ids, spec, batch_size=self.batch_size,
                                  vocab_chunk=self.vocab_chunk)
            # Shards of whole batches of the canonical order, so the batches (and their rounding) are those
            # of a single call wherever a shard runs, and finished profiles reach the cache as they come.
            batches = _batches(canonical_order(token_ids, pending_seeds), plan.batch_size)
            per_shard = 1 if self._decodes_here() else max(1, CHECKPOINT_PROMPTS // plan.batch_size)
            shards = [batches[start : start + per_shard] for start in range(0, len(batches), per_shard)]
            # Decoding here: the runner sets torch's threads for this call (see _threads); workers keep theirs.
            threads, n_threads, reason = (
                threads_for(self.loaded, self.n_threads)
                if self._decodes_here() or len(shards) == 1
                else (contextlib.nullcontext(), None, None)
            )
            description = self.progress
            if description is not None and n_threads is not None:
                description += f", {n_threads} thread{'s' if n_threads > 1 else ''} ({_THREAD_REASONS[reason]})"
            with threads, tqdm(
                total=len(identities), disable=self.progress is None, unit="prompt", desc=description,
                mininterval=0.5, miniters=1,
            ) as bar:
                results = self._run_shards(token_ids, pending_seeds, shards, plan, bar.update)
                for shard, (shard_values, shard_tokens) in zip(shards, results):
                    members = [i for batch in shard for i in batch]
                    _cache.count("computed", len(members))
                    for i, profile, generated in zip(members, shard_values, shard_tokens):
                        identity = identities[i]
                        values[pending[identity]] = profile
                        tokens[pending[identity]] = generated
                        if self.store is not None:
                            self.store.put(self.store.key(*identity), profile)
            if not served:
                by_prompt = {identity: token_ids[i] for i, identity in enumerate(identities)}
                prompt_token_ids = [
                    by_prompt[(prompt, occurrences[index] if sampling else None)] for index, prompt in enumerate(prompts)
                ]
        return ProfileResult(values, spec.result_statistics, layers, None if served else tokens, prompt_token_ids)

    def _decodes_here(self):
        """Whether shards run in this process rather than on joblib's workers."""
        backend = type(joblib.parallel.get_active_backend()[0]).__name__
        # Threads would share one model and its forward hooks; a registered model exists only here.
        return joblib.effective_n_jobs(self.n_jobs) == 1 or backend == "ThreadingBackend" or self.spec.model.local_only

    def _run_shards(self, token_ids, seeds, shards, plan, on_batch):
        """Decode each shard, in order: here, or on joblib's workers; yields ``(values, tokens)`` per shard.

        Each shard's arrays are in the order of its batches. ``on_batch(n)`` reports finished prompts:
        after every batch here, after every shard on workers.
        """
        lens = make_lens(self.loaded.adapter, self.spec.translators)

        def local(shard):
            members = [i for batch in shard for i in batch]
            position = {index: k for k, index in enumerate(members)}
            local_batches = [[position[i] for i in batch] for batch in shard]
            return [token_ids[i] for i in members], [seeds[i] for i in members], local_batches

        if self._decodes_here() or len(shards) == 1:
            return (
                decode_batches(self.loaded, lens, ids, shard_seeds, batches, self.spec, plan, on_batch)
                for ids, shard_seeds, batches in map(local, shards)
            )
        tasks = [local(shard) for shard in shards]
        results = joblib.Parallel(n_jobs=self.n_jobs, return_as="generator")(
            joblib.delayed(profile_shard)(self.spec, ids, shard_seeds, batches, plan)
            for ids, shard_seeds, batches in tasks
        )
        return _reporting(results, [len(ids) for ids, _, _ in tasks], on_batch)
