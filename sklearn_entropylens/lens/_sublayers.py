"""Sublayer discovery: the modules whose outputs are what each block's attention and MLP add to the stream."""

import re

import torch

from ._tracing import _as_stream, _close


# Names that say an update to the stream comes from a block's MLP (or mixture of experts) or from its
# attention (or another token mixer: Mamba, RWKV time mixing, convolution, xLSTM).
_MLP_NAMES = re.compile(r"mlp|ffn|feed_?forward|moe|fc2|channel|expert", re.IGNORECASE)
_ATTENTION_NAMES = re.compile(r"attn|attention|mixer|mamba|temporal|lstm|conv|operator|time", re.IGNORECASE)



def _residual_updates(calls, prefix, block_call):
    """The calls inside a block whose outputs are what it adds to its residual stream, in order.

    The stream starts as the block's input ``x``. A call's output ``u`` is an update when ``s + u``, for
    the current stream ``s`` (or ``s`` normalised, in a post-LN block), is a stream some later call in the
    block reads, or the block's output: ``h = x + attention(x)`` is what the MLP's norm reads, ``h + mlp(h)``
    the block's output. When no single call does (GPT-J, Falcon, Phi: attention and MLP in parallel), a
    pair of the block's own children with ``x + a + m`` equal to its output is. Of calls with equal
    outputs the outermost is taken (the attention module, not its output projection). Returns None when
    the updates do not lead from the block's input to its output.
    """
    x, y = block_call.stream_in, block_call.stream_out
    if not torch.is_tensor(x) or not torch.is_tensor(y) or x.shape != y.shape:
        return None
    shape = tuple(y.shape)
    inner = [c for c in calls if block_call.start < c.start and c.end < block_call.end and c.name.startswith(prefix)]
    uses = {}
    for call in inner:
        uses[id(call.module)] = uses.get(id(call.module), 0) + 1
    outputs = []  # one call per distinct non-zero output, the outermost, each module called once in the block
    for call in inner:
        value = _as_stream(call.stream_out, shape)
        if value is None or uses[id(call.module)] != 1 or not bool(value.abs().max() > 0):
            continue
        if not any(torch.equal(value, kept) for _, kept in outputs):
            outputs.append((call, value))
    read = [(c, v) for c in inner if (v := _as_stream(c.stream_in, shape)) is not None]

    def normalised(stream, before):
        """The stream, and its norms (a post-LN block's new stream) computed before call ``before``."""
        return [stream, *(_as_stream(c.stream_out, shape) for c, v in read if c.end < before and torch.equal(v, stream))]

    updates, stream = [], x
    for call, value in outputs:
        later = [v for c, v in read if c.start > call.end] + [y]
        for base in normalised(stream, call.start):
            if base is None:
                continue
            reached = next((target for target in later if _close(base + value, target) and not _close(base, target)), None)
            if reached is not None:
                updates.append(call)
                stream = reached
                break
    if updates and any(base is not None and torch.equal(base, y) for base in normalised(stream, block_call.end)):
        return updates
    children = [(c, v) for c, v in outputs if "." not in c.name[len(prefix):]]
    pairs = [(a, b) for i, (a, u) in enumerate(children) for b, w in children[i + 1:] if _close(x + u + w, y)]
    return list(pairs[0]) if len(pairs) == 1 else None



def _sites_of(updates, prefix):
    """Which site each update is: in a two-update block by order (attention, or the token mixer, then the
    MLP) unless the names say the reverse; a single update, or several, by the module's class and path."""
    paths = [call.name[len(prefix):] for call in updates]
    if len(updates) == 2:
        if _MLP_NAMES.search(paths[0]) and _ATTENTION_NAMES.search(paths[1]):
            return ["mlp", "attention"]
        return ["attention", "mlp"]
    sites = []
    for call, path in zip(updates, paths):
        kind = type(call.module).__name__
        for text, pattern, site in ((kind, _ATTENTION_NAMES, "attention"), (kind, _MLP_NAMES, "mlp"),
                                    (path, _MLP_NAMES, "mlp"), (path, _ATTENTION_NAMES, "attention")):
            if pattern.search(text):
                sites.append(site)
                break
        else:
            sites.append(None)
    return sites



