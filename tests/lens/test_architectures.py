"""Every causal-LM type transformers ships, as a tiny random model: found, verified and exact, or refused.

For each type in ``SUPPORTED_MODEL_TYPES`` the lens is discovered from the model itself and checked at
load (the last block reproduces the model's logits); here every block is also checked against an
independent float64 lens over ``output_hidden_states``, prompts of different lengths are checked to be
batch-invariant, and skipping a block is checked to leave the residual stream unchanged. Every other
type that builds must be refused with a reason; the rest do not build as tiny models from their default
configurations (they are listed, so that a new transformers release shows up here).
"""

import numpy as np
import pytest
import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from sklearn_entropylens import ModelLoadError, clear_model_cache, load_model, register_model, skip_layers
from sklearn_entropylens.lens import SUPPORTED_MODEL_TYPES
from sklearn_entropylens.lens._reference import reference_profiles
from sklearn_entropylens.lens import block_input, block_output, site_stream
from sklearn_entropylens.lens._runner import profile_token_ids
from sklearn_entropylens.models import _spec as _loading
from sklearn_entropylens.testing import make_byte_tokenizer
from tests._helpers import float64_copy, make_any_tiny_model

# Refused, with the reason the error gives.
NO_SINGLE_STREAM = "no list of .* blocks whose outputs, one \\(batch, positions, width\\) residual stream each"
HEAD_NOT_ON_STREAM = "called between the last block and the unembedding, does not take the residual stream"
REFUSED = {
    # Encoders used as decoders: a pooler or the LM head's own dense layer and activation sit between.
    "big_bird": HEAD_NOT_ON_STREAM, "camembert": HEAD_NOT_ON_STREAM, "data2vec-text": HEAD_NOT_ON_STREAM,
    "roberta": HEAD_NOT_ON_STREAM, "roberta-prelayernorm": HEAD_NOT_ON_STREAM,
    "xlm-roberta": HEAD_NOT_ON_STREAM, "xlm-roberta-xl": HEAD_NOT_ON_STREAM,
    "inkling2_text": HEAD_NOT_ON_STREAM,
    # Two streams (XLNet, ProphetNet's n-gram streams, DeepSeek-V4's and HY-V4's hyper-connections),
    # a block list the model runs more than once (HRM), or blocks not called one after another.
    "xlnet": NO_SINGLE_STREAM, "prophetnet": NO_SINGLE_STREAM, "deepseek_v4": NO_SINGLE_STREAM,
    "hy_v4": NO_SINGLE_STREAM, "hrm_text": NO_SINGLE_STREAM, "cpmant": NO_SINGLE_STREAM,
    "blenderbot": NO_SINGLE_STREAM,
    # A computation outside any module between the last block and the unembedding (MiniCPM scales the
    # stream by a constant there).
    "inkling_text": "the unembedding's input is not the output of the modules after the last block",
    "minicpm3": "the unembedding's input is not the output of the modules after the last block",
}
# Verified at load like any model, but the float64 oracle cannot run it (XGLM's sinusoidal positions
# overflow in float64), so it is not listed as supported.
UNCHECKED = {"xglm"}
# Their output_hidden_states start at block 1's output, not at the embeddings.
HIDDEN_STATES_FROM_BLOCK_1 = {"mamba", "falcon_mamba", "rwkv"}
PROMPTS_IDS = [[1, 72, 105, 33, 44], [1, 65]]


def _loaded(model_type):
    return load_model(register_model(f"arch-{model_type}", make_any_tiny_model(model_type), make_byte_tokenizer()))


@pytest.fixture(autouse=True)
def _one_thread_and_no_leftovers():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    before = set(_loading._REGISTRY)
    yield
    torch.set_num_threads(threads)
    # 150 registered models would crowd every "Did you mean" of the suite's later tests.
    for name in set(_loading._REGISTRY) - before:
        del _loading._REGISTRY[name]
    clear_model_cache()


@pytest.mark.parametrize("model_type", SUPPORTED_MODEL_TYPES)
def test_supported_type_is_exact_batch_invariant_and_skippable(model_type):
    loaded = _loaded(model_type)
    sites = ("block", *loaded.adapter.sublayers)  # the attention and MLP sublayers found in its blocks
    together = profile_token_ids(loaded, PROMPTS_IDS, n_tokens=3, batch_size=2, sites=sites)
    expected, _ = reference_profiles(
        loaded, PROMPTS_IDS, 3, model=float64_copy(loaded.model), continuations=together.tokens,
        head_paths=loaded.adapter.paths["head"], hidden_states_start=int(model_type in HIDDEN_STATES_FROM_BLOCK_1),
        site_paths={site: loaded.adapter.paths[site] for site in sites[1:]},
    )
    # Every block, the middle ones included, and every sublayer site, against the float64 lens of the
    # modules found.
    assert together.statistics == tuple(expected)
    np.testing.assert_allclose(together.values, np.stack([expected[name] for name in together.statistics], 1), atol=2e-5)
    for index, ids in enumerate(PROMPTS_IDS):
        alone = profile_token_ids(loaded, [ids], n_tokens=3)
        np.testing.assert_array_equal(alone.tokens[0], together.tokens[index])
        np.testing.assert_allclose(alone["entropy"][0], together["entropy"][index], atol=2e-5)
    with skip_layers(loaded, [2]):
        skipped = profile_token_ids(loaded, PROMPTS_IDS[:1], n_tokens=2)
    # A skipped block passes its input on: its lens equals the previous block's.
    np.testing.assert_allclose(skipped["entropy"][..., 1], skipped["entropy"][..., 0], atol=1e-6)


