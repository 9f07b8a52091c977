"""Profile a built-in handful of prompts on the bundled model and print and save the profiles.

Usage: ``python -m sklearn_entropylens [--model NAME] [--n-tokens N] [--output profiles.csv]``.
"""

import argparse
import sys
import time

DEMO_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):",
    "Write a short poem about the autumn rain.",
    "Question: How many legs does a spider have?\nAnswer:",
    "The mitochondria is the",
    "Simulate a chat log between two friends planning a trip.",
    "",
]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklearn_entropylens", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="bundled name, local path or Hugging Face id")
    parser.add_argument("--n-tokens", type=int, default=32, help="profiled positions per prompt (default 32)")
    parser.add_argument("--output", default="entropy_profiles.csv", help="CSV file for the profiles")
    args = parser.parse_args(argv)

    import numpy as np

    from sklearn_entropylens import EntropyProfileTransformer, ModelLoadError

    started = time.perf_counter()
    profiler = EntropyProfileTransformer(args.model, n_tokens=args.n_tokens).set_output(transform="pandas")
    try:
        profiler.fit(DEMO_PROMPTS)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    loaded_at = time.perf_counter()
    profiles = profiler.transform(DEMO_PROMPTS)
    done = time.perf_counter()
    profiles.insert(0, "prompt", DEMO_PROMPTS)
    profiles.to_csv(args.output, index=False)

    print(
        f"{profiler.model_name_} (revision {profiler.model_revision_}): {profiler.n_layers_} blocks, "
        f"vocabulary {profiler.vocab_size_}, {args.n_tokens} positions per prompt"
    )
    print(f"model ready in {loaded_at - started:.1f} s; {len(DEMO_PROMPTS)} prompts profiled in {done - loaded_at:.1f} s")
    print("mean logit-lens entropy (nats) per block, averaged over positions:")
    print(f"{'prompt':44s} " + " ".join(f"{layer:>4d}" for layer in profiler.layers_[::3]))
    values = profiles.drop(columns="prompt").to_numpy()
    for prompt, row in zip(DEMO_PROMPTS, values):
        label = (prompt or "<empty: BOS only>").replace("\n", " ")[:44]
        print(f"{label:44s} " + " ".join(f"{v:4.1f}" for v in row[::3]))
    mean = values.mean(axis=0)
    print(f"{'mean profile':44s} " + " ".join(f"{v:4.1f}" for v in mean[::3]))
    peak = int(profiler.layers_[np.argmax(mean)])
    print(f"(every third block shown; highest mean entropy at block {peak}) profiles saved to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