# Names of a block's attention sublayer, for blocks whose updates are no module's output (see
# _named_sublayers), and of its MLP (or mixture of experts), in tiers: a block is read
# by the first tier that names a module in it. A hybrid's token mixer is attention in one block and a
# state-space or convolution layer in another; a block that has both (Falcon-H1) is read at its attention.
SUBLAYER_NAMES = {
    "attention": (
        re.compile(r"(self_?attn|attn|attention|self_attention|linear_attn)"),
        re.compile(r"(mixer|token_mixer|temporal_block|mamba|conv)"),
    ),
    # fc2 is the MLP's output layer in blocks that write their MLP inline (BART, BioGPT, ...).
    "mlp": (
        re.compile(r"(mlp|feed_forward|feedforward|ffn|block_sparse_moe|moe|channel_mixer)"),
        re.compile(r"fc2"),
    ),
}



def _named_sublayers(calls, blocks_path, block_calls):
    """Per site, the one direct child of each block, named like the site, that outputs a residual-width stream.

    The reading of blocks whose updates to the stream are no module's output (scaled by a constant or a
    depth-dependent factor outside any module, as in Falcon-H1 and Beam).

    Returns ``(modules, paths, missing)``: ``{site: tuple of modules}``, ``{site: tuple of paths}`` and
    ``{site: why the site is unavailable}``.
    """
    modules, paths, missing = {}, {}, {}
    width = block_calls[-1].stream_out.shape[-1]
    for site, tiers in SUBLAYER_NAMES.items():
        found = []
        for index, block in enumerate(block_calls):
            prefix = f"{blocks_path}.{index}."
            children = [
                call for call in calls
                if block.start < call.start and call.end < block.end and call.name.startswith(prefix)
                and "." not in call.name[len(prefix):]
                and torch.is_tensor(call.stream_out) and call.stream_out.shape == block.stream_out.shape
            ]
            candidates = next(
                (named for pattern in tiers if (named := [c for c in children if pattern.fullmatch(c.name[len(prefix):])])),
                [],
            )
            if len({id(call.module) for call in candidates}) != 1 or len(candidates) != 1:
                missing[site] = (
                    f"block {index + 1} has {len(candidates)} direct submodule(s) named like an {site} sublayer "
                    "that return a residual-width stream, not one"
                )
                break
            found.append(candidates[0])
        if site not in missing:
            modules[site] = tuple(call.module for call in found)
            paths[site] = tuple(call.name for call in found)
    return modules, paths, missing



def find_sublayers(calls, blocks_path, block_calls):
    """Per site, the module of each block whose output is what its attention (or token mixer) or its MLP
    adds to the residual stream.

    Returns ``(modules, paths, missing)``: ``{site: tuple of modules}``, ``{site: tuple of paths}`` and
    ``{site: why the site is unavailable}``; and how the sites read the blocks: ``"update"`` (what is
    added to the stream) or ``"module output"`` (see :func:`_named_sublayers`).
    """
    per_site = {"attention": [], "mlp": []}
    missing = {}
    for index, block_call in enumerate(block_calls):
        updates = _residual_updates(calls, f"{blocks_path}.{index}.", block_call)
        if updates is None:
            modules, paths, missing = _named_sublayers(calls, blocks_path, block_calls)
            reason = (
                f"no module outputs of block {index + 1} add up to what it adds to its stream (a sublayer "
                "output scaled or gated outside any module, or several streams side by side)"
            )
            return modules, paths, {site: f"{reason}; and {why}" for site, why in missing.items()}, "module output"
        sites = _sites_of(updates, f"{blocks_path}.{index}.")
        for site, found in per_site.items():
            chosen = [call for call, named in zip(updates, sites) if named == site]
            if site in missing:
                continue
            if len(chosen) != 1:
                kinds = ", ".join(f"{call.name[len(blocks_path) + 1:]} ({type(call.module).__name__})" for call in updates)
                missing[site] = f"block {index + 1} adds {len(updates)} update(s) to its stream, {len(chosen)} of them an {site} sublayer: {kinds}"
                continue
            found.append(chosen[0])
    modules, paths = {}, {}
    for site, found in per_site.items():
        if site in missing:
            continue
        if len({id(call.module) for call in found}) != len(found):
            missing[site] = "its modules are shared between blocks"
            continue
        modules[site] = tuple(call.module for call in found)
        paths[site] = tuple(call.name for call in found)
    return modules, paths, missing, "update"