@pytest.mark.parametrize("model_type, reason", sorted(REFUSED.items()))
def test_other_types_are_refused_with_the_reason(model_type, reason):
    with pytest.raises(ModelLoadError, match=f"model_type '{model_type}'.*{reason}"):
        _loaded(model_type)


# Causal-LM heads on models that are not decoder language models: encoders used as decoders, decoder
# halves of encoder-decoders, speech models. Left out of the share of decoder LMs below.
NOT_DECODER_LMS = {
    "bert", "bert-generation", "big_bird", "camembert", "data2vec-text", "electra", "ernie", "megatron-bert",
    "rembert", "roberta", "roberta-prelayernorm", "roc_bert", "roformer", "xlm-roberta", "xlm-roberta-xl",
    "xlnet", "xmod", "bart", "bigbird_pegasus", "blenderbot", "blenderbot-small", "marian", "mbart", "mvp",
    "pegasus", "plbart", "prophetnet", "trocr", "whisper", "moshi", "moss_transcribe_diarize", "musicgen",
    "musicgen_melody",
}


def test_every_causal_lm_type_that_builds_is_supported_or_refused_and_decoder_lms_are_90_percent_exact():
    classified = set(SUPPORTED_MODEL_TYPES) | set(REFUSED) | UNCHECKED
    unclassified = []
    for model_type in sorted(set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) - classified):
        try:
            make_any_tiny_model(model_type)
        except Exception:
            continue  # does not build as a tiny model from its default configuration
        unclassified.append(model_type)
    assert not unclassified, f"Types that build but are neither supported nor refused here: {unclassified}"
    decoder_lms = classified - NOT_DECODER_LMS
    exact = set(SUPPORTED_MODEL_TYPES) - NOT_DECODER_LMS
    # The claim, not the README's counts of the day (they follow the installed transformers release).
    assert len(exact) / len(decoder_lms) >= 0.9, (len(exact), len(decoder_lms))


# The sites each verified type lacks, and why.
SITES_OF_TYPES_WITHOUT_BOTH = {
    "mamba": {"attention"}, "falcon_mamba": {"attention"},  # a Mamba block is its token mixer: no MLP
    "nemotron_h": set(),  # one sublayer per block: Mamba-2, attention or a mixture of experts
    "qwen4_exp": set(), "qwen4_exp_text": set(),  # hyper-connections: several streams side by side
}
# Their sublayers' outputs are scaled outside any module before they join the stream; the sites read the
# attention and MLP modules' own outputs.
READ_AS_MODULE_OUTPUT = {"beam", "falcon_h1"}
# Blocks that normalise the stream itself: after each addition (post-LN), or before the first (MiniMax
# keeps the normalised input as its residual; RWKV's block 1 normalises the embeddings). Their updates add
# up to what their norms read, not to the block's output.
NORMALISED_STREAM = {
    "bart", "bert", "bert-generation", "blenderbot-small", "electra", "ernie", "git", "marian", "mvp",
    "openai-gpt", "rembert", "roc_bert", "roformer", "trocr", "minimax", "rwkv",
}


