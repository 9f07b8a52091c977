import json
import os
import pathlib
import platform

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The workload of shared/PERFORMANCE.md: 8 prompts, 32 greedy tokens, 30 blocks -> (8, 32, 30).
WORKLOAD_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "Water boils at",
    "def fibonacci(n):",
    "The quick brown fox",
    "In 1969, the first humans",
    "My favourite colour is",
    "Photosynthesis is the process",
]
N_TOKENS = 32
RESULTS = {}


@pytest.fixture(scope="session")
def loaded():
    from sklearn_entropylens import load_model

    return load_model("smollm2-135m")


@pytest.fixture(scope="session")
def results():
    return RESULTS


def pytest_sessionfinish(session, exitstatus):
    if not RESULTS:
        return
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    RESULTS["machine"] = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    out = pathlib.Path(__file__).parent / "results" / f"{device}.json"
    out.parent.mkdir(exist_ok=True)
    # A partial run (one test, one module) updates its own entries and keeps the others.
    recorded = json.loads(out.read_text()) if out.exists() else {}
    for key, value in RESULTS.items():
        if isinstance(value, dict) and isinstance(recorded.get(key), dict):
            recorded[key].update(value)
        else:
            recorded[key] = value
    out.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
