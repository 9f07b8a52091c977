"""The public tiny models (``sklearn_entropylens.testing``)."""

from sklearn_entropylens import load_model
from sklearn_entropylens.testing import register_tiny_model


def test_a_tiny_models_revision_names_its_seed_and_configuration():
    # The revision is part of the profile cache's key: two different tiny models under one name must not
    # share it, or a memory= cache would serve one model's profiles for the other.
    revisions = {}
    for model_type, overrides in (("llama", {}), ("llama", {"seed": 1}), ("llama", {"n_layers": 4}),
                                  ("llama", {"seed": 1, "n_layers": 4}), ("qwen2", {})):
        name = register_tiny_model(model_type, name="tiny-revision-check", **overrides)
        revisions[(model_type, *sorted(overrides.items()))] = load_model(name).revision
    assert len(set(revisions.values())) == 5, revisions
    again = register_tiny_model("llama", name="tiny-revision-check", n_layers=4)
    assert load_model(again).revision == revisions[("llama", ("n_layers", 4))]
    assert load_model(register_tiny_model("gpt2")).revision == "tiny-gpt2-seed0"