def _block_and_site_outputs(model, adapter):
    """Each block's input and output and each site's output, on one float64 forward pass."""
    seen, handles = {}, []

    def keep(key, stream):
        return lambda module, args, kwargs, output: seen.__setitem__(key, stream(args, kwargs, output).detach().clone())

    for index, block in enumerate(model.get_submodule(adapter.paths["blocks"])):
        handles.append(block.register_forward_pre_hook(
            lambda module, args, kwargs, index=index: seen.__setitem__(("in", index), block_input(args, kwargs).clone()),
            with_kwargs=True))
        handles.append(block.register_forward_hook(keep(("out", index), lambda a, k, o: block_output(o)), with_kwargs=True))
        for site in adapter.sublayers:
            module = model.get_submodule(adapter.paths[site][index])
            handles.append(module.register_forward_hook(keep((site, index), lambda a, k, o: site_stream(o, 1)), with_kwargs=True))
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([[1, 5, 9, 20, 7]]), use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def test_sublayer_sites_read_what_each_block_adds_to_its_stream():
    from sklearn_entropylens.lens._adapters import get_adapter

    adds_up, found = [], {}
    for model_type in SUPPORTED_MODEL_TYPES:
        model = make_any_tiny_model(model_type)
        adapter = get_adapter(model)
        found[model_type] = set(adapter.sublayers)
        assert not found[model_type] or (adapter.sublayer_reading == "module output") == (model_type in READ_AS_MODULE_OUTPUT)
        if found[model_type] != {"attention", "mlp"} or model_type in READ_AS_MODULE_OUTPUT:
            continue
        seen = _block_and_site_outputs(float64_copy(model), adapter)
        residual = [
            (seen[("out", i)] - seen[("in", i)] - seen[("attention", i)] - seen[("mlp", i)]).abs().max()
            / seen[("out", i)].abs().max()
            for i in range(adapter.n_layers)
        ]
        if max(residual) < 1e-9:
            adds_up.append(model_type)
    assert {t: s for t, s in found.items() if s != {"attention", "mlp"}} == SITES_OF_TYPES_WITHOUT_BOTH
    # In float64, in every other block layout (sequential, parallel, Gemma's post-norms, MoE), input plus
    # attention plus MLP is the block's output: the sites read exactly what the sublayers add.
    both = set(SUPPORTED_MODEL_TYPES) - set(SITES_OF_TYPES_WITHOUT_BOTH)
    assert both - set(adds_up) == NORMALISED_STREAM | READ_AS_MODULE_OUTPUT


def test_multimodal_gemma3_profiles_text_through_its_language_model():
    loaded = _loaded("gemma3")
    assert type(loaded.model).__name__ == "Gemma3ForConditionalGeneration"
    assert loaded.adapter.paths["blocks"] == "model.language_model.layers"
    assert loaded.adapter.paths["head"] == ("model.language_model.norm",)


@pytest.mark.parametrize("model_type, field, value, logit_scale, softcap", [
    ("granite", "logits_scaling", 4.0, 0.25, None),
    ("cohere", "logit_scale", 0.5, 0.5, None),
    ("gemma2", "final_logit_softcapping", 0.5, None, 0.5),
    ("recurrent_gemma", "logits_soft_cap", 0.5, None, 0.5),
])
def test_post_processing_of_the_logits_is_found_and_exact(model_type, field, value, logit_scale, softcap):
    from transformers import AutoModelForCausalLM

    from sklearn_entropylens.testing import make_tiny_config, TINY_MODEL_TYPES
    from tests._helpers import make_any_tiny_config

    config = make_tiny_config(model_type) if model_type in TINY_MODEL_TYPES else make_any_tiny_config(model_type)
    setattr(config, field, value)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    register_model(f"post-{model_type}", model, make_byte_tokenizer())
    loaded = load_model(f"post-{model_type}")
    assert loaded.adapter.logit_scale == logit_scale and loaded.adapter.softcap == softcap
    result = profile_token_ids(loaded, PROMPTS_IDS, n_tokens=2)
    expected, _ = reference_profiles(loaded, PROMPTS_IDS, 2, model=float64_copy(model), continuations=result.tokens,
                                     head_paths=loaded.adapter.paths["head"])
    np.testing.assert_allclose(result["entropy"], expected["entropy"], atol=2e-5)


def test_models_without_a_usable_cache_or_padding_decode_exactly_without_them():
    mamba, rwkv = _loaded("mamba"), _loaded("rwkv")
    assert not mamba.decoding.kv_cache  # the state-space cache is not a key-value cache
    assert not rwkv.decoding.kv_cache and not rwkv.decoding.padding  # RWKV ignores the attention mask


@pytest.mark.parametrize("model_type, blocks", [
    ("mistral3", "model.language_model.layers"),
    ("llava", "model.language_model.layers"),
    ("idefics3", "model.text_model.layers"),
])
def test_image_text_checkpoints_load_from_disk_and_profile_text_through_their_language_model(model_type, blocks, tmp_path):
    from transformers import AutoModelForImageTextToText

    from tests._helpers import make_any_tiny_config

    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(make_any_tiny_config(model_type), dtype=torch.float32).eval()
    model.save_pretrained(tmp_path)  # a checkpoint that AutoModelForCausalLM does not map
    make_byte_tokenizer().save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert loaded.adapter.paths["blocks"] == blocks
    result = profile_token_ids(loaded, PROMPTS_IDS, n_tokens=2, batch_size=2)
    expected, _ = reference_profiles(loaded, PROMPTS_IDS, 2, model=float64_copy(loaded.model), continuations=result.tokens,
                                     head_paths=loaded.adapter.paths["head"])
    np.testing.assert_allclose(result["entropy"], expected["entropy"], atol=2e-5)
