"""Output-format identification (chat log / poem / scientific piece) from windowed entropy profiles on
the bundled SmolLM2, with the paper's protocol.

The paper profiles 256 greedy tokens in 8 windows; 32 tokens in 4 windows keeps this to a few minutes
on a CPU. Run: ``python examples/format_identification.py`` (about 7 minutes on 2 CPU cores the first
time; profiles are cached in ``examples_cache``). Saves ``examples/figures/formats.png``.
"""

import pathlib

from sklearn_entropylens import run_experiment

result = run_experiment("formats", memory="examples_cache")  # 175 topics x 3 formats
print(result.table.round(3).to_string(index=False))
print(f"formats: {result.summary}\npaper: {result.paper}")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "formats.png", dpi=110)
